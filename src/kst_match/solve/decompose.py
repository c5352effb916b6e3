"""A day's solve: one problem, or by neighbourhood for a large day; then a repair.

A borough day is one problem while it is small. A larger one is cut into the council's
neighbourhoods: the needs of each, with the volunteers who start there. Triage (and so partner
capacity) stays borough-wide. The areas are solved side by side in worker processes; then the
needs an area could not serve go to a repair solve with the nearest volunteers from anywhere
who could serve them, together with those volunteers' routes so far (kept where they are unless
moving them serves more).

Where partners' places can run out on a day that is one problem, under a time limit, a first
solve free of them (``PROBE_SHARE`` of the limit, mostly VROOM's start) only says who would
serve what; the partner count over it gives each need a partner, and the day is then solved
again from scratch with each need bound to volunteers whose partner keeps its place
(``_within_places``): the warm start and the search then route within the places, where a
free plan loses the needs the count takes off it (on the bundled day 40 to 60, each put back
at about 10 minutes of travel). Under a limit shorter than ``FRESH_FROM_S`` there is time for
one warm start only, the probe's: the bound search starts from the probe's finished routes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from kst_match.cores import usable_cores
from kst_match.geo.areas import Areas
from kst_match.geo.travel import TravelModel
from kst_match.model import Day, Need, Reason, Transport
from kst_match.solve.alone import alone_verdicts, closest_reason
from kst_match.solve.day import DaySolution, Progress, hint_of, solve_day
from kst_match.solve.finish import RULE_REASONS, better, finish
from kst_match.solve.partners import admit, bind, places_can_run_out
from kst_match.solve.places import Places
from kst_match.solve.schedule import DEFAULT_RULES, TimeRules
from kst_match.solve.stop import StoppingCriterion
from kst_match.solve.vehicles import Vehicle
from kst_match.solve.weights import need_value
from kst_match.triage import Triage, triage

# A day that is one problem, where partners' places can run out, under a time limit: the share
# of the limit the first solve takes (free of partners' places, to find who would serve what);
# the solve bound to partners' places (``_within_places``) takes the rest.
PROBE_SHARE = 0.4
# The shortest time limit, seconds, under which the day is solved again from scratch. Under a
# shorter one there is time for one warm start only: the search bound to the places starts
# from the probe's finished routes, and has the rest of the limit to put in the needs they
# lack (at 2 s on the bundled day, 398 served in each of 4 runs beside two busy processes;
# when the probe's warm start took the whole limit, the bound search starved and 396 to 398
# were served, the plan ending at 3 s).
FRESH_FROM_S = 5.0
# Days with fewer needs than this are one problem: splitting them loses more choice than it
# saves search.
DECOMPOSE_FROM = 1000
# Needs per area at most: a size the routing search handles well in a few seconds.
AREA_NEEDS = 250
# Under a time rule the areas share this part of the time left when they start; the repair's
# batches share the rest, up to the limit, so that the plan ends near its limit.
AREAS_SHARE = 0.7
# The repair works on batches of at most REPAIR_NEEDS needs, each offered to the nearest
# REPAIR_VEHICLES_PER_NEED volunteers able to serve it, at most REPAIR_FLEET in a batch.
REPAIR_NEEDS = 100
REPAIR_VEHICLES_PER_NEED = 6
REPAIR_FLEET = 80
# A volunteer among at most SCARCE able to serve a need also brings, for each need they
# already have, TAKE_OVER_VEHICLES others who could take it over.
SCARCE = 3
TAKE_OVER_VEHICLES = 2


def solve(
    day: Day,
    vehicles: Sequence[Vehicle],
    travel: TravelModel,
    stop: StoppingCriterion,
    progress: Progress | None = None,
    workers: int | None = None,
    clock: float | None = None,
    rules: TimeRules = DEFAULT_RULES,
    areas: bool = True,
) -> DaySolution:
    """The day's solution: one problem when small, by area when large; then the needs left
    crowded out (or left by the areas) are offered again, with room made for them; then
    partner capacity, a final insertion pass and true reasons (``kst_match.solve.finish``).

    ``stop`` rules every search; a time rule counts from ``clock`` (default: now), and the
    areas solved side by side share what is left of the wall time by their size. ``areas``:
    cut a day of ``DECOMPOSE_FROM`` needs or more into areas; ``False`` solves any day as one
    problem (to compare the two; a whole large day takes far longer to start)."""
    say = progress or (lambda _msg: None)
    clock = time.monotonic() if clock is None else clock
    workers = workers or usable_cores()
    groups = _by_area(day, vehicles) if areas and len(day.needs) >= DECOMPOSE_FROM else {}
    say("triage")
    tri = triage(day)
    # Partners' places first: routing plans only needs a partner can take.
    refused = {n: Reason.partner_capacity for n in admit(day, tri)}
    if refused:
        say(f"{len(refused)} needs without a partner's place today")
    whole = len([g for g in groups.values() if g[0]]) < 2
    # A day that is one problem where partners' places can run out is solved twice (free, then
    # bound to the places: ``_within_places``). Only under a time limit, which the two share:
    # under an iteration rule there is no warm start, and the second solve would build the
    # model and the last steps again (the grid of 100 scenarios took 604 s with a second
    # search, 368 s without).
    scarce = whole and stop.seconds is not None and places_can_run_out(day, tri)
    probe: DaySolution | None = None  # the free plan of a scarce day, finished
    if whole:
        places = Places.of(travel, day, day.needs, vehicles).detached(_modes(vehicles))
        if scarce:
            probe = _probe(day, vehicles, places, travel, stop, clock, refused, tri, workers, rules)
            solution = _within_places(
                day, vehicles, places, probe, stop, clock, progress, tri, workers, rules
            )
        else:
            solution = solve_day(
                day,
                vehicles,
                places,
                stop,
                clock,
                exclude=refused,
                progress=progress,
                tri=tri,
                workers=workers,
                rules=rules,
            )
    else:
        total = sum(len(needs) for needs, _ in groups.values())
        left = _left(stop, clock)
        tasks = []
        for needs, area_vehicles in groups.values():
            needs = [n for n in needs if n.id not in refused]
            if not needs:
                continue
            area = day.model_copy(update={"needs": tuple(needs)})
            places = Places.of(travel, area, needs, area_vehicles).detached(_modes(area_vehicles))
            # Each area's share of the wall time left, by its size, the workers side by side.
            share = stop.share(AREAS_SHARE * left * min(1.0, workers * len(needs) / total))
            part_tri = tri.restricted((n.id for n in needs), (v.id for v in area_vehicles))
            tasks.append((area, area_vehicles, places, share, part_tri, rules))
        say(f"solving {len(tasks)} neighbourhoods side by side")
        # The largest areas first, so that no worker is left with a large one at the end;
        # merged in the areas' own order, which the repair's choices follow.
        order = sorted(range(len(tasks)), key=lambda k: (-len(tasks[k][0].needs), k))
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                done = list(pool.map(_solve_area, [tasks[k] for k in order]))
        else:
            done = [_solve_area(tasks[k]) for k in order]
        parts = [part for _, part in sorted(zip(order, done, strict=True), key=lambda p: p[0])]
        solution = _merge(parts, tri)
        solution.unserved.update(refused)
        # Vehicles in no area with needs still take part in the repair, with empty days.
        for v in vehicles:
            solution.routes.setdefault(v.id, [])
    if any(r is Reason.crowded_out for r in solution.unserved.values()):
        say("making room for the needs crowded out")
        solution = _repair(day, vehicles, travel, solution, tri, stop, clock, progress, rules)
    # Needs that fit nowhere are ``not_planned_in_time`` rather than crowded out when a search
    # (the day's, an area's or a repair's) was stopped by the clock before any improvement.
    starved = bool(solution.stats.get("starved"))
    say("partner capacity and a last insertion pass")
    solution = finish(
        day,
        vehicles,
        travel,
        solution,
        starved=starved,
        rules=rules,
        weigh_moves=whole and len(day.needs) < DECOMPOSE_FROM,
    )
    if probe is not None and better(day, probe, solution):
        probe.stats["kept_free_plan"] = 1
        return probe
    return solution


def _probe(
    day: Day,
    vehicles: Sequence[Vehicle],
    places: Places,
    travel: TravelModel,
    stop: StoppingCriterion,
    clock: float,
    exclude: dict[str, Reason],
    tri: Triage,
    workers: int,
    rules: TimeRules,
) -> DaySolution:
    """The day solved free of partners' places in ``PROBE_SHARE`` of ``stop`` (mostly the warm
    start), then finished: the partner count takes off it the needs whose partner has no place
    left, those cheapest to move first, and the last insertion pass puts back what fits."""
    probe = solve_day(
        day,
        vehicles,
        places,
        stop.split(PROBE_SHARE)[0],
        clock,
        exclude=exclude,
        tri=tri,
        workers=workers,
        rules=rules,
    )
    return finish(
        day,
        vehicles,
        travel,
        probe,
        starved=bool(probe.stats.get("starved")),
        rules=rules,
        weigh_moves=True,
    )


def _within_places(
    day: Day,
    vehicles: Sequence[Vehicle],
    places: Places,
    probe: DaySolution,
    stop: StoppingCriterion,
    clock: float,
    progress: Progress | None,
    tri: Triage,
    workers: int,
    rules: TimeRules,
) -> DaySolution:
    """The day solved again from scratch, warm start included, until ``stop`` fires, each need
    bound to the volunteers of the partner the ``probe``'s count gives it (and of partners
    whose places cannot run out; ``partners.bind``), the places left going to the needs the
    probe left unserved. No need routed then can be taken off by the count. With less than
    ``FRESH_FROM_S`` left, the search starts from the probe's routes."""
    say = progress or (lambda _msg: None)
    waiting = [n for n, r in probe.unserved.items() if r not in RULE_REASONS]
    allowed, placeless = bind(day, tri, probe.served_by, waiting)
    hint = None
    if not _fresh(stop):
        hint = {vid: hint_of(stops) for vid, stops in probe.routes.items()}
    say("routing within partners' places")
    solution = solve_day(
        day,
        vehicles,
        places,
        stop,
        clock,
        exclude={n: Reason.partner_capacity for n in placeless},
        hint=hint,
        progress=progress,
        tri=tri,
        workers=workers,
        rules=rules,
        allowed=allowed,
    )
    solution.stats["probe_travel_s"] = round(_travel(probe), 1)
    return solution


def _fresh(stop: StoppingCriterion) -> bool:
    """Is there time to solve a scarce day again from scratch after its probe?"""
    return stop.seconds is not None and stop.seconds >= FRESH_FROM_S


def _travel(solution: DaySolution) -> float:
    """Seconds travelled over every route."""
    return sum(s.travel_s for stops in solution.routes.values() for s in stops)


def _left(stop: StoppingCriterion, clock: float) -> float:
    """The share of a time rule's budget not yet spent since ``clock`` (1 for rules that do
    not count time): triage and travel before the areas start come out of their time."""
    if stop.seconds is None:
        return 1.0
    return max(0.0, 1.0 - (time.monotonic() - clock) / stop.seconds)


def _modes(vehicles: Sequence[Vehicle]) -> set[Transport]:
    return {v.transport for v in vehicles}


def _by_area(day: Day, vehicles: Sequence[Vehicle]) -> dict[str, tuple[list[Need], list[Vehicle]]]:
    """Needs and the volunteers who start near them, by area.

    Areas are the council's neighbourhoods; one with more than ``AREA_NEEDS`` needs is split
    into its wards, and a ward with more into parts cut across its longer side. A volunteer
    belongs to the area of their start's ward, or the nearest part of it.
    """
    areas = Areas.default()
    neighbourhood = {code: name for name, codes in areas.neighbourhoods.items() for code in codes}
    by_ward: dict[str, list[Need]] = defaultdict(list)
    for need in day.needs:
        by_ward[need.ward or ""].append(need)
    starts = areas.locate_many([v.start[0] for v in vehicles], [v.start[1] for v in vehicles])
    vehicles_by_ward: dict[str, list[Vehicle]] = defaultdict(list)
    for vehicle, place in zip(vehicles, starts, strict=True):
        vehicles_by_ward[place.ward_code if place else ""].append(vehicle)

    groups: dict[str, tuple[list[Need], list[Vehicle]]] = {}
    wards_of: dict[str, list[str]] = defaultdict(list)
    for ward in by_ward.keys() | vehicles_by_ward.keys():
        wards_of[neighbourhood.get(ward, "")].append(ward)
    for name, wards in sorted(wards_of.items()):
        size = sum(len(by_ward[w]) for w in wards)
        if size <= AREA_NEEDS:
            groups[name] = (
                [n for w in sorted(wards) for n in by_ward[w]],
                [v for w in sorted(wards) for v in vehicles_by_ward[w]],
            )
            continue
        for ward in sorted(wards):
            for k, part in enumerate(_split(by_ward[ward], vehicles_by_ward[ward])):
                groups[f"{name}/{ward}/{k}"] = part
    return groups


def _split(needs: list[Need], vehicles: list[Vehicle]) -> list[tuple[list[Need], list[Vehicle]]]:
    """Cut needs across the longer side of their box until each part has at most
    ``AREA_NEEDS``; each vehicle joins the part whose needs' centre is nearest its start."""
    parts = [needs]
    while any(len(p) > AREA_NEEDS for p in parts):
        big = max(parts, key=len)
        parts.remove(big)
        lons, lats = [n.lon for n in big], [n.lat for n in big]
        # Degrees of longitude are about 0.62 of a degree of latitude at Kingston's latitude.
        axis = 0 if (max(lons) - min(lons)) * 0.62 > max(lats) - min(lats) else 1
        big = sorted(big, key=lambda n: (n.lon, n.lat)[axis])
        parts += [big[: len(big) // 2], big[len(big) // 2 :]]
    if not parts[0]:
        return [(needs, vehicles)]
    centres = [(sum(n.lon for n in p) / len(p), sum(n.lat for n in p) / len(p)) for p in parts]
    fleets: list[list[Vehicle]] = [[] for _ in parts]
    for v in vehicles:
        nearest = min(
            range(len(parts)),
            key=lambda k: (
                ((v.start[0] - centres[k][0]) * 0.62) ** 2 + (v.start[1] - centres[k][1]) ** 2
            ),
        )
        fleets[nearest].append(v)
    return list(zip(parts, fleets, strict=True))


def _solve_area(
    task: tuple[Day, list[Vehicle], Places, StoppingCriterion, Triage, float],
) -> DaySolution:
    """One area on its own clock (in a worker process: one worker, no threads inside)."""
    day, vehicles, places, stop, tri, rules = task
    part = solve_day(day, vehicles, places, stop, tri=tri, rules=rules)
    # No able volunteer in this area is not none anywhere: the repair looks across borders.
    for need_id, reason in part.unserved.items():
        if reason is Reason.volunteer_unavailable:
            part.unserved[need_id] = Reason.crowded_out
    part.triage = Triage({}, {})  # the whole day's triage is the parent's: nothing to send back
    return part


def _merge(parts: Sequence[DaySolution], tri: Triage) -> DaySolution:
    merged = DaySolution(routes={}, served_by={}, unserved={}, triage=tri)
    for part in parts:
        merged.routes.update(part.routes)
        merged.served_by.update(part.served_by)
        merged.unserved.update(part.unserved)
        for key, value in part.stats.items():
            if isinstance(value, int | float):
                merged.stats[key] = round(float(merged.stats.get(key, 0)) + value, 3)
    merged.stats["areas"] = len(parts)
    return merged


def _repair(
    day: Day,
    vehicles: Sequence[Vehicle],
    travel: TravelModel,
    merged: DaySolution,
    tri: Triage,
    stop: StoppingCriterion,
    clock: float,
    progress: Progress | None,
    rules: TimeRules,
) -> DaySolution:
    """Offer the needs left crowded out to the nearest able volunteers anywhere, a batch of
    at most ``REPAIR_NEEDS`` at a time, nearby needs together. Each batch builds a complete
    first solution whatever the time; its improvement stops by the plan's rule, a time rule
    shared equally by the batches left (one that has run out leaves only first solutions)."""
    open_needs = sorted(
        (
            day.need(n)
            for n, reason in merged.unserved.items()
            if reason not in RULE_REASONS and reason is not Reason.partner_capacity
        ),
        key=lambda n: (n.ward or "", n.lon, n.lat),
    )
    batches = [open_needs[i : i + REPAIR_NEEDS] for i in range(0, len(open_needs), REPAIR_NEEDS)]
    by_id = {v.id: v for v in vehicles}
    for k, batch in enumerate(batches):
        # Each batch's search has an equal part of what is left of a time rule, on its clock.
        share = stop.share(_left(stop, clock) / (len(batches) - k))
        now = time.monotonic()
        _repair_batch(day, by_id, travel, merged, tri, batch, share, now, progress, rules)
    merged.stats["repair_needs"] = len(open_needs)
    # Empty days of vehicles that never got work are not routes.
    for vid, stops in list(merged.routes.items()):
        if not stops:
            del merged.routes[vid]
    return merged


def _able(
    day: Day, needs: Sequence[Need], by_id: dict[str, Vehicle], tri: Triage, travel: TravelModel
) -> dict[str, tuple[list[str], list[Reason]]]:
    """For each need: the nearest volunteers able to serve it alone, nearest first (at least
    the ``REPAIR_VEHICLES_PER_NEED`` nearest when there are so many; all when fewer), and the
    reasons of the qualified others tried (all of them when none is able). The volunteers
    further than the chunk that gives enough are not tried: the repair takes the nearest."""
    enough = max(REPAIR_VEHICLES_PER_NEED, TAKE_OVER_VEHICLES, SCARCE + 1)
    result: dict[str, tuple[list[str], list[Reason]]] = {}
    for need in needs:
        site = day.site(need.site) if need.site else None
        qualified = [by_id[v] for v in tri.volunteers[need.id] if v in by_id]
        verdicts = alone_verdicts(need, qualified, travel, site, enough=enough)
        able = [vid for vid, r in verdicts.items() if r is None]
        result[need.id] = (able, [r for r in verdicts.values() if r is not None])
    return result


def _repair_batch(
    day: Day,
    by_id: dict[str, Vehicle],
    travel: TravelModel,
    merged: DaySolution,
    tri: Triage,
    batch: list[Need],
    stop: StoppingCriterion,
    clock: float,
    progress: Progress | None,
    rules: TimeRules,
) -> None:
    chosen: set[str] = set()
    scarce: set[str] = set()
    repairable: list[Need] = []
    verdicts = _able(day, batch, by_id, tri, travel)
    for need in batch:
        able, reasons = verdicts[need.id]
        if not able:
            merged.unserved[need.id] = (
                closest_reason(reasons) if reasons else Reason.volunteer_unavailable
            )
            continue
        # Past the fleet's size each need still brings its nearest able volunteer.
        chosen.update(able[: REPAIR_VEHICLES_PER_NEED if len(chosen) < REPAIR_FLEET else 1])
        if len(able) <= SCARCE:
            scarce.update(able)
        repairable.append(need)
    if not repairable:
        return
    # Volunteers who could take over a scarce volunteer's other work come too, so that it can
    # move and make room for the needs only that volunteer can serve.
    held = [day.need(n) for n, vid in merged.served_by.items() if vid in scarce]
    for able, _ in _able(day, held, by_id, tri, travel).values():
        if len(chosen) >= REPAIR_FLEET:
            break
        chosen.update(able[:TAKE_OVER_VEHICLES])

    # The chosen volunteers' work so far comes along, kept with them unless moving it serves
    # more. The search starts afresh (cheapest insertion inserts needs far better than local
    # search from the old routes); the preference to keep keeps the routes close to before.
    theirs = {n for n, vid in merged.served_by.items() if vid in chosen}
    needs = [n for n in day.needs if n.id in theirs] + repairable
    sub = day.model_copy(update={"needs": tuple(needs)})
    fleet = [by_id[vid] for vid in sorted(chosen)]
    keep = {n: merged.served_by[n] for n in theirs}
    sub_places = Places.of(travel, day, needs, fleet)
    fixed = solve_day(
        sub,
        fleet,
        sub_places,
        stop,
        clock,
        keep=keep,
        progress=progress,
        tri=tri,
        rules=rules,
    )
    if fixed.stats.get("starved"):
        merged.stats["starved"] = 1
    merged.stats["repair_routing_time_s"] = round(
        float(merged.stats.get("repair_routing_time_s", 0)) + float(fixed.stats["routing_time_s"]),
        3,
    )
    # A repair that serves less (by priority) than the routes it would replace is dropped.
    if _worth(day, fixed.served_by) <= _worth(day, {n: "" for n in theirs}):
        for need in repairable:  # some volunteer could serve each alone
            merged.unserved[need.id] = Reason.crowded_out
        return
    for vid in chosen:
        merged.routes[vid] = fixed.routes[vid]
    for n in theirs:
        del merged.served_by[n]
    merged.served_by.update(fixed.served_by)
    for need in needs:
        if need.id in fixed.served_by:
            merged.unserved.pop(need.id, None)
        else:  # some volunteer could serve it alone (that is how it came here)
            merged.unserved[need.id] = Reason.crowded_out


def _worth(day: Day, served: dict[str, str]) -> int:
    """Needs served, weighted by priority (and deprivation, with equity) as the objective
    weighs them."""
    return sum(need_value(day.need(n), day.equity) for n in served)
