"""Warm starts for the routing search: PyVRP's hybrid genetic search where the day fits it,
else VROOM under a time limit.

OR-Tools' guided local search finds its best early on long routes and then stalls (on Solomon's
R2 and RC2 instances it ends 8 to 15% above the best known). PyVRP's search is much stronger on
the plain problem but knows none of kst-match's side rules, so it only starts the search: its
routes go through the hint path as a first solution, and OR-Tools finishes them under every
rule and the whole objective (continuity, keeping a resident's needs together, balance).

It fits a day whose routed needs are each one stop (visits, and deliveries collected where the
routes start: ``_Model.at_start``), that every volunteer may serve, all travelling one way (one
travel matrix), with no preference for a volunteer (continuity, a resident's needs together).
Volunteers' shifts, starts and ends, carrying capacity, task and travel limits are PyVRP's
vehicle types; needs are optional with their value as the prize, so a day that cannot be
served whole still gets a start.

Elsewhere (collect-and-deliver pairs, needs only some volunteers may serve) VROOM starts a day
of ``VROOM_MIN_NEEDS`` or more under a time limit (``vroom_routes``); otherwise the first
solution is OR-Tools' own.

The stopping rule decides how long it runs, so a deterministic rule gives the same routes on
any machine: ``MaxIterations(n)`` gives PyVRP ``n * PYVRP_ITERATIONS`` iterations (likewise
``NoImprovement``) with a fixed seed, and a time limit gives it ``WARM_SHARE`` of the time left.
"""

from __future__ import annotations

import math
import time
import warnings
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from kst_match.solve import weights
from kst_match.solve.stop import (
    AnyOf,
    MaxIterations,
    MaxRuntime,
    NoImprovement,
    StoppingCriterion,
)

if TYPE_CHECKING:
    from kst_match.solve.routing import _Model

# PyVRP iterations per iteration of the rule: one accepted OR-Tools solution is worth about this
# much of PyVRP's search (on Solomon's 100 customers PyVRP makes about 100 times as many
# iterations a second as guided local search accepts solutions).
PYVRP_ITERATIONS = 100
# Of a time limit, the share left to PyVRP; OR-Tools finishes in the rest.
WARM_SHARE = 0.8


def fits(model: _Model) -> bool:
    """Does the day fit PyVRP's model (see the module's docstring)?"""
    everyone = set(range(len(model.vehicles)))
    return (
        bool(model.jobs)
        and len({v.transport for v in model.vehicles}) == 1
        and all(pickup is None for pickup, _ in model.job_nodes)
        and all(
            not job.need.kind.is_delivery or job.need.id in model.at_start for job in model.jobs
        )
        and not any(v.onboard for v in model.vehicles)
        and all(set(job.vehicles) == everyone for job in model.jobs)
        # Preferences for volunteers (continuity, a resident's needs together) are the
        # objective's first concern after serving: a start that ignores them is left out.
        and not any(job.prefer for job in model.jobs)
        and not any(len(group) > 1 for group in model.together)
    )


def _pyvrp_stop(stop: StoppingCriterion, clock: float):  # type: ignore[no-untyped-def]
    """PyVRP's stopping rule for the warm start under ``stop``; ``None`` for no warm start."""
    import pyvrp.stop as ps

    if isinstance(stop, MaxRuntime):
        left = stop.limit_s - (time.monotonic() - clock)
        return ps.MaxRuntime(WARM_SHARE * left) if left > 0 else None
    if isinstance(stop, MaxIterations):
        return ps.MaxIterations(stop.iterations * PYVRP_ITERATIONS) if stop.iterations else None
    if isinstance(stop, NoImprovement):
        return ps.NoImprovement(stop.iterations * PYVRP_ITERATIONS) if stop.iterations else None
    if isinstance(stop, AnyOf):
        parts = [_pyvrp_stop(c, clock) for c in stop.criteria]
        if any(p is None for p in parts):
            return None
        return ps.MultipleCriteria(parts)
    return None  # FirstFeasible, or a rule PyVRP cannot follow


def warm_routes(  # type: ignore[no-untyped-def]
    model: _Model, stop: StoppingCriterion, clock: float, seed: int = 0, threads: int = 1
):
    """Starting routes from PyVRP (routing indices per vehicle, in vehicle order), or ``None``
    when the day does not fit, PyVRP is not installed, or the rule leaves it no room. PyVRP's
    search is one thread whatever ``threads``."""
    if not fits(model):
        return None
    try:
        import pyvrp
    except ImportError:
        return None
    rule = _pyvrp_stop(stop, clock)
    if rule is None:
        return None
    m, types, clients = _pyvrp_model(model, pyvrp)
    with warnings.catch_warnings():
        # On a day it cannot serve whole, PyVRP says its penalties reached their bound: its
        # best is then judged below, and OR-Tools starts on its own if it is not feasible.
        warnings.simplefilter("ignore", pyvrp.exceptions.PenaltyBoundWarning)
        result = m.solve(stop=rule, seed=seed, display=False, collect_stats=False)
    if not result.is_feasible():
        return None
    best = result.best
    free = {key: list(vehicles) for key, vehicles in types.items()}
    routes: list[list[int]] = [[] for _ in model.vehicles]
    for route in best.routes():
        i = free[route.vehicle_type()].pop(0)
        routes[i] = [model.manager.NodeToIndex(clients[a.idx]) for a in route if a.is_client()]
    return routes


def _pyvrp_model(model: _Model, pyvrp):  # type: ignore[no-untyped-def]
    """The PyVRP model of ``model``'s day: vehicle types (type index -> vehicle indices) and
    clients (client index -> the need's node)."""
    vehicles = model.vehicles
    seconds = model.places.matrix(vehicles[0].transport).seconds
    m = pyvrp.Model()
    # Depots first (every distinct start and end), then one location per client.
    depot_places = sorted({model.node_place[n] for n in (*model.starts, *model.ends)})
    depot_of = {p: m.add_depot(m.add_location(x=0, y=0)) for p in depot_places}
    handling = math.ceil(model.rules.handling_s - 1e-9) if model.at_start else 0
    # Vehicles alike are one vehicle type: start, end, shift, capacity, tasks and travel.
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, v in enumerate(vehicles):
        key = (
            model.node_place[model.starts[i]],
            model.node_place[model.ends[i]],
            v.start_s + handling,
            v.end_s,
            v.volunteer.capacity,
            max(0, v.tasks_left),
            max(0, v.travel_left_s),
        )
        groups.setdefault(key, []).append(i)
    types: dict[int, list[int]] = {}
    for k, (key, members) in enumerate(groups.items()):
        m.add_vehicle_type(
            num_available=len(members),
            capacity=[key[4], key[5]],
            start_depot=depot_of[key[0]],
            end_depot=depot_of[key[1]],
            tw_early=key[2],
            tw_late=key[3],
            max_distance=key[6],
        )
        types[k] = members
    clients: list[int] = []
    for job, (_, drop) in zip(model.jobs, model.job_nodes, strict=True):
        need = job.need
        load = need.load if need.kind.is_delivery else 0
        m.add_client(
            m.add_location(x=0, y=0),
            delivery=[load, 1],
            service_duration=need.duration * 60,
            tw_early=need.window_start * 60,
            tw_late=(need.window_end - need.duration) * 60,
            required=False,
            prize=weights.serve_value(need.priority),
        )
        clients.append(drop)
    places = [*depot_places, *(model.node_place[d] for d in clients)]
    # Whole seconds rounded up, as OR-Tools sees them, so PyVRP's routes hold there.
    travel = np.ceil(seconds[np.ix_(places, places)]).astype(np.int64)
    locations = m.locations
    for a, frm in enumerate(locations):
        for b, to in enumerate(locations):
            if a != b:
                m.add_edge(frm, to, distance=int(travel[a, b]), duration=int(travel[a, b]))
    return m, types, clients


# VROOM's priorities by need priority (its scale is 0 to 100), kst-match's 10:3:1.
VROOM_PRIORITY = {"urgent": 100, "high": 30, "normal": 10}
# Days with fewer routed needs than this are left to OR-Tools alone: its search is close to the
# best on them, and a small day's plan stays the one worked out by hand in the tests.
VROOM_MIN_NEEDS = 50
# VROOM divides a time limit equally between its searches, fixed slices, before any runs
# (``timeout / ceil(searches / threads)`` each), so its exploration level 5 (32 searches) under
# the 4 s the bundled day leaves it gives each search an eighth of a second on 2 threads and
# ends at 5.61 to 5.67 min of travel per need, where its first two searches, each given the
# whole time, end at 5.43 in 2 s. So the warm start runs VROOM in rounds: first
# ``VROOM_FIRST_SEARCHES`` per thread at depth ``VROOM_DEPTH``, each with all the time; then, if
# what is left holds, per thread, the first again (VROOM picks its searches in a fixed order)
# and ``VROOM_MORE_FROM`` more as long as the first took, a round of as many searches as fit,
# and the better of the two rounds is kept.
VROOM_FIRST_SEARCHES = 1
VROOM_MORE_FROM = 3
VROOM_DEPTH = 5
# The share of the time left VROOM may take (it runs only under a time rule); the search after
# it finishes in the rest.
VROOM_SHARE = 0.8


def vroom_fits(model: _Model) -> bool:
    """Can VROOM start a day PyVRP does not fit: collect-and-deliver pairs, needs only some
    volunteers may serve? Not a re-plan's (goods already on board)."""
    return len(model.jobs) >= VROOM_MIN_NEEDS and not any(v.onboard for v in model.vehicles)


def vroom_routes(  # type: ignore[no-untyped-def]
    model: _Model, stop: StoppingCriterion, clock: float, threads: int = 1
):
    """Starting routes from VROOM (routing indices per vehicle), or ``None``; ``threads``:
    VROOM's (it runs its several searches side by side, so more get done in its time).

    VROOM knows shipments, skills, setup per visit to a place, capacities, task and travel
    limits, but no bound on goods' time on board nor kst-match's preferences: a need with a
    preferred volunteer may only go to that volunteer in VROOM's problem, and each route is
    timed by kst-match's own rules (``timetable``), leaving out the needs that break them."""
    if not vroom_fits(model):
        return None
    try:
        import vroom
    except ImportError:
        return None
    timeout = _vroom_timeout(stop, clock)
    if timeout <= 0:
        return None
    problem, node_of = _vroom_problem(model, vroom)
    solution = _vroom_rounds(problem, max(1, threads), timeout)
    routes: list[list[int]] = [[] for _ in model.vehicles]
    frame = solution.routes
    for vid, steps in frame.groupby("vehicle_id", sort=True):
        nodes = [
            node_of[(int(k), kind)]
            for k, kind in zip(steps["id"], steps["type"], strict=True)
            if kind in ("pickup", "delivery") and (int(k), kind) in node_of
        ]
        kept = model.keep_timed(int(vid), nodes, whole=True)
        routes[int(vid)] = [model.manager.NodeToIndex(n) for n in kept]
    return routes


def _vroom_rounds(problem, threads: int, timeout: float):  # type: ignore[no-untyped-def]
    """VROOM's best solution in ``timeout`` seconds on ``threads`` threads, in rounds (see
    ``VROOM_FIRST_SEARCHES``): a few searches given all the time, then, if there is room for
    the first again and ``VROOM_MORE_FROM`` more per thread as long as the first took, as many
    as fit."""
    began = time.monotonic()
    best = _vroom_search(problem, threads * VROOM_FIRST_SEARCHES, threads, timeout)
    took = time.monotonic() - began
    left = timeout - took
    per_thread = int(left // max(took, 1e-3))
    if per_thread >= VROOM_FIRST_SEARCHES + VROOM_MORE_FROM:
        more = _vroom_search(problem, threads * per_thread, threads, left)
        if _vroom_rank(more) < _vroom_rank(best):
            return more
    return best


def _vroom_search(problem, searches: int, threads: int, timeout: float):  # type: ignore[no-untyped-def]
    """VROOM's ``searches`` first searches at depth ``VROOM_DEPTH`` (its C++ ``solve``; pyvroom's
    own ``solve`` takes an exploration level only), ``timeout`` seconds shared among them."""
    from vroom.solution.solution import Solution

    limit = timedelta(seconds=timeout)
    try:
        found = problem._solve(
            nb_searches=searches, depth=VROOM_DEPTH, nb_threads=threads, timeout=limit
        )
    except TypeError:  # a pyvroom without that binding: its exploration levels only
        return problem.solve(exploration_level=VROOM_DEPTH, nb_threads=threads, timeout=limit)
    return Solution(found)


def _vroom_rank(solution) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """VROOM's own order of solutions: the priority served first, then the jobs, then cost."""
    summary = solution.summary
    return (-int(summary.priority), int(summary.unassigned), int(summary.cost))


def _vroom_timeout(stop: StoppingCriterion, clock: float) -> float:
    """Seconds VROOM may take: its share of the time left under a time rule, else 0 (not at
    all: VROOM cannot be bounded by a count, and its whole search even at the lowest level
    takes about a minute on the bundled day on a busy core, so an iteration rule keeps OR-Tools'
    own first solution and its plan stays the same on any machine)."""
    if isinstance(stop, MaxRuntime):
        return max(0.0, VROOM_SHARE * (stop.limit_s - (time.monotonic() - clock)))
    if isinstance(stop, AnyOf) and stop.seconds is not None and stop.deterministic is False:
        return max(0.0, VROOM_SHARE * (stop.seconds - (time.monotonic() - clock)))
    return 0.0


def _vroom_problem(model: _Model, vroom):  # type: ignore[no-untyped-def]
    """VROOM's problem for ``model``, and (job index, step type) -> the model's node."""
    problem = vroom.Input()
    for mode in sorted({v.transport for v in model.vehicles}):
        secs = np.ceil(model.places.matrix(mode).seconds).astype(np.uint32)
        problem.set_durations_matrix(profile=mode.value, matrix_input=secs)
    rules = model.rules
    allowed: list[set[int]] = []
    for job in model.jobs:
        best = max(job.prefer.values(), default=0)
        preferred = {i for i, c in job.prefer.items() if c == best and i in job.vehicles}
        allowed.append(preferred or set(job.vehicles))
    skills: list[set[int]] = [set() for _ in model.vehicles]
    for k, vehicles in enumerate(allowed):
        for i in vehicles:
            skills[i].add(k)
    for i, v in enumerate(model.vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                id=i,
                start=model.node_place[model.starts[i]],
                end=model.node_place[model.ends[i]],
                profile=v.transport.value,
                capacity=vroom.Amount([v.volunteer.capacity]),
                skills=skills[i],
                time_window=vroom.TimeWindow(v.start_s, v.end_s),
                max_tasks=2 * max(0, v.tasks_left),
                max_travel_time=max(0, v.travel_left_s),
            )
        )
    node_of: dict[tuple[int, str], int] = {}
    handling = math.ceil(rules.handling_s - 1e-9)
    per_item = math.ceil(rules.per_item_s - 1e-9)
    for k, (job, (pickup, drop)) in enumerate(zip(model.jobs, model.job_nodes, strict=True)):
        need = job.need
        here = model.node_place[drop]
        window = [vroom.TimeWindow(need.window_start * 60, (need.window_end - need.duration) * 60)]
        if need.kind.is_delivery:
            site = model.day.site(need.site)  # type: ignore[arg-type]
            last = min(site.closes * 60 - handling - per_item, need.window_end * 60)
            first = vroom.ShipmentStep(
                id=k,
                location=model.places[(site.lon, site.lat)],
                default_setup=handling,
                default_service=per_item,
                time_windows=[vroom.TimeWindow(site.opens * 60, max(site.opens * 60, last))],
            )
            amount = need.load
        else:  # a visit: two VROOM tasks, as a delivery is, so the task limit holds
            first = vroom.ShipmentStep(id=k, location=here, time_windows=window)
            amount = 0
        problem.add_shipment(
            first,
            vroom.ShipmentStep(
                id=k, location=here, default_service=need.duration * 60, time_windows=window
            ),
            amount=vroom.Amount([amount]),
            skills={k},
            priority=VROOM_PRIORITY[need.priority.value],
        )
        if pickup is not None:
            node_of[(k, "pickup")] = pickup
        node_of[(k, "delivery")] = drop
    return problem, node_of
