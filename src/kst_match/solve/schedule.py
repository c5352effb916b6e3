"""Times along one volunteer's route in a fixed order: the rules a coordinator relies on.

- A visit, delivery or call starts at or after the start of the resident's window and ends by
  its end; a collection starts when the site is open and its handling ends before it closes.
- One visit to a site (collections in a row at one site) takes the parcels one after another,
  ``per_item_s`` each, then one handling time (``handling_s``: parking, signing, loading) however
  many there are: the visit's collections share their arrival and their departure, and each
  starts ``per_item_s`` after the one before.
- Goods spend at most the on-board limit between the start of their collection and the start of
  their delivery (goods already on board when a re-plan starts are exempt).
- A stop starts no earlier than the previous one ends plus the travel between them; a call
  needs no travel and is made from wherever the volunteer is.
- The day stays inside the shift, the load within the carrying capacity, the tasks and the
  travel within what is left of the day's limits.

``timetable`` finds the earliest times that keep every rule (collections are then moved as late
as they can go without delaying anything after them, so goods are carried no longer than
needed and the volunteer leaves home just in time), or reports that none exist. Times are
seconds after midnight, exact (floats); travel is the travel model's, not rounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kst_match.model import Day, StopKind
from kst_match.solve.places import Places
from kst_match.solve.timed import Timed
from kst_match.solve.vehicles import Vehicle

HANDLING_S = 180  # seconds of handling per visit to a site, however many parcels
PER_ITEM_S = 30  # seconds per parcel collected on a visit
ONBOARD_LIMIT_S = 2 * 3600  # default bound on goods' time on board, seconds


@dataclass(frozen=True)
class TimeRules:
    """The figures of the time rules a plan is made under, seconds: goods' longest time on
    board, the handling of one visit to a site, and the time per parcel collected."""

    onboard_limit_s: float = ONBOARD_LIMIT_S
    handling_s: float = HANDLING_S
    per_item_s: float = PER_ITEM_S

    def visit_s(self, items: int) -> float:
        """Time at a site to collect ``items`` parcels on one visit."""
        return self.handling_s + items * self.per_item_s

    def latest_collect_s(self, closes_s: float) -> float:
        """The latest start of a visit's last collection at a site closing at ``closes_s``."""
        return closes_s - self.visit_s(1)


DEFAULT_RULES = TimeRules()

TASKS = (StopKind.deliver, StopKind.visit, StopKind.call)


def _same_visit(a: Timed, b: Timed) -> bool:
    """Two collections in a row at one site: one visit, one handling."""
    return a.kind is StopKind.collect and b.kind is StopKind.collect and a.place == b.place


def timetable(
    stops: Sequence[Timed],
    vehicle: Vehicle,
    day: Day,
    places: Places,
    rules: TimeRules = DEFAULT_RULES,
    write: bool = True,
    whole: bool = False,
) -> bool:
    """Time ``stops`` (start first, end last) for ``vehicle``; True if every rule holds.

    With ``write`` the stops' times, travel, distance, load (and a call's place) are filled in
    place when the route is feasible; an infeasible route is left as it was. ``whole``: time
    it as the routing solver does, in whole seconds (travel and handling rounded up, the
    on-board limit down), where a route given to the solver must hold.
    """
    if whole:
        rules = TimeRules(
            math.floor(rules.onboard_limit_s),
            math.ceil(rules.handling_s - 1e-9),
            math.ceil(rules.per_item_s - 1e-9),
        )
    n = len(stops)
    if n < 2 or stops[0].kind is not StopKind.start or stops[-1].kind is not StopKind.end:
        return False
    if sum(1 for s in stops if s.kind in TASKS) > vehicle.tasks_left:
        return False
    mode = vehicle.transport
    matrix = places.matrix(mode)
    # Where each stop is made, travel to it, its bounds and its time on site.
    place = [s.place for s in stops]
    travel = [0.0] * n
    lower = [0.0] * n
    upper = [0.0] * n
    service = [0.0] * n
    load = sum(day.need(x).load for x in vehicle.onboard)
    capacity = vehicle.volunteer.capacity
    if load > capacity:
        return False
    here = stops[0].place
    travelled = 0.0
    collect_at: dict[str, int] = {}
    pairs: list[tuple[int, int]] = []
    lower[0], upper[0] = float(vehicle.start_s), float(vehicle.end_s)
    for i in range(1, n):
        stop = stops[i]
        if stop.kind is StopKind.call:
            place[i] = here
        else:
            travel[i] = float(matrix.seconds[here, stop.place])
            if whole:
                travel[i] = float(math.ceil(travel[i]))
            travelled += travel[i]
            here = stop.place
        if stop.kind is StopKind.end:
            lower[i], upper[i] = 0.0, float(vehicle.end_s)
            continue
        need = day.need(stop.need)  # type: ignore[arg-type]
        if stop.kind is StopKind.collect:
            site = day.site(need.site)  # type: ignore[arg-type]
            lower[i], upper[i] = site.opens * 60.0, rules.latest_collect_s(site.closes * 60.0)
            service[i] = rules.visit_s(1)
            collect_at[need.id] = i
            load += need.load
        else:
            lower[i] = need.window_start * 60.0
            upper[i] = need.window_end * 60.0 - need.duration * 60.0
            service[i] = need.duration * 60.0
            if stop.kind is StopKind.deliver:
                load -= need.load
                if need.id in collect_at:
                    pairs.append((collect_at[need.id], i))
        if load > capacity or load < 0:
            return False
    if travelled > vehicle.travel_left_s + 1e-6:
        return False
    # The handling of one visit to a site is taken once, after the last collection of the visit.
    tied = [i > 0 and _same_visit(stops[i - 1], stops[i]) for i in range(n)]
    for i in range(1, n):
        if tied[i]:
            service[i - 1] = rules.per_item_s

    times = _earliest(lower, upper, service, travel, tied, pairs, rules.onboard_limit_s)
    if times is None:
        return False
    _late_collections(stops, times, upper, service, travel, tied)
    if write:
        _write(stops, vehicle, day, places, times, place, travel, service)
    return True


def _earliest(
    lower: list[float],
    upper: list[float],
    service: list[float],
    travel: list[float],
    tied: list[bool],
    pairs: list[tuple[int, int]],
    limit: float,
) -> list[float] | None:
    """The earliest start of every stop that keeps the order, bounds, ties and on-board limits,
    or None. Raising a collection's earliest start when its goods would wait too long is the
    Bellman-Ford step of the difference constraints; it converges in at most as many rounds as
    there are stops, unless no schedule exists."""
    n = len(lower)
    lb = list(lower)
    for _ in range(n + 1):
        times = [lb[0]]
        for i in range(1, n):
            times.append(max(lb[i], times[i - 1] + service[i - 1] + travel[i]))
        # Collections of one visit follow each other with no wait: an earlier one waits for a
        # later one.
        raised = False
        for i in range(n - 1, 0, -1):
            if tied[i] and times[i] > times[i - 1] + service[i - 1] + 1e-9:
                lb[i - 1] = max(lb[i - 1], times[i] - service[i - 1])
                raised = True
        for p, d in pairs:
            if times[d] - times[p] > limit:
                lb[p] = max(lb[p], times[d] - limit)
                raised = True
        if any(t > u + 1e-9 for t, u in zip(times, upper, strict=True)):
            return None
        if not raised:
            return times
    return None


def _late_collections(
    stops: Sequence[Timed],
    times: list[float],
    upper: list[float],
    service: list[float],
    travel: list[float],
    tied: list[bool],
) -> None:
    """Move each collection (a whole visit to a site) and the start from home as late as they
    can go without delaying the next stop: goods are carried no longer than needed, and waiting
    is done at home or before collecting rather than with goods on board."""
    n = len(times)
    for i in range(n - 2, -1, -1):
        kind = stops[i].kind
        if kind is not StopKind.start and not (kind is StopKind.collect and not tied[i + 1]):
            continue
        latest = min(upper[i], times[i + 1] - service[i] - travel[i + 1])
        if latest > times[i]:
            times[i] = latest
            j = i
            while j > 0 and tied[j]:
                times[j - 1] = times[j] - service[j - 1]
                j -= 1


def _write(
    stops: Sequence[Timed],
    vehicle: Vehicle,
    day: Day,
    places: Places,
    times: list[float],
    place: list[int],
    travel: list[float],
    service: list[float],
) -> None:
    points = places.points
    matrix = places.matrix(vehicle.transport)
    load = sum(day.need(x).load for x in vehicle.onboard)
    here = stops[0].place
    for i, stop in enumerate(stops):
        if stop.kind is StopKind.call:
            stop.place = place[i]
            stop.lon, stop.lat = float(points[place[i], 0]), float(points[place[i], 1])
            stop.distance_m = 0.0
        elif i > 0:
            stop.distance_m = float(matrix.metres[here, stop.place])
            here = stop.place
        stop.travel_s = travel[i]
        stop.start = times[i]
        stop.arrival = times[i] if i == 0 else stops[i - 1].departure + travel[i]
        # A collection before the last of its visit leaves with the visit (set below).
        stop.departure = times[i] + service[i]
        if stop.kind is StopKind.collect:
            load += day.need(stop.need).load  # type: ignore[arg-type]
        elif stop.kind is StopKind.deliver:
            load -= day.need(stop.need).load  # type: ignore[arg-type]
        stop.load = load
    # Collections of one visit share their arrival (the first's) and departure (the last's).
    for i in range(1, len(stops)):
        if _same_visit(stops[i - 1], stops[i]):
            stops[i].arrival = stops[i - 1].arrival
    for i in range(len(stops) - 1, 0, -1):
        if _same_visit(stops[i - 1], stops[i]):
            stops[i - 1].departure = stops[i].departure
