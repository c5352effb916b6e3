"""The last steps of a solve: partner capacity over the plan, a final insertion pass, and the
reason for every need left unserved, each true against the final plan.

1. Partners: each served need is counted against a partner (``solve.partners``); a need no
   partner has room for leaves its volunteer's day.
2. Insertion: every need still unserved that some volunteer could serve alone is tried in every
   eligible volunteer's final day, urgent first, and goes where it adds least (``insertion``).
3. Reasons, in order: the rules (no partner, skill, language, site closed); no volunteer could
   serve it even on an empty day (no time, too far, no carrying capacity); every partner that
   could take it is full (partner capacity); otherwise it fits nowhere in the final plan:
   ``crowded_out``, or ``not_planned_in_time`` when the search stopped on its time limit.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from kst_match.geo.travel import DEFAULT_PROFILES, TravelModel, haversine_pairs_m
from kst_match.model import Day, Need, Reason, Site, StopKind
from kst_match.solve import weights
from kst_match.solve.alone import alone_verdicts, closest_reason, site_shut
from kst_match.solve.day import DaySolution
from kst_match.solve.insertion import (
    best_insertion,
    insertion_cost,
    insertion_options,
    localised,
)
from kst_match.solve.partners import (
    Key,
    _metres_1,
    assign_partners,
    capacity_left,
    has_room,
)
from kst_match.solve.places import Places
from kst_match.solve.schedule import DEFAULT_RULES, TimeRules, timetable
from kst_match.solve.timed import Timed
from kst_match.solve.vehicles import Vehicle
from kst_match.solve.weights import need_value

# Volunteers weighed together for one need in the final insertion pass, nearest days first;
# the next ring is tried only when the need fits in no day of this one.
INSERTION_RING = 60
# Moving costs in hectometres of travel at 20 km/h; a need that fits nowhere else costs most.
HM_PER_S = 20 / 3.6 / 100
# Every moving cost stays under 1,000, the least gap between two needs' values in the count's
# units (one IMD decile with equity on), so it only ever orders needs of one value. Highest:
# a need that fits nowhere else would go unserved; next, one with its previous volunteer.
NO_MOVE = 990
KEEPS_CONTINUITY = 980
MOVE_CAP = 970

RULE_REASONS = frozenset(
    {Reason.no_partner, Reason.no_skill, Reason.no_language, Reason.site_closed}
)


def finish(
    day: Day,
    vehicles: Sequence[Vehicle],
    travel: TravelModel,
    solution: DaySolution,
    used: Counter[Key] | None = None,
    starved: bool = False,
    rules: TimeRules = DEFAULT_RULES,
    weigh_moves: bool = False,
) -> DaySolution:
    """Partners, the final insertion pass and true reasons for ``solution`` (changed in place
    and returned). ``used``: partner places spent earlier today (re-planning); ``starved``: the
    search stopped on its time limit, so a need that fits nowhere may yet fit with more time;
    ``weigh_moves``: choose the needs that give up partners' places by what moving them costs
    (``_moving``: an insertion tried for each, worth it on a day that is one problem, too slow
    on a large one: 11 s for 805 needs on a 2,000-need day)."""
    tri = solution.triage
    by_id = {v.id: v for v in vehicles}
    belongs = {v.id: v.volunteer.partners for v in vehicles}
    counts = [assign_partners(day, tri, solution.served_by, used)]
    if counts[0][1] and weigh_moves:
        # Which needs give up their places decides what the insertion must move: of needs of
        # one value, those cheapest to move elsewhere go. That is an estimate, one need at a
        # time, so the count without it is settled too and the better plan kept.
        free = capacity_left(day, counts[0][0], used)
        days = _Days(vehicles, solution.routes)
        moving = _moving(day, by_id, travel, solution, counts[0][1], free, rules, days, belongs)
        counts.insert(0, assign_partners(day, tri, solution.served_by, used, moving=moving))
    best: DaySolution | None = None
    for partner_of, homeless in counts:
        trial = _copy(solution) if len(counts) > 1 else solution
        _settle(day, vehicles, by_id, travel, trial, partner_of, homeless, used, rules, belongs)
        if best is None or better(day, trial, best):
            best = trial
    assert best is not None
    if best is not solution:
        vars(solution).update(vars(best))
    left = capacity_left(day, solution.partner_of, used)
    reasons = _reasons(day, vehicles, travel, solution, left, starved, rules)
    solution.unserved = reasons
    return solution


def _rule_reason(day: Day, need: Need, solution: DaySolution, rules: TimeRules) -> Reason | None:
    """A reason found by the rules alone, whatever the plan."""
    rejected = solution.triage.rejected.get(need.id)
    if rejected is not None:
        return rejected
    if need.site and site_shut(need, day.site(need.site), rules):
        return Reason.site_closed
    return None


def _settle(
    day: Day,
    vehicles: Sequence[Vehicle],
    by_id: dict[str, Vehicle],
    travel: TravelModel,
    solution: DaySolution,
    partner_of: dict[str, str],
    homeless: list[str],
    used: Counter[Key] | None,
    rules: TimeRules,
    belongs: dict[str, frozenset[str]],
) -> None:
    """Take the ``homeless`` needs out of their days, then offer every need unserved a place,
    urgent first, where it adds least (``solution`` changed in place)."""
    if homeless:
        _remove(day, by_id, travel, solution, set(homeless), rules)
        # A call taken out with them no longer holds its partner's place.
        partner_of = {n: p for n, p in partner_of.items() if n in solution.served_by}
    solution.partner_of = partner_of
    left = capacity_left(day, partner_of, used)
    known = {x.id for x in day.needs}
    unserved = [
        day.need(n)
        for n in solution.unserved.keys() | set(homeless)
        if n not in solution.served_by and n in known
    ]
    # The most valuable first (urgent first; with equity, the more deprived within a priority).
    unserved.sort(key=lambda n: (-need_value(n, day.equity), n.id))
    unserved = [n for n in unserved if _rule_reason(day, n, solution, rules) is None]
    inserted = 0
    days = _Days(vehicles, solution.routes)
    # Rounds until nothing more fits: a need placed late in a round can make room for one
    # tried earlier (a call made from a visit nearer home leaves time to get home).
    while True:
        placed = [
            n
            for n in unserved
            if _insert(day, n, by_id, travel, solution, left, rules, days, belongs)
        ]
        inserted += len(placed)
        if not placed:
            break
        unserved = [n for n in unserved if n.id not in solution.served_by]
    solution.stats["inserted_after_search"] = inserted
    solution.stats["left_without_partner"] = len(homeless)


def _copy(solution: DaySolution) -> DaySolution:
    """A copy to settle on its own: routes, who serves what and why not (triage shared)."""
    return dataclasses.replace(
        solution,
        routes={vid: [t.copy() for t in stops] for vid, stops in solution.routes.items()},
        served_by=dict(solution.served_by),
        unserved=dict(solution.unserved),
        stats=dict(solution.stats),
        partner_of=dict(solution.partner_of),
    )


def better(day: Day, a: DaySolution, b: DaySolution) -> bool:
    """Is ``a`` better than ``b`` by the objective: needs served by value, then continuity
    kept, then travel?"""

    def key(s: DaySolution) -> tuple[int, float]:
        travel = sum(t.travel_s for stops in s.routes.values() for t in stops)
        kept = sum(1 for n, v in s.served_by.items() if day.need(n).previous_volunteer == v)
        served = sum(need_value(day.need(n), day.equity) for n in s.served_by)
        return served, weights.CONTINUITY * kept - travel

    return key(a) > key(b)


def _moving(
    day: Day,
    by_id: dict[str, Vehicle],
    travel: TravelModel,
    solution: DaySolution,
    homeless: Sequence[str],
    left: Mapping[Key, int | None],
    rules: TimeRules,
    days: _Days,
    belongs: dict[str, frozenset[str]],
) -> dict[str, int]:
    """For the needs that could give up a place to the ``homeless`` ones (of their kind, on
    volunteers of their partners): what moving each to a volunteer of another partner with
    places ``left`` adds to the plan, less what taking it out of its day saves, in
    hectometres of travel at 20 km/h (at least 0). A need that fits nowhere else costs the
    most."""
    crowded = {
        (p, day.need(n).kind)
        for n in homeless
        for p in day.volunteer(solution.served_by[n]).partners
    }
    moving: dict[str, int] = {}
    for vid, stops in solution.routes.items():
        partners = frozenset(day.volunteer(vid).partners)
        for i, stop in enumerate(stops):
            if stop.need is None or stop.kind not in (StopKind.deliver, StopKind.visit):
                continue
            need = day.need(stop.need)
            if not any((p, need.kind) in crowded for p in partners):
                continue
            if need.previous_volunteer == vid:
                moving[need.id] = KEEPS_CONTINUITY
                continue
            best = _best_place(
                day, need, by_id, travel, solution, left, rules, days, belongs, partners
            )
            if best is None:
                moving[need.id] = NO_MOVE
                continue
            saving = 0.0
            if 0 < i < len(stops) - 1:
                a, b = stops[i - 1], stops[i + 1]
                there = _metres_1(a.lon, a.lat, stop.lon, stop.lat) + _metres_1(
                    stop.lon, stop.lat, b.lon, b.lat
                )
                direct = _metres_1(a.lon, a.lat, b.lon, b.lat)
                share = 1 - direct / there if there > 0 else 0.0
                saving = (stop.travel_s + b.travel_s) * share
            cost = int((best[0] - saving) * HM_PER_S)
            moving[need.id] = min(MOVE_CAP, max(0, cost))
    return moving


def _remove(
    day: Day,
    by_id: dict[str, Vehicle],
    travel: TravelModel,
    solution: DaySolution,
    needs: set[str],
    rules: TimeRules,
) -> None:
    """Take ``needs`` out of their volunteers' days. Travel only shrinks, but a call is made
    from wherever the volunteer then is: with a stop gone, a later call may be made further
    from the next stop or from home. Calls that no longer fit are taken out too, last first,
    and go back to the unserved needs for the insertion pass."""
    for vid in {solution.served_by[n] for n in needs}:
        kept = [s for s in solution.routes[vid] if s.need not in needs]
        places = Places(travel, [(s.lon, s.lat) for s in kept])
        kept = localised(kept, places)
        while not timetable(kept, by_id[vid], day, places, rules):
            calls = [i for i, s in enumerate(kept) if s.kind is StopKind.call]
            if not calls:
                raise RuntimeError(f"route of {vid} does not hold once needs are taken out")
            call = kept.pop(calls[-1])
            del solution.served_by[call.need]  # type: ignore[arg-type]
            solution.unserved[call.need] = Reason.crowded_out  # type: ignore[index]
        solution.routes[vid] = kept
    for n in needs:
        del solution.served_by[n]
        solution.unserved[n] = Reason.partner_capacity


class _Days:
    """Every point of every volunteer's day (start, end, stops) as arrays, kept up to date as
    needs are inserted: how near each day comes to a place, for all volunteers at once."""

    def __init__(self, vehicles: Sequence[Vehicle], routes: dict[str, list[Timed]]) -> None:
        self.row = {v.id: k for k, v in enumerate(vehicles)}
        owner: list[int] = []
        points: list[tuple[float, float]] = []
        for k, v in enumerate(vehicles):
            mine = [v.start, v.end, *((s.lon, s.lat) for s in routes.get(v.id) or ())]
            owner += [k] * len(mine)
            points += mine
        self.owner = np.array(owner, dtype=np.int64)
        self.xy = np.array(points, dtype=float).reshape(-1, 2)

    def add(self, vid: str, points: list[tuple[float, float]]) -> None:
        """Points now on ``vid``'s day."""
        self.owner = np.concatenate([self.owner, np.full(len(points), self.row[vid])])
        self.xy = np.concatenate([self.xy, np.array(points, dtype=float).reshape(-1, 2)])

    def metres(self, lon: float, lat: float) -> np.ndarray:
        """Straight-line metres from (lon, lat) to the nearest point of each volunteer's day,
        by the row of ``row``."""
        here = np.broadcast_to(np.array([lon, lat]), self.xy.shape)
        near = np.full(len(self.row), np.inf)
        np.minimum.at(near, self.owner, haversine_pairs_m(self.xy, here))
        return near


def _insert(
    day: Day,
    need: Need,
    by_id: dict[str, Vehicle],
    travel: TravelModel,
    solution: DaySolution,
    left: dict[Key, int | None],
    rules: TimeRules,
    days: _Days,
    belongs: dict[str, frozenset[str]],
) -> bool:
    """Put ``need`` where it adds least to the final plan, if it fits anywhere
    (``_best_place``)."""
    best = _best_place(day, need, by_id, travel, solution, left, rules, days, belongs)
    if best is None:
        return False
    _, vid, partner, route = best
    site = day.site(need.site) if need.site else None
    solution.routes[vid] = route
    solution.served_by[need.id] = vid
    solution.partner_of[need.id] = partner
    solution.unserved.pop(need.id, None)
    days.add(vid, [(need.lon, need.lat)] + ([(site.lon, site.lat)] if site else []))
    room = left.get((partner, need.kind))
    if room is not None:
        left[(partner, need.kind)] = room - 1
    return True


def _best_place(
    day: Day,
    need: Need,
    by_id: dict[str, Vehicle],
    travel: TravelModel,
    solution: DaySolution,
    left: Mapping[Key, int | None],
    rules: TimeRules,
    days: _Days,
    belongs: dict[str, frozenset[str]],
    outside: frozenset[str] = frozenset(),
) -> tuple[float, str, str, list[Timed]] | None:
    """Where ``need`` adds least to the plan: (cost, volunteer, partner, their new day), or
    ``None`` if it fits nowhere; volunteers of the partners in ``outside`` are left out.

    The volunteers who may take it are tried a ring of ``INSERTION_RING`` at a time, the
    nearest days first (``_nearest_days``; a call, which adds no travel, in order of cost):
    the cheapest insertion in the first ring where it fits anywhere wins. On a large day a
    visit or delivery is not weighed against every route of the borough. ``days``: the
    points of every day; ``belongs``: volunteer -> partners."""
    tri = solution.triage
    partners = [p for p in tri.partners.get(need.id, ()) if has_room(left, (p, need.kind))]
    eligible: list[tuple[Vehicle, str]] = []
    for vid in tri.volunteers.get(need.id, ()) if partners else ():
        v = by_id.get(vid)
        mine = belongs.get(vid, frozenset())
        if v is None or not outside.isdisjoint(mine):
            continue
        partner = next((p for p in partners if p in mine), None)
        if partner is not None:
            eligible.append((v, partner))
    if not eligible:
        return None
    site = day.site(need.site) if need.site else None
    if need.kind.is_call:
        # A call adds no travel: the first that can take it by (cost, id) is the cheapest of
        # all, so rings in that order give the same volunteer as trying everyone.
        eligible.sort(key=lambda e: (insertion_cost(need, e[0], 0.0), e[0].id))
    elif len(eligible) > INSERTION_RING:
        eligible = _nearest_days(need, site, eligible, days)
    for k in range(0, len(eligible), INSERTION_RING):
        best = _cheapest(day, need, site, eligible[k : k + INSERTION_RING], travel, solution, rules)
        if best is not None:
            return best
    return None


def _nearest_days(
    need: Need, site: Site | None, eligible: list[tuple[Vehicle, str]], days: _Days
) -> list[tuple[Vehicle, str]]:
    """``eligible`` by how near their day comes to the need (and to its site, for a delivery):
    straight-line seconds at the default speed of each one's mode from the nearest of their
    start, end and stops; ties by id. Only an order for trying them, not a travel time."""
    near = days.metres(need.lon, need.lat)
    if site is not None:
        near = near + days.metres(site.lon, site.lat)
    rows = [days.row[v.id] for v, _ in eligible]
    speed = [DEFAULT_PROFILES[v.transport].speed_ms for v, _ in eligible]
    seconds = near[rows] / np.array(speed)
    order = sorted(range(len(eligible)), key=lambda k: (seconds[k], eligible[k][0].id))
    return [eligible[k] for k in order]


def _cheapest(
    day: Day,
    need: Need,
    site: Site | None,
    eligible: list[tuple[Vehicle, str]],
    travel: TravelModel,
    solution: DaySolution,
    rules: TimeRules,
) -> tuple[float, str, str, list[Timed]] | None:
    """The cheapest feasible insertion of ``need`` into the days of ``eligible`` (volunteer,
    partner): (cost, volunteer, partner, new route), or None. Each day is weighed with its own
    small travel matrix (its stops, the need and its site)."""
    here = [(need.lon, need.lat)] + ([(site.lon, site.lat)] if site else [])
    # First who could serve it alone (small matrices, nearest first), then their days.
    verdicts = alone_verdicts(need, [v for v, _ in eligible], travel, site, rules)
    # Volunteers by the cheapest their day could possibly take it; the search stops once that
    # bound is no better than an insertion found (the best is still the cheapest of all).
    candidates = []
    for v, partner in eligible:
        if verdicts[v.id] is not None:
            continue
        route = solution.routes.get(v.id)
        places = Places(travel, [*here, v.start, v.end, *((s.lon, s.lat) for s in route or ())])
        stops = localised(route or _empty(v, places), places)
        options = insertion_options(need, v, stops, day, places)
        if options:
            bound = insertion_cost(need, v, options[0][0])
            candidates.append((bound, v.id, v, partner, stops, options, places))
    candidates.sort(key=lambda c: (c[0], c[1]))
    best: tuple[float, str, str, list[Timed]] | None = None
    for bound, _, v, partner, stops, options, places in candidates:
        if best is not None and (bound, v.id) >= (best[0], best[1]):
            break
        found = best_insertion(need, v, stops, day, places, rules, options)
        if found is None:
            continue
        cost = insertion_cost(need, v, found[0])
        if best is None or (cost, v.id) < (best[0], best[1]):
            best = (cost, v.id, partner, found[1])
    return best


def _empty(v: Vehicle, places: Places) -> list[Timed]:
    a, b = places[v.start], places[v.end]
    stops = [
        Timed(StopKind.start, a, v.start[0], v.start[1]),
        Timed(StopKind.end, b, v.end[0], v.end[1]),
    ]
    return stops


def _reasons(
    day: Day,
    vehicles: Sequence[Vehicle],
    travel: TravelModel,
    solution: DaySolution,
    left: dict[Key, int | None],
    starved: bool,
    rules: TimeRules,
) -> dict[str, Reason]:
    """Why each need the final plan does not serve is unserved."""
    tri = solution.triage
    by_id = {v.id: v for v in vehicles}
    open_needs = [n for n in day.needs if n.id not in solution.served_by]
    reasons: dict[str, Reason] = {}
    for need in open_needs:
        earlier = solution.unserved.get(need.id)
        if earlier in RULE_REASONS:
            reasons[need.id] = earlier
            continue
        rule = _rule_reason(day, need, solution, rules)
        if rule is not None:
            reasons[need.id] = rule
            continue
        candidates = [by_id[v] for v in tri.volunteers.get(need.id, ()) if v in by_id]
        if not candidates:
            reasons[need.id] = Reason.volunteer_unavailable
            continue
        site = day.site(need.site) if need.site else None
        found = alone_verdicts(need, candidates, travel, site, rules, first_able=True)
        if all(r is not None for r in found.values()):
            reasons[need.id] = closest_reason(list(found.values()))  # type: ignore[arg-type]
            continue
        if not any(has_room(left, (p, need.kind)) for p in tri.partners.get(need.id, ())):
            reasons[need.id] = Reason.partner_capacity
            continue
        reasons[need.id] = Reason.not_planned_in_time if starved else Reason.crowded_out
    return reasons
