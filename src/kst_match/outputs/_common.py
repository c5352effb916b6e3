"""Helpers shared by the output writers: route colours, leg lines and plain-language labels."""

from __future__ import annotations

import datetime as dt
import itertools

from kst_match.model import Day, Need, Plan, Route, ServiceKind, Site, Stop

LonLat = tuple[float, float]

# A qualitative palette: Kelly's colours of maximum contrast, without white, black and grey (the
# map uses greys for wards and unserved needs) and without the paler yellows and buff that
# vanish on a light map.
PALETTE: tuple[str, ...] = (
    "#0067a5",  # strong blue
    "#be0032",  # vivid red
    "#008856",  # vivid green
    "#f38400",  # vivid orange
    "#875692",  # strong purple
    "#882d17",  # reddish brown
    "#e68fac",  # purplish pink
    "#2b3d26",  # olive green
    "#a1caf1",  # very light blue
    "#604e97",  # violet
    "#8db600",  # yellow green
    "#b3446c",  # purplish red
    "#654522",  # yellowish brown
    "#e25822",  # reddish orange
    "#f99379",  # yellowish pink
    "#f6a600",  # orange yellow
)
# Routes whose extents come within this of each other (degrees, about 500 m) are neighbours
# and get different colours where the palette allows.
NEIGHBOUR_DEG = 0.005


def _extent(route: Route) -> tuple[float, float, float, float]:
    """The route's stops' bounding box (min lon, min lat, max lon, max lat), padded by half the
    neighbour distance."""
    lons = [s.lon for s in route.stops] or [0.0]
    lats = [s.lat for s in route.stops] or [0.0]
    pad = NEIGHBOUR_DEG / 2
    return min(lons) - pad, min(lats) - pad, max(lons) + pad, max(lats) + pad


def neighbours(plan: Plan) -> dict[str, set[str]]:
    """Volunteer id to the volunteers whose routes' padded extents overlap theirs."""
    boxes = {r.volunteer: _extent(r) for r in plan.routes}
    found: dict[str, set[str]] = {v: set() for v in boxes}
    for (a, ba), (b, bb) in itertools.combinations(boxes.items(), 2):
        if ba[0] <= bb[2] and bb[0] <= ba[2] and ba[1] <= bb[3] and bb[1] <= ba[3]:
            found[a].add(b)
            found[b].add(a)
    return found


def route_colours(plan: Plan) -> dict[str, str]:
    """Volunteer id to a hex colour from ``PALETTE``, stable for a given plan.

    Neighbouring routes (see :func:`neighbours`) get different colours: routes are coloured
    greedily, most neighbours first, each taking the colour no neighbour has that is least used
    so far; when all are taken (more neighbours than colours), the one fewest neighbours have.
    """
    near = neighbours(plan)
    order = sorted(near, key=lambda v: (-len(near[v]), v))
    colours: dict[str, str] = {}
    uses = dict.fromkeys(PALETTE, 0)
    for volunteer in order:
        used = [colours[n] for n in near[volunteer] if n in colours]
        free = [c for c in PALETTE if c not in used]
        # Among the free colours, the one least used so far: colours spread over the map.
        colour = min(free, key=uses.__getitem__) if free else min(PALETTE, key=used.count)
        colours[volunteer] = colour
        uses[colour] += 1
    return {r.volunteer: colours[r.volunteer] for r in plan.routes}


def leg_lines(route: Route) -> list[list[LonLat]]:
    """One lon/lat line per leg (``len(stops) - 1`` of them).

    The planner's geometry is used when it has one line per leg (it follows the streets when a
    street network was loaded); otherwise each leg is the straight line between its two stops.
    """
    stops = route.stops
    if len(route.geometry) == max(len(stops) - 1, 0) and all(len(g) >= 2 for g in route.geometry):
        return [[(float(x), float(y)) for x, y in leg] for leg in route.geometry]
    return [[(a.lon, a.lat), (b.lon, b.lat)] for a, b in itertools.pairwise(stops)]


def route_line(route: Route) -> list[list[LonLat]]:
    """The route as connected lines: legs that join end to start are merged into one line.

    Legs that go nowhere (a call is made where the volunteer is) are dropped. A route that never
    moves is a single two-point line at its start, so that every route has a line.
    """
    lines: list[list[LonLat]] = []
    for leg in leg_lines(route):
        if all(p == leg[0] for p in leg):
            continue
        if lines and lines[-1][-1] == leg[0]:
            lines[-1].extend(leg[1:])
        else:
            lines.append(list(leg))
    if not lines:
        first = route.stops[0] if route.stops else None
        home = (first.lon, first.lat) if first else (0.0, 0.0)
        lines = [[home, home]]
    return lines


def kind_label(kind: ServiceKind | str) -> str:
    """``food_parcel`` -> ``food parcel``."""
    return str(kind).replace("_", " ")


def stop_need(day: Day, stop: Stop) -> Need | None:
    """The need a stop serves, or None for start and end."""
    if stop.need is None:
        return None
    try:
        return day.need(stop.need)
    except KeyError:
        raise ValueError(f"the plan's stop refers to need {stop.need!r}, not in the day") from None


def stop_site(day: Day, stop: Stop) -> Site | None:
    """The site of a collect stop (from the stop, else from its need), or None."""
    site_id = stop.site
    if site_id is None:
        need = stop_need(day, stop)
        site_id = need.site if need is not None and stop.kind == "collect" else None
    if site_id is None:
        return None
    try:
        return day.site(site_id)
    except KeyError:
        raise ValueError(f"the plan's stop refers to site {site_id!r}, not in the day") from None


def stamp(moment: dt.datetime | None = None) -> str:
    """A time of generation as printed on the outputs, in UTC: ``2026-11-25 08:30 UTC``
    (now when ``moment`` is None; a naive time is taken as local)."""
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
