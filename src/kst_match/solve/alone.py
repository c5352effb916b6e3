"""Could this volunteer serve this need on an otherwise empty day?

The test behind both pruning (the solver only offers a need to volunteers who could serve it
alone) and explanation (a need nobody could serve alone is impossible, with the reason of the
volunteer who came closest; one somebody could serve was crowded out).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kst_match.geo.travel import TravelModel
from kst_match.model import Need, Reason, Site
from kst_match.solve.places import Places
from kst_match.solve.schedule import DEFAULT_RULES, TimeRules
from kst_match.solve.vehicles import Vehicle

# How far a volunteer got, best last: the reason of the furthest one explains an impossible need.
_PROGRESS = (Reason.no_capacity, Reason.no_time, Reason.too_far)


def alone(
    need: Need,
    vehicle: Vehicle,
    places: Places,
    site: Site | None,
    rules: TimeRules = DEFAULT_RULES,
) -> Reason | None:
    """``None`` if ``vehicle`` can serve ``need`` alone, else the first rule it breaks.

    Checks, in order: carrying capacity, the time window within the shift (travelling from the
    vehicle's start via the collection site, handled inside the site's hours, the service ending
    inside the window, with the goods on board no longer than the on-board limit even when
    collected as late as the site allows, and back by the shift's end), then the travel
    limit.
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
    latest_collect = None
    if site is not None and need.id not in vehicle.onboard:
        s = places[(site.lon, site.lat)]
        leg = places.seconds(mode, here, s)
        t = max(t + leg, site.opens * 60)
        visit = rules.visit_s(1)
        if t + visit > site.closes * 60:
            return Reason.no_time
        latest_collect = site.closes * 60 - visit
        t += visit
        travelled += leg
        here = s
    leg = places.seconds(mode, here, to)
    t = max(t + leg, need.window_start * 60)
    travelled += leg
    if t + need.duration * 60 > need.window_end * 60:
        return Reason.no_time
    if latest_collect is not None:
        # Collected as late as possible: just in time for the delivery, or as the site closes.
        collect = min(latest_collect, t - leg - rules.visit_s(1))
        if t - collect > rules.onboard_limit_s:
            return Reason.no_time
    back = places.seconds(mode, to, home)
    if t + need.duration * 60 + back > vehicle.end_s:
        return Reason.no_time
    if travelled + back > vehicle.travel_left_s:
        return Reason.too_far
    return None


def site_shut(need: Need, site: Site, rules: TimeRules = DEFAULT_RULES) -> bool:
    """True if no collection in the site's hours can be delivered in the resident's window,
    even with no travel at all: the site opens too late, or closes so early that the goods
    would be on board longer than the on-board limit."""
    first_collect = site.opens * 60
    last_collect = rules.latest_collect_s(site.closes * 60)
    last_delivery = (need.window_end - need.duration) * 60
    if first_collect + rules.visit_s(1) > last_delivery or last_collect < first_collect:
        return True
    return need.window_start * 60 - last_collect > rules.onboard_limit_s


def closest_reason(reasons: list[Reason]) -> Reason:
    """The reason of the volunteer who came closest to serving a need."""
    return max(reasons, key=_PROGRESS.index)


# Volunteers tested together, nearest first: a matrix over about a hundred places, whatever the
# size of the day (a borough-wide one over every volunteer's home would not fit in memory); the
# nearest chunk usually holds the few able volunteers a caller needs.
ALONE_CHUNK = 50


def alone_verdicts(
    need: Need,
    vehicles: Sequence[Vehicle],
    travel: TravelModel,
    site: Site | None,
    rules: TimeRules = DEFAULT_RULES,
    first_able: bool = False,
    enough: int | None = None,
) -> dict[str, Reason | None]:
    """``alone`` for each of ``vehicles`` (by id), tried in chunks of ``ALONE_CHUNK`` nearest
    first (straight-line distance from where they start). With ``first_able`` it stops after
    the chunk in which one is able (enough to know the need can be served); with ``enough``,
    after the chunk in which that many are able (the nearest ``enough`` able are then known,
    in order)."""
    if first_able:
        enough = 1
    if not vehicles:
        return {}
    starts = np.array([v.start for v in vehicles], dtype=float)
    # Straight-line distance, scaled for latitude: only an order, not a travel time.
    scale = np.cos(np.radians(need.lat))
    dist = ((starts[:, 0] - need.lon) * scale) ** 2 + (starts[:, 1] - need.lat) ** 2
    order = np.argsort(dist, kind="stable")
    verdicts: dict[str, Reason | None] = {}
    for k in range(0, len(order), ALONE_CHUNK):
        chunk = [vehicles[i] for i in order[k : k + ALONE_CHUNK]]
        points = [(need.lon, need.lat)] + ([(site.lon, site.lat)] if site else [])
        places = Places(travel, points + [p for v in chunk for p in (v.start, v.end)])
        for v in chunk:
            verdicts[v.id] = alone(need, v, places, site, rules)
        if enough is not None and sum(r is None for r in verdicts.values()) >= enough:
            break
    return verdicts
