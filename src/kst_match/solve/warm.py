"""A warm start for the routing search: PyVRP's hybrid genetic search, where the day fits it.

OR-Tools' guided local search finds its best early on long routes and then stalls (on Solomon's
R2 and RC2 instances it ends 8 to 15% above the best known). PyVRP's search is much stronger on
the plain problem but knows none of kst-match's side rules, so it only starts the search: its
routes go through the hint path as a first solution, and OR-Tools finishes them under every
rule and the whole objective (continuity, keeping a resident's needs together, balance).

It fits a day whose routed needs are each one stop (visits, and deliveries collected where the
routes start: ``_Model.at_start``), that every volunteer may serve, all travelling one way (one
travel matrix), with no preference for a volunteer (continuity, a resident's needs together).
Volunteers' shifts, starts and ends, carrying capacity, task and travel limits are PyVRP's
vehicle types; needs are optional with their value as the prize, so a day that
cannot be served whole still gets a start. Elsewhere (collect-and-deliver pairs, needs only
some volunteers may serve) the first solution is OR-Tools' own.

The stopping rule decides how long it runs, so a deterministic rule gives the same routes on
any machine: ``MaxIterations(n)`` gives PyVRP ``n * PYVRP_ITERATIONS`` iterations (likewise
``NoImprovement``) with a fixed seed, and a time limit gives it ``WARM_SHARE`` of the time left.
"""

from __future__ import annotations

import math
import time
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


def warm_routes(model: _Model, stop: StoppingCriterion, clock: float, seed: int = 0):  # type: ignore[no-untyped-def]
    """Starting routes from PyVRP (routing indices per vehicle, in vehicle order), or ``None``
    when the day does not fit, PyVRP is not installed, or the rule leaves it no room."""
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
    result = m.solve(stop=rule, seed=seed, display=False, collect_stats=False)
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
