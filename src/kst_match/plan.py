"""Day -> Plan: run the solve, then turn its timed routes into the plan, reasons and KPIs."""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable

from kst_match.geo.areas import Areas, imd_quintile
from kst_match.geo.travel import RoadEstimate, TravelModel
from kst_match.model import (
    PRIORITY_ORDER,
    REASON_TEXT,
    Assignment,
    Day,
    Need,
    Plan,
    Priority,
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
# Equity when capacity runs short (``--equity``); off by default: see the README's figures.
EQUITY = False


def default_travel() -> TravelModel:
    return RoadEstimate()


def make_plan(
    day: Day,
    travel: TravelModel | None = None,
    stop: StoppingCriterion = DEFAULT_STOP,
    progress: Progress | None = None,
    onboard_limit_min: int = ONBOARD_LIMIT_MIN,
    workers: int | None = None,
    equity: bool = EQUITY,
    handling_s: float = HANDLING_S,
    per_item_s: float = PER_ITEM_S,
    areas: bool = True,
) -> Plan:
    """Plan a whole day: every need assigned (partner, volunteer, order, times) or unserved
    with its reason. A complete first solution is always built; ``stop`` says when the
    search stops improving it (``kst_match.solve.stop``); ``onboard_limit_min`` bounds goods'
    time on board; ``workers``: processes (default: the usable cores); ``equity``: a need in
    a more deprived LSOA is worth more, within its priority (``kst_match.solve.weights``);
    ``handling_s`` and ``per_item_s``: a visit to a site takes ``handling_s`` plus
    ``per_item_s`` per parcel collected, seconds; ``areas``: a day of 1,000 needs or more is
    planned by area (``kst_match.solve.decompose``), ``False`` plans it as one problem."""
    if not (0 <= handling_s <= 3600 and 0 <= per_item_s <= 3600):
        raise ValueError("handling_s and per_item_s must be 0 to 3,600 seconds")
    began = time.perf_counter()
    travel = travel or default_travel()
    if day.equity != equity:
        day = day.model_copy(update={"equity": equity})
    solution = solve(
        day,
        fresh_vehicles(day),
        travel,
        stop,
        progress=progress,
        workers=workers,
        rules=TimeRules(onboard_limit_min * 60, handling_s, per_item_s),
        areas=areas,
    )
    solution.stats["stopping_rule"] = str(stop)
    solution.stats["equity"] = equity
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
        "equity": equity(day, plan),
        "travel_model": plan.travel_model,
        "solver": stats,
    }


IMD_DECILES = [str(d) for d in range(1, 11)]
IMD_QUINTILES = [str(q) for q in range(1, 6)]
UNKNOWN = "unknown"  # a need whose place has no LSOA (outside the bundled LSOAs)


def equity(day: Day, plan: Plan) -> dict[str, dict[str, dict[str, object]]]:
    """Service by deprivation and by place: for each IMD 2019 decile and quintile of the
    needs' LSOAs (1: the most deprived in England; every decile and quintile listed, ``unknown``
    for needs without one) and each ward, the needs, served, unserved, the share served (%),
    urgent needs and urgent served, and the unserved by reason (every reason of the plan)."""
    reasons = sorted({u.reason.value for u in plan.unserved})
    served = {a.need for a in plan.assignments}
    why = {u.need: u.reason.value for u in plan.unserved}

    def decile(n: Need) -> str:
        return UNKNOWN if n.imd_decile is None else str(n.imd_decile)

    def quintile(n: Need) -> str:
        return UNKNOWN if n.imd_decile is None else str(imd_quintile(n.imd_decile))

    def ward(n: Need) -> str:
        return n.ward or UNKNOWN

    names = Areas.default().wards
    wards = sorted({ward(n) for n in day.needs})
    by_ward = _service_rows(day.needs, ward, wards, served, why, reasons)
    return {
        "by_imd_decile": _service_rows(day.needs, decile, IMD_DECILES, served, why, reasons),
        "by_imd_quintile": _service_rows(day.needs, quintile, IMD_QUINTILES, served, why, reasons),
        "by_ward": {k: {"name": names.get(k, ""), **row} for k, row in by_ward.items()},
    }


def _service_rows(
    needs: tuple[Need, ...],
    key: Callable[[Need], str],
    groups: list[str],
    served: set[str],
    why: dict[str, str],
    reasons: list[str],
) -> dict[str, dict[str, object]]:
    """One row per group (``groups`` first, then any other key met, such as ``unknown``), with
    a column per reason in ``reasons``."""
    members: dict[str, list[Need]] = {g: [] for g in groups}
    for n in needs:
        members.setdefault(key(n), []).append(n)
    rows: dict[str, dict[str, object]] = {}
    for group, mine in members.items():
        done = sum(1 for n in mine if n.id in served)
        urgent = [n for n in mine if n.priority is Priority.urgent]
        left = Counter(why[n.id] for n in mine if n.id in why)
        rows[group] = {
            "needs": len(mine),
            "served": done,
            "unserved": len(mine) - done,
            "served_pct": round(100 * done / len(mine), 1) if mine else None,
            "urgent": len(urgent),
            "urgent_served": sum(1 for n in urgent if n.id in served),
            **{r: left.get(r, 0) for r in reasons},
        }
    return rows
