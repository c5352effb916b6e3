"""Cheapest feasible insertion of one need into volunteers' days as they stand.

Used after the search: every need left unserved is tried in every eligible volunteer's final
day, at every position (a delivery: its collection, then its delivery later in the day; a
visit: one stop; a call: between any two stops, with no travel), and goes where it adds the
least travel and every rule still holds (``kst_match.solve.schedule.timetable``). Candidate
positions are tried cheapest first, so most needs cost a handful of timetables.
"""

from __future__ import annotations

from collections.abc import Sequence

from kst_match.model import Day, Need, StopKind
from kst_match.solve import weights
from kst_match.solve.places import Places
from kst_match.solve.schedule import TASKS, TimeRules, timetable
from kst_match.solve.timed import Timed
from kst_match.solve.vehicles import Vehicle


def localised(stops: Sequence[Timed], places: Places) -> list[Timed]:
    """Copies of ``stops`` with their places indexed in ``places`` (found by lon/lat)."""
    out = []
    for s in stops:
        t = s.copy()
        t.place = places[(s.lon, s.lat)]
        out.append(t)
    return out


def _neighbours(stops: Sequence[Timed]) -> tuple[list[int], list[int]]:
    """For each position k (inserting before stop k): the place of the last physical stop
    before k, and of the first physical stop at or after k (calls are made where one is)."""
    n = len(stops)
    prev, nxt = [0] * n, [0] * n
    here = stops[0].place
    for k in range(n):
        prev[k] = here
        if stops[k].kind is not StopKind.call:
            here = stops[k].place
    ahead = stops[-1].place
    for k in range(n - 1, -1, -1):
        if stops[k].kind is not StopKind.call:
            ahead = stops[k].place
        nxt[k] = ahead
    return prev, nxt


Option = tuple[float, int, int]  # (added travel in seconds, collect before, serve before)


def insertion_options(
    need: Need, vehicle: Vehicle, stops: Sequence[Timed], day: Day, places: Places
) -> list[Option]:
    """Every way to add ``need`` to ``stops`` (a timed route of ``vehicle`` whose places
    index ``places``) that keeps within the task and travel limits, cheapest first; not yet
    checked against times, load or the on-board limit."""
    if len(stops) < 2:
        return []
    tasks = sum(1 for s in stops if s.kind in TASKS)
    if tasks >= vehicle.tasks_left:
        return []
    room = vehicle.travel_left_s - sum(s.travel_s for s in stops) + 1e-6
    t = places.matrix(vehicle.transport).seconds
    here = places[(need.lon, need.lat)]
    prev, nxt = _neighbours(stops)
    n = len(stops)
    options: list[tuple[float, int, int]] = []  # (added travel, collect before, serve before)
    if need.kind.is_call:
        options = [(0.0, -1, k) for k in range(1, n)]
    elif need.kind.is_delivery and need.id not in vehicle.onboard:
        site = day.site(need.site)  # type: ignore[arg-type]
        at = places[(site.lon, site.lat)]
        for i in range(1, n):
            into_i = t[prev[i], at] + t[at, nxt[i]] - t[prev[i], nxt[i]]
            together = t[prev[i], at] + t[at, here] + t[here, nxt[i]] - t[prev[i], nxt[i]]
            options.append((float(together), i, i))
            for j in range(i + 1, n):
                into_j = t[prev[j], here] + t[here, nxt[j]] - t[prev[j], nxt[j]]
                options.append((float(into_i + into_j), i, j))
    else:
        for k in range(1, n):
            added = t[prev[k], here] + t[here, nxt[k]] - t[prev[k], nxt[k]]
            options.append((float(added), -1, k))
    options.sort()
    return [o for o in options if o[0] <= room]


def best_insertion(
    need: Need,
    vehicle: Vehicle,
    stops: Sequence[Timed],
    day: Day,
    places: Places,
    rules: TimeRules,
    options: Sequence[Option] | None = None,
) -> tuple[float, list[Timed]] | None:
    """The cheapest feasible way to add ``need`` to ``stops``: (added travel in seconds, the
    new timed route), or None. ``options`` as from ``insertion_options`` (made here if not
    given) are tried cheapest first; trials share the route's stops (a timetable that only
    checks changes nothing), and only the one kept is copied and timed."""
    if options is None:
        options = insertion_options(need, vehicle, stops, day, places)
    points = places.points
    here = places[(need.lon, need.lat)]
    kind = (
        StopKind.call
        if need.kind.is_call
        else StopKind.deliver
        if need.kind.is_delivery
        else StopKind.visit
    )
    for added, i, j in options:
        trial: list[Timed] = []
        for k, stop in enumerate(stops):
            if k == i:
                site = day.site(need.site)  # type: ignore[arg-type]
                at = places[(site.lon, site.lat)]
                trial.append(
                    Timed(StopKind.collect, at, site.lon, site.lat, need=need.id, site=site.id)
                )
            if k == j:
                trial.append(
                    Timed(
                        kind,
                        here,
                        float(points[here, 0]),
                        float(points[here, 1]),
                        need=need.id,
                    )
                )
            trial.append(stop)
        if timetable(trial, vehicle, day, places, rules, write=False):
            kept = [s if s.need == need.id else s.copy() for s in trial]
            timetable(kept, vehicle, day, places, rules)
            return added, kept
    return None


def insertion_cost(need: Need, vehicle: Vehicle, added_s: float) -> float:
    """What an insertion costs in the objective's units: travel, less the continuity kept."""
    keep = weights.CONTINUITY if need.previous_volunteer == vehicle.id else 0
    return added_s - keep
