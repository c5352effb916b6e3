"""Deliveries and visits as one vehicle routing problem in OR-Tools.

Each volunteer is a vehicle from where they start to home, with their own shift, speed, carrying
capacity, task and travel limits. A delivery is a pickup-and-delivery pair (collect at the site
in its opening hours, deliver in the resident's window, same volunteer, collect first); a visit
is one stop. Skills, language and partner membership decide the vehicles allowed at each stop
(triage), further cut to those who could serve the need alone. Every need is optional with a
drop penalty by priority, so an impossible day still yields the best partial plan. Weights:
``kst_match.solve.weights``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from kst_match.model import Day, Need, StopKind, Transport
from kst_match.solve import weights
from kst_match.solve.alone import COLLECT_S
from kst_match.solve.places import Places
from kst_match.solve.vehicles import Vehicle

HORIZON_S = 24 * 3600
NO_SOLUTION = 2**62  # the objective reported when the search found nothing


@dataclass(frozen=True)
class Job:
    """A need to route and the vehicles allowed to serve it (indices into the vehicle list)."""

    need: Need
    vehicles: tuple[int, ...]
    # Soft preferences: vehicle index -> cost of serving it with any other vehicle.
    prefer: dict[int, int] = field(default_factory=dict)


@dataclass
class Timed:
    """A stop of a route, timed in seconds after midnight; travel is from the previous stop."""

    kind: StopKind
    place: int  # index into the solve's ``Places``
    lon: float
    lat: float
    need: str | None = None
    site: str | None = None
    arrival: float = 0.0
    start: float = 0.0
    departure: float = 0.0
    load: int = 0
    travel_s: float = 0.0
    distance_m: float = 0.0


# Two first-solution strategies that win on different days (neither dominates on generated
# days): with two cores, both run side by side and the better routes are kept.
FIRST_SOLUTIONS = ("PARALLEL_CHEAPEST_INSERTION", "LOCAL_CHEAPEST_COST_INSERTION")


@dataclass(frozen=True)
class RoutingResult:
    routes: dict[str, list[Timed]]  # every vehicle, empty routes (start, end) included
    served: frozenset[str]
    objective: int
    solve_time_s: float
    status: str


def solve_routes(
    day: Day,
    jobs: Sequence[Job],
    vehicles: Sequence[Vehicle],
    places: Places,
    time_limit_s: float = 5.0,
    together: Sequence[Sequence[str]] = (),
    hint: dict[str, list[tuple[StopKind, str]]] | None = None,
    first: str = "PARALLEL_CHEAPEST_INSERTION",
) -> RoutingResult:
    """Route ``jobs`` over ``vehicles``; ``together`` lists groups of needs (one resident's)
    preferred on one volunteer; ``hint`` gives starting routes (vehicle id -> (stop kind, need
    id) in order, e.g. this morning's plan); ``first`` names OR-Tools' first-solution
    strategy."""
    began = time.perf_counter()
    n_vehicles = len(vehicles)
    # Node layout: for each vehicle a start and an end node, then the jobs' nodes.
    node_place: list[int] = []
    node_kind: list[StopKind] = []
    node_need: list[Need | None] = []
    starts, ends = [], []
    for v in vehicles:
        starts.append(len(node_place))
        node_place.append(places[v.start])
        node_kind.append(StopKind.start)
        node_need.append(None)
        ends.append(len(node_place))
        node_place.append(places[v.end])
        node_kind.append(StopKind.end)
        node_need.append(None)
    job_nodes: list[tuple[int | None, int]] = []  # (pickup node or None, deliver/visit node)
    for job in jobs:
        need = job.need
        pickup = None
        onboard = any(need.id in vehicles[i].onboard for i in job.vehicles)
        if need.kind.is_delivery and not onboard:
            site = day.site(need.site)  # type: ignore[arg-type]
            pickup = len(node_place)
            node_place.append(places[(site.lon, site.lat)])
            node_kind.append(StopKind.collect)
            node_need.append(need)
        drop = len(node_place)
        node_place.append(places[(need.lon, need.lat)])
        node_kind.append(StopKind.deliver if need.kind.is_delivery else StopKind.visit)
        node_need.append(need)
        job_nodes.append((pickup, drop))

    manager = pywrapcp.RoutingIndexManager(len(node_place), n_vehicles, starts, ends)
    routing = pywrapcp.RoutingModel(manager)

    service = [0] * len(node_place)
    for node, (kind, need) in enumerate(zip(node_kind, node_need, strict=True)):
        if kind is StopKind.collect:
            service[node] = COLLECT_S
        elif need is not None:
            service[node] = need.duration * 60

    travel_cb: dict[Transport, int] = {}
    time_cb: dict[Transport, int] = {}
    for mode in sorted({v.transport for v in vehicles}):
        secs = places.matrix(mode).seconds[node_place][:, node_place]
        # Rounded up: whole seconds for the solver that never undercount the real travel.
        travel = np.ceil(secs).astype(int)
        travel_cb[mode] = routing.RegisterTransitMatrix(travel.tolist())
        timed = travel + [[s] for s in service]
        time_cb[mode] = routing.RegisterTransitMatrix(timed.tolist())
    for i, v in enumerate(vehicles):
        routing.SetArcCostEvaluatorOfVehicle(travel_cb[v.transport], i)

    routing.AddDimensionWithVehicleTransits(
        [time_cb[v.transport] for v in vehicles], HORIZON_S, HORIZON_S, False, "time"
    )
    time_dim = routing.GetDimensionOrDie("time")
    routing.AddDimensionWithVehicleTransitAndCapacity(
        [travel_cb[v.transport] for v in vehicles],
        0,
        [max(0, v.travel_left_s) for v in vehicles],
        True,
        "travel",
    )
    load = [0] * len(node_place)
    tasks = [0] * len(node_place)
    for job, (pickup, drop) in zip(jobs, job_nodes, strict=True):
        tasks[drop] = 1
        if job.need.kind.is_delivery:
            load[drop] = -job.need.load
            if pickup is not None:
                load[pickup] = job.need.load
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitVector(load),
        0,
        [v.volunteer.capacity for v in vehicles],
        False,
        "load",
    )
    load_dim = routing.GetDimensionOrDie("load")
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitVector(tasks),
        0,
        [max(0, v.tasks_left) for v in vehicles],
        True,
        "tasks",
    )
    routing.GetDimensionOrDie("tasks").SetGlobalSpanCostCoefficient(weights.BALANCE_PER_TASK)

    for i, v in enumerate(vehicles):
        start, end = routing.Start(i), routing.End(i)
        time_dim.CumulVar(start).SetRange(v.start_s, v.end_s)
        time_dim.CumulVar(end).SetRange(v.start_s, v.end_s)
        onboard_load = sum(day.need(n).load for n in v.onboard)
        load_dim.CumulVar(start).SetValue(onboard_load)
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(end))
        routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(start))

    for job, (pickup, drop) in zip(jobs, job_nodes, strict=True):
        need = job.need
        penalty = weights.serve_value(need.priority)
        allowed = list(job.vehicles)
        d = manager.NodeToIndex(drop)
        time_dim.CumulVar(d).SetRange(need.window_start * 60, need.window_end * 60)
        routing.VehicleVar(d).SetValues([-1, *allowed])
        if pickup is None:
            if need.kind.is_delivery:  # already on board: deliver it, whatever it costs
                penalty *= 100
            routing.AddDisjunction([d], 2 * penalty)
        else:
            p = manager.NodeToIndex(pickup)
            site = day.site(need.site)  # type: ignore[arg-type]
            time_dim.CumulVar(p).SetRange(site.opens * 60, min(site.closes, need.window_end) * 60)
            routing.VehicleVar(p).SetValues([-1, *allowed])
            # Same volunteer, collect first: the pair constraint enforces both, and time order
            # follows along the route. (Extra solver constraints would only slow the search.)
            routing.AddPickupAndDelivery(p, d)
            routing.AddDisjunction([p], penalty)
            routing.AddDisjunction([d], penalty)
    _add_preferences(routing, jobs, job_nodes, vehicles, len(node_place), together)

    params = _search_parameters(time_limit_s, first)

    solution = None
    hinted = False
    if hint:
        initial = _hint_routes(hint, vehicles, jobs, job_nodes, manager)
        routing.CloseModelWithParameters(params)
        start_from = routing.ReadAssignmentFromRoutes(initial, True)
        if start_from is not None:
            hinted = True
            solution = routing.SolveFromAssignmentWithParameters(start_from, params)
    if solution is None:
        solution = routing.SolveWithParameters(params)
    elapsed = time.perf_counter() - began
    status = _STATUS.get(routing.status(), str(routing.status()))
    if hinted:
        status += ", from the given routes"
    routes: dict[str, list[Timed]] = {}
    served: set[str] = set()
    points = places.points
    for i, v in enumerate(vehicles):
        nodes = [starts[i], ends[i]]
        if solution is not None:
            index = routing.Start(i)
            nodes = []
            while True:
                nodes.append(manager.IndexToNode(index))
                if routing.IsEnd(index):
                    break
                index = solution.Value(routing.NextVar(index))
        stops = [
            Timed(
                kind=node_kind[node],
                place=node_place[node],
                lon=float(points[node_place[node], 0]),
                lat=float(points[node_place[node], 1]),
                need=node_need[node].id if node_need[node] is not None else None,
                site=node_need[node].site if node_kind[node] is StopKind.collect else None,
            )
            for node in nodes
        ]
        _schedule(stops, v, day, places)
        routes[v.id] = stops
        served.update(s.need for s in stops if s.kind in (StopKind.deliver, StopKind.visit))
    return RoutingResult(
        routes=routes,
        served=frozenset(served),
        objective=solution.ObjectiveValue() if solution is not None else NO_SOLUTION,
        solve_time_s=elapsed,
        status=status,
    )


def solve_routes_best(
    day: Day,
    jobs: Sequence[Job],
    vehicles: Sequence[Vehicle],
    places: Places,
    time_limit_s: float = 5.0,
    together: Sequence[Sequence[str]] = (),
    hint: dict[str, list[tuple[StopKind, str]]] | None = None,
    workers: int = 1,
) -> RoutingResult:
    """``solve_routes`` with each of ``FIRST_SOLUTIONS`` side by side in worker processes (as
    many as ``workers`` allows), keeping the result of least cost; one strategy with one
    worker."""
    strategies = FIRST_SOLUTIONS[: max(1, workers)]
    if len(strategies) == 1 or hint:
        return solve_routes(day, jobs, vehicles, places, time_limit_s, together, hint)
    args = (day, jobs, vehicles, places, time_limit_s, together, hint)
    with ProcessPoolExecutor(max_workers=len(strategies)) as pool:
        results = list(pool.map(_solve_with, [(*args, s) for s in strategies]))
    return min(results, key=lambda r: r.objective)


def _solve_with(args: tuple) -> RoutingResult:  # type: ignore[type-arg]
    return solve_routes(*args)


def _search_parameters(time_limit_s: float, first: str) -> pywrapcp.RoutingSearchParameters:
    """A first solution by the ``first`` strategy, then guided local search until the limit."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    return params


def _add_preferences(
    routing: pywrapcp.RoutingModel,
    jobs: Sequence[Job],
    job_nodes: list[tuple[int | None, int]],
    vehicles: Sequence[Vehicle],
    n_nodes: int,
    together: Sequence[Sequence[str]],
) -> None:
    """Soft preferences of needs for volunteers, as a dimension whose span is costed.

    Serving need node ``d`` on vehicle ``v`` costs ``max_pref(d) - pref(d, v)``: nothing on its
    most preferred volunteer, the full preference elsewhere. As a vehicle-dependent unary
    transit this is cheap for the local search to evaluate (soft same-vehicle constraints are
    not: they stall it). Vehicles nobody prefers share one vector. A resident's several needs
    (``together``) prefer the volunteer that the resident's first need prefers, if any.
    """
    prefer = {drop: dict(job.prefer) for job, (_, drop) in zip(jobs, job_nodes, strict=True)}
    by_need = {job.need.id: drop for job, (_, drop) in zip(jobs, job_nodes, strict=True)}
    for group in together:
        nodes = [by_need[n] for n in group if n in by_need]
        anchor = next((prefer[d] for d in nodes if prefer[d]), None)
        if anchor:
            best = max(anchor, key=anchor.get)  # type: ignore[arg-type]
            for d in nodes:
                prefer[d][best] = max(prefer[d].get(best, 0), weights.TOGETHER)
    if not any(prefer.values()):
        return
    top = [0] * n_nodes
    for d, prefs in prefer.items():
        top[d] = max(prefs.values(), default=0)
    base = routing.RegisterUnaryTransitVector(top)
    special: dict[int, list[int]] = {}
    for d, prefs in prefer.items():
        for v, cost in prefs.items():
            special.setdefault(v, list(top))[d] = top[d] - cost
    evaluators = [
        routing.RegisterUnaryTransitVector(special[i]) if i in special else base
        for i in range(len(vehicles))
    ]
    routing.AddDimensionWithVehicleTransits(evaluators, 0, sum(top) + 1, True, "preference")
    routing.GetDimensionOrDie("preference").SetSpanCostCoefficientForAllVehicles(1)


def _schedule(stops: list[Timed], vehicle: Vehicle, day: Day, places: Places) -> None:
    """Earliest-start times along a fixed order (feasible whenever the solver's are), leaving
    the start just in time for the first stop; loads carried on leaving each stop."""
    mode = vehicle.transport
    load = sum(day.need(n).load for n in vehicle.onboard)
    t = float(vehicle.start_s)
    first = stops[0]
    first.arrival = first.start = first.departure = t
    first.load = load
    for prev, stop in itertools.pairwise(stops):
        stop.travel_s = places.seconds(mode, prev.place, stop.place)
        stop.distance_m = places.metres(mode, prev.place, stop.place)
        stop.arrival = prev.departure + stop.travel_s
        opens = 0.0
        duration = 0.0
        if stop.kind is StopKind.collect:
            opens = day.site(stop.site).opens * 60  # type: ignore[arg-type]
            duration = COLLECT_S
            load += day.need(stop.need).load  # type: ignore[arg-type]
        elif stop.need is not None:
            need = day.need(stop.need)
            opens = need.window_start * 60
            duration = need.duration * 60
            if stop.kind is StopKind.deliver:
                load -= need.load
        stop.start = max(stop.arrival, opens)
        stop.departure = stop.start + duration
        stop.load = load
    if len(stops) > 2:
        # Leave home just in time: the wait at the first stop is spent at home instead.
        second = stops[1]
        first.departure = first.start = first.arrival = max(
            first.arrival, second.start - second.travel_s
        )
        second.arrival = first.departure + second.travel_s


def _hint_routes(
    hint: dict[str, list[tuple[StopKind, str]]],
    vehicles: Sequence[Vehicle],
    jobs: Sequence[Job],
    job_nodes: list[tuple[int | None, int]],
    manager: pywrapcp.RoutingIndexManager,
) -> list[list[int]]:
    """Starting routes as routing indices, from (stop kind, need id) lists; stops the model
    no longer has (or no longer allows on that vehicle) are left out."""
    nodes_of = {job.need.id: nodes for job, nodes in zip(jobs, job_nodes, strict=True)}
    allowed = {job.need.id: set(job.vehicles) for job in jobs}
    routes = []
    for i, v in enumerate(vehicles):
        route: list[int] = []
        for kind, need_id in hint.get(v.id, []):
            if need_id not in nodes_of or i not in allowed[need_id]:
                continue
            pickup, drop = nodes_of[need_id]
            node = pickup if kind is StopKind.collect else drop
            if node is not None:
                route.append(manager.NodeToIndex(node))
        routes.append(route)
    return routes


_STATUS = {
    0: "not solved",
    1: "success",
    2: "partial success (time limit)",
    3: "fail",
    4: "fail (timeout)",
    5: "invalid",
    6: "infeasible",
    7: "optimal",
}
