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

import math
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from kst_match.model import Day, Need, StopKind, Transport
from kst_match.solve import weights
from kst_match.solve.places import Places
from kst_match.solve.schedule import DEFAULT_RULES, TimeRules, timetable
from kst_match.solve.stop import Progress, StoppingCriterion, fired_rule
from kst_match.solve.timed import Timed
from kst_match.solve.vehicles import Vehicle
from kst_match.solve.warm import vroom_routes, warm_routes

HORIZON_S = 24 * 3600
NO_SOLUTION = 2**62  # the objective reported when the search found nothing
NO_TIME_LIMIT_S = 24 * 3600
# Guided local search never ends by itself: on a day with nothing left to improve it explores
# forever without accepting a solution. It stops after this many search branches without one
# (a count, not a time: on the bundled day an accepted solution takes about 200 branches).
STALL_BRANCHES = 50_000
# The stall is looked at every this many checks of the search limit (a count too).
STALL_CHECK_EVERY = 64


@dataclass(frozen=True)
class Job:
    """A need to route and the vehicles allowed to serve it (indices into the vehicle list)."""

    need: Need
    vehicles: tuple[int, ...]
    # Soft preferences: vehicle index -> cost of serving it with any other vehicle.
    prefer: dict[int, int] = field(default_factory=dict)


# First-solution strategies run side by side when there are cores for them, the cheaper routes
# kept. Measured on the bundled day (one core): parallel cheapest insertion builds its first
# solution in about 0.9 s and is the best start; local cheapest cost insertion takes 3 s and
# local cheapest insertion ends 3x costlier after 150 iterations, so a second process would
# only make the first solution wait for the slower one. One strategy, until one earns a core.
FIRST_SOLUTIONS = ("PARALLEL_CHEAPEST_INSERTION",)


@dataclass(frozen=True)
class RoutingResult:
    routes: dict[str, list[Timed]]  # every vehicle, empty routes (start, end) included
    served: frozenset[str]
    objective: int
    solve_time_s: float
    status: str
    stats: dict[str, float | int | str] = field(default_factory=dict)


def solve_routes(
    day: Day,
    jobs: Sequence[Job],
    vehicles: Sequence[Vehicle],
    places: Places,
    stop: StoppingCriterion,
    together: Sequence[Sequence[str]] = (),
    hint: dict[str, list[tuple[StopKind, str]]] | None = None,
    first: str = "PARALLEL_CHEAPEST_INSERTION",
    clock: float | None = None,
    rules: TimeRules = DEFAULT_RULES,
    threads: int = 1,
) -> RoutingResult:
    """Route ``jobs`` over ``vehicles``: a complete first solution by OR-Tools' ``first``
    strategy (or from ``hint``: vehicle id -> (stop kind, need id) in order, e.g. this
    morning's plan), however long it takes, then guided local search until ``stop`` fires.
    ``together`` lists groups of needs (one resident's) preferred on one volunteer; ``clock``
    is when the plan started (``time.monotonic()``), for time limits; ``threads``: the warm
    start's (VROOM's) threads."""
    began = time.monotonic()
    clock = began if clock is None else clock
    model = _Model(day, jobs, vehicles, places, together, rules)
    routing, manager = model.routing, model.manager

    # 1. A complete first solution, never cut short by the clock.
    first_params = _search_parameters(first)
    first_params.solution_limit = 1
    solution = None
    source = first
    routing.CloseModelWithParameters(first_params)
    if hint:
        initial = routing.ReadAssignmentFromRoutes(model.hint_routes(hint), True)
        if initial is not None:
            solution, source = initial, "the given routes"
    if solution is None and not hint:
        for name, start in (("PyVRP", warm_routes), ("VROOM", vroom_routes)):
            routes = start(model, stop, clock, threads=threads)
            if routes is not None:
                initial = routing.ReadAssignmentFromRoutes(routes, True)
                if initial is not None:
                    solution, source = initial, name
                break
    if solution is None:
        solution = routing.SolveWithParameters(first_params)
    first_s = time.monotonic() - began
    stats: dict[str, float | int | str] = {
        "first_solution": source,
        "first_solution_s": round(first_s, 3),
        "first_objective": solution.ObjectiveValue() if solution is not None else NO_SOLUTION,
    }

    # 2. Improvement until the stopping rule fires.
    if solution is not None:
        search = _Search(routing, stop, clock)
        routing.AddAtSolutionCallback(search.at_solution)
        routing.AddSearchMonitor(routing.solver().CustomLimit(search.stalled))
        improved = routing.SolveFromAssignmentWithParameters(
            solution, _search_parameters(first, stop, clock)
        )
        if improved is not None and improved.ObjectiveValue() <= solution.ObjectiveValue():
            solution = improved
        stats.update(search.stats())
    status = _STATUS.get(routing.status(), str(routing.status()))

    routes: dict[str, list[Timed]] = {}
    served: set[str] = set()
    dropped = 0
    for i, v in enumerate(vehicles):
        nodes = [model.starts[i], model.ends[i]]
        if solution is not None:
            index = routing.Start(i)
            nodes = []
            while True:
                nodes.append(manager.IndexToNode(index))
                if routing.IsEnd(index):
                    break
                index = solution.Value(routing.NextVar(index))
        kept = model.keep_timed(i, nodes[1:-1])
        if len(kept) < len(nodes) - 2:
            # OR-Tools' first-solution heuristics do not always keep the goods' time on board
            # when a search stopped before its first improvement returns their solution: the
            # needs that break it leave the route (the final insertion pass tries them again).
            dropped += len(
                {model.node_need[n].id for n in nodes[1:-1]} - {model.node_need[n].id for n in kept}
            )  # type: ignore[union-attr]
            nodes = [nodes[0], *kept, nodes[-1]]
        stops = model.with_collections([model.timed(node) for node in nodes])
        if not timetable(stops, v, day, places, rules):
            # The solver's travel is rounded up, so its routes always hold on the real times;
            # one that does not is a fault in the model, never to be planned or hidden.
            raise RuntimeError(f"the solver's route for {v.id} breaks the rules it was given")
        routes[v.id] = stops
        served.update(s.need for s in stops if s.kind in (StopKind.deliver, StopKind.visit))
    if dropped:
        stats["dropped_off_time_rules"] = dropped
    return RoutingResult(
        routes=routes,
        served=frozenset(served),
        objective=solution.ObjectiveValue() if solution is not None else NO_SOLUTION,
        solve_time_s=time.monotonic() - began,
        status=status,
        stats=stats,
    )


class _Model:
    """The OR-Tools model of a day's deliveries and visits: nodes, dimensions, penalties."""

    def __init__(
        self,
        day: Day,
        jobs: Sequence[Job],
        vehicles: Sequence[Vehicle],
        places: Places,
        together: Sequence[Sequence[str]],
        rules: TimeRules,
    ) -> None:
        self.day, self.jobs, self.vehicles, self.places = day, jobs, vehicles, places
        self.rules = rules
        self.together = together
        # Node layout: for each vehicle a start and an end node, then the jobs' nodes.
        node_place: list[int] = []
        node_kind: list[StopKind] = []
        node_need: list[Need | None] = []
        self.starts, self.ends = [], []
        for v in vehicles:
            for kind, point, bucket in (
                (StopKind.start, v.start, self.starts),
                (StopKind.end, v.end, self.ends),
            ):
                bucket.append(len(node_place))
                node_place.append(places[point])
                node_kind.append(kind)
                node_need.append(None)
        self.job_nodes: list[tuple[int | None, int]] = []  # (pickup or None, deliver/visit)
        # Deliveries whose goods are collected where the route starts: one node each.
        self.at_start: set[str] = set()
        for job in jobs:
            need = job.need
            pickup = None
            onboard = any(need.id in vehicles[i].onboard for i in job.vehicles)
            if need.kind.is_delivery and not onboard and self._collected_at_start(job):
                self.at_start.add(need.id)
            elif need.kind.is_delivery and not onboard:
                site = day.site(need.site)  # type: ignore[arg-type]
                pickup = len(node_place)
                node_place.append(places[(site.lon, site.lat)])
                node_kind.append(StopKind.collect)
                node_need.append(need)
            drop = len(node_place)
            node_place.append(places[(need.lon, need.lat)])
            node_kind.append(StopKind.deliver if need.kind.is_delivery else StopKind.visit)
            node_need.append(need)
            self.job_nodes.append((pickup, drop))
        self.node_place, self.node_kind, self.node_need = node_place, node_kind, node_need
        # Vehicles that may collect goods where they start.
        self.loading = sorted(
            {i for job in jobs if job.need.id in self.at_start for i in job.vehicles}
        )
        self.manager = pywrapcp.RoutingIndexManager(
            len(node_place), len(vehicles), self.starts, self.ends
        )
        self.routing = pywrapcp.RoutingModel(self.manager)
        self._dimensions()
        self._jobs(rules)
        _add_preferences(self.routing, jobs, self.job_nodes, vehicles, len(node_place), together)

    def _collected_at_start(self, job: Job) -> bool:
        """Can ``job``'s goods be taken as collected when its route starts, with no node of
        their own? So when every volunteer allowed starts at the site, the site is open all
        their day, collecting takes no time per parcel (the visit then takes the handling
        alone, whatever the route carries) and the goods' time on board cannot bind. Then the
        collection is the first thing a route does, and one node per delivery gives the search
        the moves of a plain routing problem instead of moves of pairs."""
        if self.rules.per_item_s > 0:
            return False
        site = self.day.site(job.need.site)  # type: ignore[arg-type]
        here = self.places[(site.lon, site.lat)]
        for i in job.vehicles:
            v = self.vehicles[i]
            if (
                self.places[v.start] != here
                or site.opens * 60 > v.start_s
                or site.closes * 60 - self.rules.handling_s < v.end_s
                or self.rules.onboard_limit_s < v.end_s - v.start_s
            ):
                return False
        return True

    def holds(self, i: int, nodes: Sequence[int], whole: bool = False) -> bool:
        """Do ``nodes`` (between vehicle ``i``'s start and end) keep every time rule (in the
        solver's whole seconds with ``whole``)?"""
        stops = [self.timed(n) for n in (self.starts[i], *nodes, self.ends[i])]
        return timetable(
            self.with_collections(stops),
            self.vehicles[i],
            self.day,
            self.places,
            self.rules,
            write=False,
            whole=whole,
        )

    def keep_timed(self, i: int, nodes: Sequence[int], whole: bool = False) -> list[int]:
        """``nodes`` of vehicle ``i`` less the needs whose stops break the time rules: each
        time the latest need whose leaving lets the rest hold (else the latest). ``whole``: as
        the solver times them, for routes given to it (a route timed on exact times can break
        a window in its whole seconds, and one such route makes it refuse them all)."""
        need_of = {n: self.node_need[n].id for n in nodes}  # type: ignore[union-attr]
        route = list(nodes)
        while route and not self.holds(i, route, whole):
            for need in reversed(list(dict.fromkeys(need_of[n] for n in route))):
                trial = [n for n in route if need_of[n] != need]
                if self.holds(i, trial, whole):
                    route = trial
                    break
            else:
                route = [n for n in route if need_of[n] != need_of[route[-1]]]
        return route

    def with_collections(self, stops: list[Timed]) -> list[Timed]:
        """A route's stops with the collections made where it starts put in, after the start,
        in the order of their deliveries."""
        first = [
            Timed(
                kind=StopKind.collect,
                place=stops[0].place,
                lon=stops[0].lon,
                lat=stops[0].lat,
                need=s.need,
                site=self.day.need(s.need).site,  # type: ignore[arg-type]
            )
            for s in stops
            if s.kind is StopKind.deliver and s.need in self.at_start
        ]
        return [stops[0], *first, *stops[1:]]

    def _dimensions(self) -> None:
        routing, vehicles = self.routing, self.vehicles
        n = len(self.node_place)
        service = np.zeros(n, dtype=np.int64)
        collect = np.array([k is StopKind.collect for k in self.node_kind], dtype=bool)
        for node, (kind, need) in enumerate(zip(self.node_kind, self.node_need, strict=True)):
            if kind is StopKind.collect:
                service[node] = _whole(self.rules.per_item_s)
            elif need is not None:
                service[node] = need.duration * 60
        place = np.array(self.node_place, dtype=np.int64)
        # One visit to a site, one handling: from a collection to another at the same site
        # there is no travel and no handling, only the parcel's time; leaving the site (from the
        # visit's last collection) takes the handling.
        same_visit = collect[:, None] & collect[None, :] & (place[:, None] == place[None, :])
        handling = np.where(collect, _whole(self.rules.handling_s), 0)
        travel_cb: dict[Transport, int] = {}
        time_cb: dict[Transport, int] = {}
        for mode in sorted({v.transport for v in vehicles}):
            secs = self.places.matrix(mode).seconds[place][:, place]
            # Rounded up: whole seconds for the solver that never undercount the real travel.
            travel = np.ceil(secs).astype(np.int64)
            travel_cb[mode] = routing.RegisterTransitMatrix(travel.tolist())
            timed = travel + service[:, None] + handling[:, None]
            timed[same_visit] = service[:, None].repeat(n, axis=1)[same_visit]
            # A route that starts with a visit to its site leaves after the handling.
            if self.loading and self.rules.handling_s > 0:
                starts = [self.starts[i] for i in self.loading]
                ends = [self.ends[i] for i in self.loading]
                timed[starts] += _whole(self.rules.handling_s)
                timed[starts, ends] = 0  # an empty route visits nothing
            time_cb[mode] = routing.RegisterTransitMatrix(timed.tolist())
        for i, v in enumerate(vehicles):
            routing.SetArcCostEvaluatorOfVehicle(travel_cb[v.transport], i)

        routing.AddDimensionWithVehicleTransits(
            [time_cb[v.transport] for v in vehicles], HORIZON_S, HORIZON_S, False, "time"
        )
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [travel_cb[v.transport] for v in vehicles],
            0,
            [max(0, v.travel_left_s) for v in vehicles],
            True,
            "travel",
        )
        load = [0] * n
        tasks = [0] * n
        for job, (pickup, drop) in zip(self.jobs, self.job_nodes, strict=True):
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
        routing.AddDimensionWithVehicleCapacity(
            routing.RegisterUnaryTransitVector(tasks),
            0,
            [max(0, v.tasks_left) for v in vehicles],
            True,
            "tasks",
        )
        routing.GetDimensionOrDie("tasks").SetGlobalSpanCostCoefficient(weights.BALANCE_PER_TASK)
        time_dim = routing.GetDimensionOrDie("time")
        load_dim = routing.GetDimensionOrDie("load")
        # Vehicles that may collect goods where they start carry them from the start: their
        # load on leaving is what their route delivers of them, left to the solver (never less
        # than it, since no load goes below zero).
        for i, v in enumerate(vehicles):
            start, end = routing.Start(i), routing.End(i)
            time_dim.CumulVar(start).SetRange(v.start_s, v.end_s)
            time_dim.CumulVar(end).SetRange(v.start_s, v.end_s)
            onboard = sum(self.day.need(x).load for x in v.onboard)
            if i in self.loading:
                load_dim.CumulVar(start).SetRange(onboard, v.volunteer.capacity)
            else:
                load_dim.CumulVar(start).SetValue(onboard)
            routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(end))
            routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(start))

    def _jobs(self, rules: TimeRules) -> None:
        """Windows (the service ends inside them), site hours, pairs, allowed volunteers, and
        the penalty for leaving each need out."""
        routing, manager, day = self.routing, self.manager, self.day
        time_dim = routing.GetDimensionOrDie("time")
        limit = int(rules.onboard_limit_s)
        # Kept on the model: the solver calls it for as long as the model lives.
        self._onboard_limit = lambda _pickup, _delivery: limit
        pairs = 0
        for job, (pickup, drop) in zip(self.jobs, self.job_nodes, strict=True):
            need = job.need
            penalty = weights.need_value(need, day.equity)
            allowed = list(job.vehicles)
            d = manager.NodeToIndex(drop)
            time_dim.CumulVar(d).SetRange(
                need.window_start * 60, (need.window_end - need.duration) * 60
            )
            routing.VehicleVar(d).SetValues([-1, *allowed])
            if pickup is None:
                if need.kind.is_delivery and need.id not in self.at_start:
                    penalty *= 100  # already on board: deliver it, whatever it costs
                routing.AddDisjunction([d], 2 * penalty)
                continue
            p = manager.NodeToIndex(pickup)
            site = day.site(need.site)  # type: ignore[arg-type]
            last = site.closes * 60 - _whole(rules.handling_s) - _whole(rules.per_item_s)
            time_dim.CumulVar(p).SetRange(site.opens * 60, last)
            routing.VehicleVar(p).SetValues([-1, *allowed])
            # Same volunteer, collect first: the pair constraint enforces both, and time order
            # follows along the route. (Extra solver constraints would only slow the search.)
            routing.AddPickupAndDelivery(p, d)
            time_dim.SetPickupToDeliveryLimitFunctionForPair(self._onboard_limit, pairs)
            pairs += 1
            routing.AddDisjunction([p], penalty)
            routing.AddDisjunction([d], penalty)

    def timed(self, node: int) -> Timed:
        """The stop a node stands for, not yet timed."""
        place = self.node_place[node]
        need = self.node_need[node]
        kind = self.node_kind[node]
        points = self.places.points
        return Timed(
            kind=kind,
            place=place,
            lon=float(points[place, 0]),
            lat=float(points[place, 1]),
            need=need.id if need is not None else None,
            site=need.site if kind is StopKind.collect and need is not None else None,
        )

    def hint_routes(self, hint: dict[str, list[tuple[StopKind, str]]]) -> list[list[int]]:
        """Starting routes as routing indices, from (stop kind, need id) lists; stops the model
        no longer has (or no longer allows on that vehicle) are left out, and so are the needs
        that break a time rule in the solver's whole seconds (``keep_timed``)."""
        nodes_of = {job.need.id: n for job, n in zip(self.jobs, self.job_nodes, strict=True)}
        allowed = {job.need.id: set(job.vehicles) for job in self.jobs}
        routes = []
        for i, v in enumerate(self.vehicles):
            route: list[int] = []
            for kind, need_id in hint.get(v.id, []):
                if need_id not in nodes_of or i not in allowed[need_id]:
                    continue
                pickup, drop = nodes_of[need_id]
                node = pickup if kind is StopKind.collect else drop
                if node is not None:
                    route.append(node)
            kept = self.keep_timed(i, route, whole=True)
            routes.append([self.manager.NodeToIndex(n) for n in kept])
        return routes


class _Search:
    """Counts the local search's accepted solutions and stops it when the rule fires."""

    def __init__(self, routing: pywrapcp.RoutingModel, stop: StoppingCriterion, clock: float):
        # No reference to the model: it holds this search's callbacks, so one would make a
        # cycle through C++ that Python cannot collect (the model, about 100 MB on the default
        # day, would outlive every plan). The solver and the cost are wrapped once:
        # ``stalled`` runs at every check of the search (hundreds of thousands of times), and
        # a wrapper made per call cost a third of the search's time with the garbage it left.
        self.solver = routing.solver()
        self.cost = routing.CostVar()
        self.checks = 0
        self.stop, self.clock = stop, clock
        self.iterations = -1  # the first call is the starting solution itself
        self.best = None
        self.best_iteration = 0
        self.best_s = 0.0
        self.stopped_by = ""
        self.branches_at_solution = 0

    def stalled(self) -> bool:
        # Looked at every STALL_CHECK_EVERY calls only: even a cached wrapper's call costs more
        # than the search's own check, and the stall is measured in tens of thousands.
        self.checks += 1
        if self.checks % STALL_CHECK_EVERY:
            return False
        if self.solver.Branches() - self.branches_at_solution > STALL_BRANCHES:
            self.stopped_by = "no improving move found"
            return True
        return False

    def progress(self) -> Progress:
        return Progress(
            iterations=max(0, self.iterations),
            since_best=max(0, self.iterations) - self.best_iteration,
            elapsed_s=time.monotonic() - self.clock,
        )

    def at_solution(self) -> None:
        self.iterations += 1
        self.branches_at_solution = self.solver.Branches()
        cost = self.cost.Value()
        if self.best is None or cost < self.best:
            self.best, self.best_iteration = cost, max(0, self.iterations)
            self.best_s = time.monotonic() - self.clock
        progress = self.progress()
        if self.stop.fired(progress):
            self.stopped_by = fired_rule(self.stop, progress)
            self.solver.FinishCurrentSearch()

    def stats(self) -> dict[str, float | int | str]:
        progress = self.progress()
        stopped = self.stopped_by or fired_rule(self.stop, progress) or "no improving move found"
        return {
            "iterations": progress.iterations,
            "best_iteration": self.best_iteration,
            "best_found_s": round(self.best_s, 3),
            "stopped_by": stopped,
        }


def solve_routes_best(
    day: Day,
    jobs: Sequence[Job],
    vehicles: Sequence[Vehicle],
    places: Places,
    stop: StoppingCriterion,
    together: Sequence[Sequence[str]] = (),
    hint: dict[str, list[tuple[StopKind, str]]] | None = None,
    workers: int = 1,
    clock: float | None = None,
    rules: TimeRules = DEFAULT_RULES,
) -> RoutingResult:
    """``solve_routes`` with each of ``FIRST_SOLUTIONS`` side by side in worker processes (as
    many as ``workers`` allows), keeping the result of least cost (the first on a tie, so the
    outcome does not depend on which process finishes first); one strategy with one worker."""
    clock = time.monotonic() if clock is None else clock
    strategies = FIRST_SOLUTIONS[: max(1, workers)]
    args = (day, jobs, vehicles, places, stop, together, hint)
    if len(strategies) == 1 or hint:
        # One search: the warm start may use every worker (the search itself uses one).
        return solve_routes(*args, clock=clock, rules=rules, threads=max(1, workers))
    with ProcessPoolExecutor(max_workers=len(strategies)) as pool:
        tasks = [(*args, s, clock, rules) for s in strategies]
        results = list(pool.map(_solve_with, tasks))
    best = min(range(len(results)), key=lambda k: (results[k].objective, k))
    return results[best]


def _solve_with(args: tuple) -> RoutingResult:  # type: ignore[type-arg]
    return solve_routes(*args)


def _whole(seconds: float) -> int:
    """Seconds as the solver's whole seconds, rounded up so that its routes hold."""
    return math.ceil(seconds - 1e-9)


def _search_parameters(
    first: str, stop: StoppingCriterion | None = None, clock: float | None = None
) -> pywrapcp.RoutingSearchParameters:
    """The ``first`` strategy for a first solution, then guided local search. Only a time rule
    sets a wall-clock limit (a backstop between accepted solutions); otherwise no part of the
    search looks at the clock, so it gives the same routes on any machine."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    # Sub-searches of the large-neighbourhood operators get a generous wall-clock limit: they
    # finish long before it, so a busy machine does not make them fail.
    params.lns_time_limit.FromSeconds(60)
    # Not the operators that take whole routes out and insert their needs again by cheapest
    # insertion: each neighbour synchronises every filter over every route, and on the
    # bundled day, from VROOM's routes, they ran for 8 to 10 s without looking at the time
    # limit (a 30 s plan ended at 38 to 40 s). In 100 iterations they gave no accepted move:
    # the plan is the same without them. (Relocating a whole route to insert needs left out
    # stays: it is what makes room for a need only one volunteer can serve.)
    operators = params.local_search_operators
    operators.use_global_cheapest_insertion_path_lns = optional_boolean_pb2.BOOL_FALSE
    operators.use_local_cheapest_insertion_path_lns = optional_boolean_pb2.BOOL_FALSE
    if stop is not None and stop.seconds is not None:
        left = stop.seconds - (time.monotonic() - (clock or time.monotonic()))
        params.time_limit.FromMilliseconds(max(1, int(left * 1000)))
    else:  # a backstop that never binds in practice (and keeps OR-Tools from warning)
        params.time_limit.FromSeconds(NO_TIME_LIMIT_S)
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
