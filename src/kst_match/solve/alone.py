"""Could this volunteer serve this need on an otherwise empty day?

The test behind both pruning (the solver only offers a need to volunteers who could serve it
alone) and explanation (a need nobody could serve alone is impossible, with the reason of the
volunteer who came closest; one somebody could serve was crowded out).
"""

from __future__ import annotations

from kst_match.model import Need, Reason, Site
from kst_match.solve.places import Places
from kst_match.solve.schedule import COLLECT_S
from kst_match.solve.vehicles import Vehicle

# How far a volunteer got, best last: the reason of the furthest one explains an impossible need.
_PROGRESS = (Reason.no_capacity, Reason.no_time, Reason.too_far)


def alone(need: Need, vehicle: Vehicle, places: Places, site: Site | None) -> Reason | None:
    """``None`` if ``vehicle`` can serve ``need`` alone, else the first rule it breaks.

    Checks, in order: carrying capacity, the time window within the shift (travelling from the
    vehicle's start via the collection site, handled inside the site's hours, the service ending
    inside the window, and back by the shift's end), then the travel limit. The collection can
    always wait until just before the delivery, so the on-board limit never binds here.
    """
    if vehicle.tasks_left < 1:
        return Reason.no_time
    if need.kind.is_call:
        start = max(need.window_start * 60, vehicle.start_s)
        latest = min(need.window_end * 60, vehicle.end_s) - need.duration * 60
        return None if start <= latest else Reason.no_time
    if need.load > vehicle.volunteer.capacity:
        return Reason.no_capacity
    mode = vehicle.transport
    here = places[vehicle.start]
    home = places[vehicle.end]
    to = places[(need.lon, need.lat)]
    t = float(vehicle.start_s)
    travelled = 0.0
    if site is not None and need.id not in vehicle.onboard:
        s = places[(site.lon, site.lat)]
        leg = places.seconds(mode, here, s)
        t = max(t + leg, site.opens * 60)
        if t + COLLECT_S > site.closes * 60:
            return Reason.no_time
        t += COLLECT_S
        travelled += leg
        here = s
    leg = places.seconds(mode, here, to)
    t = max(t + leg, need.window_start * 60)
    travelled += leg
    if t + need.duration * 60 > need.window_end * 60:
        return Reason.no_time
    back = places.seconds(mode, to, home)
    if t + need.duration * 60 + back > vehicle.end_s:
        return Reason.no_time
    if travelled + back > vehicle.travel_left_s:
        return Reason.too_far
    return None


def closest_reason(reasons: list[Reason]) -> Reason:
    """The reason of the volunteer who came closest to serving a need."""
    return max(reasons, key=_PROGRESS.index)
