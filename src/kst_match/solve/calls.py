"""Calls (befriending, advice by phone): an assignment problem in CP-SAT, fitted around routes.

A call needs no travel but takes the volunteer's time, so it must fall in a gap of their day:
before leaving, after a stop and before the latest moment they must leave for the next one,
or after their last stop. Each (call, volunteer, gap) with room inside the call's window is an
optional interval; intervals of one volunteer may not overlap; each call is made at most once;
task limits hold. The objective uses the routing weights (``kst_match.solve.weights``).
"""

from __future__ import annotations

import itertools
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from kst_match.model import Day, StopKind
from kst_match.solve import weights
from kst_match.solve.places import Places
from kst_match.solve.routing import Job
from kst_match.solve.schedule import DEFAULT_RULES, TimeRules, timetable
from kst_match.solve.stop import StoppingCriterion
from kst_match.solve.timed import Timed
from kst_match.solve.vehicles import Vehicle

MAX_VOLUNTEERS_PER_CALL = 25  # candidates kept per call: enough choice, a small model
# CP-SAT's own deterministic work limit (about a second of search on a typical core): with one
# worker it makes the calls' assignment the same on any machine.
CALLS_DETERMINISTIC_LIMIT = 5.0


@dataclass(frozen=True)
class CallsResult:
    placed: dict[str, tuple[int, float]]  # need id -> (vehicle index, start in seconds)
    objective: float
    bound: float
    status: str


def _gaps(route: list[Timed], vehicle: Vehicle) -> list[tuple[int, float, float]]:
    """Free intervals of a volunteer's day as (insert after stop i, earliest, latest end), s."""
    gaps = []
    for i, (stop, nxt) in enumerate(itertools.pairwise(route)):
        if stop.kind is StopKind.start:
            ready = float(vehicle.start_s)
        elif stop.kind is StopKind.call:
            continue
        else:
            ready = stop.departure
        latest = (vehicle.end_s if nxt.kind is StopKind.end else nxt.start) - nxt.travel_s
        if latest > ready:
            gaps.append((i, ready, latest))
    return gaps


def assign_calls(
    day: Day,
    jobs: Sequence[Job],
    vehicles: Sequence[Vehicle],
    routes: dict[str, list[Timed]],
    stop: StoppingCriterion,
    clock: float,
    together: dict[str, dict[int, int]] | None = None,
) -> CallsResult:
    """Place call jobs in volunteers' free time (``routes`` has every vehicle, empty or not).
    ``together``: need id -> {vehicle: bonus} for volunteers already serving the same resident
    on their route. CP-SAT runs on one worker with a deterministic work limit, and with the
    rule's wall time left when the rule has one."""
    together = together or {}
    model = cp_model.CpModel()
    gaps = {i: _gaps(routes[v.id], v) for i, v in enumerate(vehicles)}
    route_tasks = {
        i: sum(1 for s in routes[v.id] if s.kind in (StopKind.deliver, StopKind.visit))
        for i, v in enumerate(vehicles)
    }
    options: dict[str, list[tuple[int, cp_model.IntVar, cp_model.IntVar]]] = defaultdict(list)
    intervals: dict[int, list[cp_model.IntervalVar]] = defaultdict(list)
    chosen_on: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    value_terms = []
    for job in jobs:
        need = job.need
        bonus = {**together.get(need.id, {}), **job.prefer}
        ranked = sorted(job.vehicles, key=lambda i: (-bonus.get(i, 0), route_tasks[i], i))
        for i in ranked[:MAX_VOLUNTEERS_PER_CALL]:
            for _, ready, latest in gaps[i]:
                lo = math.ceil(max(ready, need.window_start * 60) / 60)
                # The call ends inside the window and before the volunteer must leave.
                hi = math.floor((min(latest, need.window_end * 60) - need.duration * 60) / 60)
                if lo > hi:
                    continue
                present = model.new_bool_var(f"{need.id}@{i}")
                start = model.new_int_var(lo, hi, f"t_{need.id}@{i}")
                intervals[i].append(
                    model.new_optional_fixed_size_interval_var(start, need.duration, present, "")
                )
                options[need.id].append((i, present, start))
                chosen_on[i].append(present)
                value = weights.need_value(need, day.equity) + bonus.get(i, 0)
                value_terms.append(value * present)
    for opts in options.values():
        model.add_at_most_one(p for _, p, _ in opts)
    busiest = model.new_int_var(0, max((v.tasks_left for v in vehicles), default=0), "busiest")
    for i, v in enumerate(vehicles):
        if intervals[i]:
            model.add_no_overlap(intervals[i])
            model.add(sum(chosen_on[i]) <= max(0, v.tasks_left - route_tasks[i]))
            model.add(busiest >= route_tasks[i] + sum(chosen_on[i]))
    model.maximize(sum(value_terms) - weights.BALANCE_PER_TASK * busiest)

    solver = cp_model.CpSolver()
    solver.parameters.max_deterministic_time = CALLS_DETERMINISTIC_LIMIT
    if stop.seconds is not None:
        left = stop.seconds - (time.monotonic() - clock)
        solver.parameters.max_time_in_seconds = max(0.2, left)
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    status = solver.solve(model)
    placed: dict[str, tuple[int, float]] = {}
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for need_id, opts in options.items():
            for i, present, start in opts:
                if solver.value(present):
                    placed[need_id] = (i, solver.value(start) * 60.0)
        return CallsResult(
            placed, solver.objective_value, solver.best_objective_bound, solver.status_name(status)
        )
    return CallsResult(placed, 0.0, 0.0, solver.status_name(status))


def insert_calls(
    day: Day,
    vehicles: Sequence[Vehicle],
    routes: dict[str, list[Timed]],
    placed: dict[str, tuple[int, float]],
    places: Places,
    rules: TimeRules = DEFAULT_RULES,
) -> dict[str, list[Timed]]:
    """Routes with the placed calls as stops, each made from where the volunteer is, in the
    gap CP-SAT chose, and the whole route timed again (a call that no longer fits is left
    out; the final insertion pass tries it again)."""
    by_vehicle: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for need_id, (i, start) in placed.items():
        by_vehicle[i].append((start, need_id))
    result = dict(routes)
    for i, calls in by_vehicle.items():
        v = vehicles[i]
        route = routes[v.id]
        gaps = _gaps(route, v)
        after: dict[int, list[str]] = defaultdict(list)
        for start, need_id in sorted(calls):
            # the gap holding this start (gaps are disjoint and ordered)
            k = next(g for g, lo, hi in gaps if lo <= start <= hi)
            after[k].append(need_id)
        out: list[Timed] = []
        for k, stop in enumerate(route):
            out.append(stop.copy())
            for need_id in after.get(k, []):
                out.append(Timed(StopKind.call, stop.place, stop.lon, stop.lat, need=need_id))
        if timetable(out, v, day, places, rules):
            result[v.id] = out
    return result
