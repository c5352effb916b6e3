"""Day -> Plan: run the solve, then turn its timed routes into the plan, reasons and KPIs."""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections import Counter

from kst_match.geo.travel import RoadEstimate, TravelModel
from kst_match.model import (
    PRIORITY_ORDER,
    REASON_TEXT,
    Assignment,
    Day,
    Plan,
    Reason,
    Route,
    Stop,
    StopKind,
    Unserved,
)
from kst_match.solve.day import DaySolution, Progress
from kst_match.solve.decompose import solve
from kst_match.solve.schedule import HANDLING_S, PER_ITEM_S, TimeRules
from kst_match.solve.stop import MaxRuntime, StoppingCriterion
from kst_match.solve.timed import Timed
from kst_match.solve.vehicles import fresh_vehicles

DEFAULT_STOP = MaxRuntime(5.0)
ONBOARD_LIMIT_MIN = 120  # goods' longest time on board by default, minutes


def default_travel() -> TravelModel:
    return RoadEstimate()


def make_plan(
    day: Day,
    travel: TravelModel | None = None,
    stop: StoppingCriterion = DEFAULT_STOP,
    progress: Progress | None = None,
    onboard_limit_min: int = ONBOARD_LIMIT_MIN,
    workers: int | None = None,
    handling_s: float = HANDLING_S,
    per_item_s: float = PER_ITEM_S,
) -> Plan:
    """Plan a whole day: every need assigned (partner, volunteer, order, times) or unserved
    with its reason. A complete first solution is always built; ``stop`` says when the
    search stops improving it (``kst_match.solve.stop``); ``onboard_limit_min`` bounds goods'
    time on board; ``workers``: processes (default: the usable cores); ``handling_s`` and
    ``per_item_s``: a visit to a site takes ``handling_s`` plus ``per_item_s`` per parcel
    collected, seconds."""
    if not (0 <= handling_s <= 3600 and 0 <= per_item_s <= 3600):
        raise ValueError("handling_s and per_item_s must be 0 to 3,600 seconds")
    began = time.perf_counter()
    travel = travel or default_travel()
    solution = solve(
        day,
        fresh_vehicles(day),
        travel,
        stop,
        progress=progress,
        workers=workers,
        rules=TimeRules(onboard_limit_min * 60, handling_s, per_item_s),
    )
    solution.stats["stopping_rule"] = str(stop)
    plan = build_plan(day, solution, travel, began=began)
    plan.onboard_limit_min = onboard_limit_min
    plan.handling_s, plan.per_item_s = handling_s, per_item_s
    return plan


def time_rules(plan: Plan) -> TimeRules:
    """The time rules ``plan`` was made under."""
    return TimeRules(plan.onboard_limit_min * 60, plan.handling_s, plan.per_item_s)


def build_plan(
    day: Day,
    solution: DaySolution,
    travel: TravelModel,
    began: float,
    done: dict[str, list[Stop]] | None = None,
    partners: dict[str, str] | None = None,
    version: int = 1,
) -> Plan:
    """The plan from a solve. Re-planning: ``done`` holds each volunteer's stops already made
    today, kept in front of their new stops (a volunteer with no new route keeps only those);
    ``partners`` the partner of needs served before."""
    done = done or {}
    partners = partners or {}
    routes: list[Route] = []
    for volunteer_id in sorted(solution.routes.keys() | done.keys()):
        volunteer = day.volunteer(volunteer_id)
        timed = solution.routes.get(volunteer_id, [])
        stops = list(done.get(volunteer_id, [])) + [
            _stop(t) for t in (timed[1:] if done.get(volunteer_id) else timed)
        ]
        route = Route(volunteer=volunteer_id, transport=volunteer.transport, stops=stops)
        if route.tasks == 0 and not any(s.need for s in stops):
            continue
        route.geometry = [
            [tuple(p) for p in travel.path((a.lon, a.lat), (b.lon, b.lat), route.transport)]
            for a, b in itertools.pairwise(stops)
        ]
        routes.append(route)
    routes.sort(key=lambda r: r.volunteer)

    assignments = []
    served = {**solution.served_by}
    for vid, stops in done.items():
        for s in stops:
            if s.need and s.kind in (StopKind.deliver, StopKind.visit, StopKind.call):
                served[s.need] = vid
    starts = {
        s.need: s.start
        for r in routes
        for s in r.stops
        if s.need and s.kind in (StopKind.deliver, StopKind.visit, StopKind.call)
    }
    for need_id, vid in sorted(served.items()):
        need, volunteer = day.need(need_id), day.volunteer(vid)
        assignments.append(
            Assignment(
                need=need_id,
                partner=partners.get(need_id)
                or solution.partner_of.get(need_id)
                or solution.triage.partner_for(need, volunteer),
                volunteer=vid,
                start=starts[need_id],
                continuity=need.previous_volunteer == vid,
            )
        )
    unserved = [
        Unserved(need=n, reason=r, detail=explain(day, n, r, solution))
        for n, r in sorted(solution.unserved.items())
        if n not in served
    ]
    plan = Plan(
        date=day.date,
        version=version,
        travel_model=travel.name,
        assignments=assignments,
        routes=routes,
        unserved=unserved,
    )
    stats = {k: v for k, v in solution.stats.items() if not _timing(k)}
    plan.kpis = kpis(day, plan, stats)
    plan.timings = {k: float(v) for k, v in solution.stats.items() if _timing(k)}  # type: ignore[arg-type]
    plan.timings["solve_time_s"] = round(time.perf_counter() - began, 2)
    return plan


def _timing(key: str) -> bool:
    """Solver statistics measured on the clock (seconds), as opposed to counted."""
    return key.endswith("_s")


def _stop(t: Timed) -> Stop:
    # Exact seconds, and the same as whole minutes rounded down for people to read.
    return Stop(
        kind=t.kind,
        need=t.need,
        site=t.site,
        lon=t.lon,
        lat=t.lat,
        arrival=math.floor(t.arrival / 60),
        start=math.floor(t.start / 60),
        departure=math.floor(t.departure / 60),
        arrival_s=t.arrival,
        start_s=t.start,
        departure_s=t.departure,
        load=t.load,
        travel_s=round(t.travel_s, 1),
        distance_m=round(t.distance_m, 1),
    )


def explain(day: Day, need_id: str, reason: Reason, solution: DaySolution) -> str:
    """The reason as a sentence about this need."""
    need = day.need(need_id)
    kind = need.kind.value.replace("_", " ")
    if reason is Reason.no_partner:
        return f"No partner offers {kind} in ward {need.ward or 'unknown'}."
    if reason is Reason.no_skill:
        skills = ", ".join(sorted(s.value for s in need.required_skills)) or "none"
        return f"No volunteer available today has the skills a {kind} needs ({skills})."
    if reason is Reason.no_language:
        return f"No volunteer available today speaks {need.language}, which this need requires."
    return REASON_TEXT[reason]


def kpis(day: Day, plan: Plan, stats: dict[str, float | int | str]) -> dict[str, object]:
    """Headline figures of a plan: service, reasons, travel, workload, continuity, solver
    (what it counted; what it timed is in ``Plan.timings``)."""
    needs = {n.id: n for n in day.needs}
    served = [needs[a.need] for a in plan.assignments]
    by_priority = {
        p.value: {
            "needs": sum(1 for n in day.needs if n.priority is p),
            "served": sum(1 for n in served if n.priority is p),
        }
        for p in sorted(PRIORITY_ORDER, key=PRIORITY_ORDER.get)  # type: ignore[arg-type]
    }
    kinds = sorted({n.kind for n in day.needs})
    by_kind = {
        k.value: {
            "needs": sum(1 for n in day.needs if n.kind is k),
            "served": sum(1 for n in served if n.kind is k),
        }
        for k in kinds
    }
    tasks = [r.tasks for r in plan.routes]
    travel = {r.volunteer: round(r.travel_s / 60, 1) for r in plan.routes}
    with_previous = [n for n in day.needs if n.previous_volunteer]
    available = {v.id for v in day.volunteers}
    residents = {n.resident for n in with_previous}
    return {
        "needs": len(day.needs),
        "served": len(plan.assignments),
        "unserved": len(plan.unserved),
        "served_by_priority": by_priority,
        "served_by_kind": by_kind,
        "unserved_by_reason": dict(Counter(u.reason.value for u in plan.unserved).most_common()),
        "volunteers_available": len(day.volunteers),
        "volunteers_used": len(plan.routes),
        "travel_total_min": round(sum(r.travel_s for r in plan.routes) / 60, 1),
        "distance_total_km": round(sum(r.distance_m for r in plan.routes) / 1000, 2),
        "travel_per_volunteer_min": travel,
        "tasks_per_volunteer": {
            "mean": round(statistics.fmean(tasks), 2) if tasks else 0,
            "max": max(tasks, default=0),
            "stdev": round(statistics.pstdev(tasks), 2) if tasks else 0,
        },
        "continuity": {
            "residents_with_previous_volunteer": len(residents),
            "needs_with_previous_volunteer": len(with_previous),
            "previous_volunteer_available": sum(
                1 for n in with_previous if n.previous_volunteer in available
            ),
            "kept": sum(1 for a in plan.assignments if a.continuity),
        },
        "travel_model": plan.travel_model,
        "solver": stats,
    }
