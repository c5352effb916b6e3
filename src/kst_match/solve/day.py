"""One solve of a day (or of the rest of one): triage, pruning, routing, calls, reasons."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kst_match.model import Day, Need, Reason, Stop, StopKind
from kst_match.solve import weights
from kst_match.solve.alone import alone, closest_reason, site_shut
from kst_match.solve.calls import assign_calls, insert_calls
from kst_match.solve.places import Places
from kst_match.solve.routing import Job, solve_routes_best
from kst_match.solve.schedule import DEFAULT_RULES, TimeRules
from kst_match.solve.stop import StoppingCriterion
from kst_match.solve.timed import Timed
from kst_match.solve.vehicles import Vehicle
from kst_match.triage import Triage, triage

# Vehicles offered each routed need: the nearest that could serve it alone (plus any the need
# prefers). Enough choice for the search, and the model stays small on big days.
MAX_VEHICLES_PER_NEED = 40

Progress = Callable[[str], None]


@dataclass
class DaySolution:
    """Timed routes for every vehicle, who serves what, and why the rest is unserved."""

    routes: dict[str, list[Timed]]
    served_by: dict[str, str]  # need id -> volunteer id
    unserved: dict[str, Reason]
    triage: Triage
    stats: dict[str, float | int | str] = field(default_factory=dict)
    partner_of: dict[str, str] = field(default_factory=dict)  # need id -> partner id


def solve_day(
    day: Day,
    vehicles: Sequence[Vehicle],
    places: Places,
    stop: StoppingCriterion,
    clock: float | None = None,
    keep: dict[str, str] | None = None,
    exclude: dict[str, Reason] | None = None,
    hint: dict[str, list[tuple[StopKind, str]]] | None = None,
    progress: Progress | None = None,
    tri: Triage | None = None,
    workers: int = 1,
    rules: TimeRules = DEFAULT_RULES,
    allowed: Mapping[str, frozenset[str]] | None = None,
) -> DaySolution:
    """Plan ``day.needs`` over ``vehicles``: routes first, then calls in the gaps.

    ``stop``: when the routing search stops improving (a first solution is always complete);
    ``clock``: when the plan started (``time.monotonic()``), for time rules; ``keep``: need ->
    volunteer it had before (a re-plan keeps it there where it can); ``exclude``: needs not to
    plan, with why; ``tri``: triage already made for a larger day this one is part of;
    ``workers``: processes the routing search may use; ``allowed``: need -> the only
    volunteers it may go to (partners' places, ``kst_match.solve.partners.bind``). Partner
    capacity and the final reasons are settled afterwards over the whole day
    (``kst_match.solve.finish``).
    """
    say = progress or (lambda _msg: None)
    clock = time.monotonic() if clock is None else clock
    keep = keep or {}
    exclude = exclude or {}
    if tri is None:
        say("triage")
        tri = triage(day)
    unserved: dict[str, Reason] = dict(exclude)
    index = {v.id: i for i, v in enumerate(vehicles)}

    routed: list[Job] = []
    calls: list[Job] = []
    say("checking who could serve each need alone")
    for need in day.needs:
        if need.id in unserved:
            continue
        if need.id in tri.rejected:
            unserved[need.id] = tri.rejected[need.id]
            continue
        site = day.site(need.site) if need.site else None
        if site is not None and site_shut(need, site, rules):
            unserved[need.id] = Reason.site_closed
            continue
        mine = allowed.get(need.id) if allowed else None
        candidates = [
            index[v] for v in tri.volunteers[need.id] if v in index and (mine is None or v in mine)
        ]
        if not candidates:
            restricted = mine is not None and any(v in index for v in tri.volunteers[need.id])
            unserved[need.id] = (
                Reason.partner_capacity if restricted else Reason.volunteer_unavailable
            )
            continue
        verdicts = {i: alone(need, vehicles[i], places, site, rules) for i in candidates}
        able = [i for i, r in verdicts.items() if r is None]
        if not able:
            unserved[need.id] = closest_reason(list(verdicts.values()))
            continue
        prefer = _preferences(need, vehicles, index, keep)
        onboard = [i for i in able if need.id in vehicles[i].onboard]
        if onboard:
            able = onboard
        elif not need.kind.is_call and len(able) > MAX_VEHICLES_PER_NEED:
            here = places[(need.lon, need.lat)]
            able.sort(
                key=lambda i: places.seconds(vehicles[i].transport, places[vehicles[i].start], here)
            )
            able = sorted(set(able[:MAX_VEHICLES_PER_NEED]) | (set(prefer) & set(able)))
        job = Job(
            need=need, vehicles=tuple(able), prefer={i: c for i, c in prefer.items() if i in able}
        )
        (calls if need.kind.is_call else routed).append(job)

    by_resident: dict[str, list[str]] = defaultdict(list)
    for job in routed:
        by_resident[job.need.resident].append(job.need.id)
    together = [ids for ids in by_resident.values() if len(ids) > 1]

    if not vehicles:  # nobody to route (OR-Tools needs at least one vehicle)
        for job in (*routed, *calls):
            unserved[job.need.id] = Reason.volunteer_unavailable
        return DaySolution({}, {}, unserved, tri, {"starved": 0})
    say(f"routing {len(routed)} deliveries and visits over {len(vehicles)} volunteers")
    routing = solve_routes_best(
        day,
        routed,
        vehicles,
        places,
        stop,
        together,
        hint,
        workers=workers,
        clock=clock,
        rules=rules,
    )
    routes = routing.routes
    served_by = {
        s.need: vid
        for vid, stops in routes.items()
        for s in stops
        if s.need and s.kind in (StopKind.deliver, StopKind.visit)
    }
    stats: dict[str, float | int | str] = {
        "routing_status": routing.status,
        "routing_objective": routing.objective,
        "routing_time_s": round(routing.solve_time_s, 3),
        **{f"routing_{k}": v for k, v in routing.stats.items()},
        # Starved: the time limit stopped the search before a single improvement iteration.
        "starved": int(
            stop.seconds is not None
            and routing.stats.get("iterations", 0) == 0
            and str(routing.stats.get("stopped_by", "")).startswith("time limit")
            and bool(routed)
        ),
    }
    if calls:
        say(f"fitting {len(calls)} calls into volunteers' free time")
        # Volunteers already visiting a resident are preferred for that resident's calls.
        serving: dict[str, dict[int, int]] = defaultdict(dict)
        for job in routed:
            if job.need.id in served_by:
                serving[job.need.resident][index[served_by[job.need.id]]] = weights.TOGETHER
        bonus = {job.need.id: serving.get(job.need.resident, {}) for job in calls}
        result = assign_calls(day, calls, vehicles, routes, stop, clock, bonus)
        routes = insert_calls(day, vehicles, routes, result.placed, places, rules)
        served_by = {
            s.need: vid
            for vid, stops in routes.items()
            for s in stops
            if s.need and s.kind in (StopKind.deliver, StopKind.visit, StopKind.call)
        }
        stats.update(
            calls_status=result.status,
            calls_objective=result.objective,
            calls_bound=result.bound,
        )
    for job in (*routed, *calls):
        if job.need.id not in served_by:
            unserved[job.need.id] = Reason.crowded_out
    return DaySolution(routes, served_by, unserved, tri, stats)


def hint_of(stops: Iterable[Timed | Stop]) -> list[tuple[StopKind, str]]:
    """A route as ``solve_day``'s ``hint`` takes it: its collections, deliveries and visits, in
    order (calls are fitted again afterwards)."""
    return [
        (s.kind, s.need)
        for s in stops
        if s.need and s.kind in (StopKind.collect, StopKind.deliver, StopKind.visit)
    ]


def _preferences(
    need: Need, vehicles: Sequence[Vehicle], index: dict[str, int], keep: dict[str, str]
) -> dict[int, int]:
    """Soft preferences of a need for volunteers: continuity, and (re-planning) staying put."""
    prefer: dict[int, int] = {}
    if need.previous_volunteer in index:
        prefer[index[need.previous_volunteer]] = weights.CONTINUITY
    if keep.get(need.id) in index:
        i = index[keep[need.id]]
        prefer[i] = prefer.get(i, 0) + weights.KEEP_ASSIGNED
    return prefer
