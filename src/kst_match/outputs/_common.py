"""Helpers shared by the output writers: route colours, leg lines and plain-language labels."""

from __future__ import annotations

import datetime as dt
import itertools

from kst_match.model import Day, Need, Plan, Route, ServiceKind, Site, Stop

LonLat = tuple[float, float]

# A qualitative palette (d3's category10 and category20c's darker tones), cycled over routes in
# the plan's order. Greys are left out: the map uses them for wards and unserved needs.
PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#393b79",
    "#637939",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
)


def route_colours(plan: Plan) -> dict[str, str]:
    """Volunteer id to a hex colour, stable for a given plan (the order of its routes)."""
    return {route.volunteer: PALETTE[i % len(PALETTE)] for i, route in enumerate(plan.routes)}


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
