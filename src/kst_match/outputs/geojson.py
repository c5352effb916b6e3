"""The plan's routes as GeoJSON (RFC 7946, WGS84 lon/lat).

One line feature per route (``LineString``, or ``MultiLineString`` where the planner's legs do
not join end to start), along the streets when the plan was made on a street network and
straight legs otherwise, then one ``Point`` per stop in visiting order (a call's geometry is
null: it is made by phone, from no place of its own). Personal data is kept to a minimum: a
resident appears by pseudonymous id and postcode only (never a name, phone or address), a
volunteer by id only.

Route properties: ``feature`` ("route"), ``volunteer``, ``partner``, ``transport``, ``tasks``
(stops that serve a resident), ``needs`` (need ids in order), ``travel_s`` (seconds),
``distance_m`` (metres), ``start`` and ``end`` ("HH:MM"), ``colour`` (hex, also as
simplestyle-spec ``stroke``). Stop properties: ``feature`` ("stop"), ``volunteer``, ``order``
(0 = leaving home), ``kind``, ``need``, ``service``, ``priority``, ``resident``, ``postcode``,
``site``, ``arrival``/``start``/``departure`` ("HH:MM"), ``load`` (units carried on leaving),
``travel_s`` and ``distance_m`` (from the previous stop), ``colour``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kst_match.model import Day, Plan, Route, Stop, StopKind, format_clock
from kst_match.outputs._common import route_colours, route_line, stop_need, stop_site

SERVICE_STOPS = frozenset({StopKind.deliver, StopKind.visit, StopKind.call})


def route_feature(day: Day, route: Route, colour: str) -> dict[str, Any]:
    """The line feature of one route."""
    lines = route_line(route)
    geometry: dict[str, Any]
    if len(lines) == 1:
        geometry = {"type": "LineString", "coordinates": [list(p) for p in lines[0]]}
    else:
        geometry = {
            "type": "MultiLineString",
            "coordinates": [[list(p) for p in line] for line in lines],
        }
    try:
        partner: str | None = day.volunteer(route.volunteer).partner
    except KeyError:
        partner = None
    stops = route.stops
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "feature": "route",
            "volunteer": route.volunteer,
            "partner": partner,
            "transport": str(route.transport),
            "tasks": route.tasks,
            "needs": [s.need for s in stops if s.kind in SERVICE_STOPS and s.need is not None],
            "travel_s": round(route.travel_s, 1),
            "distance_m": round(route.distance_m, 1),
            "start": format_clock(stops[0].departure) if stops else None,
            "end": format_clock(stops[-1].arrival) if stops else None,
            "colour": colour,
            "stroke": colour,
            "stroke-width": 3,
        },
    }


def stop_feature(day: Day, route: Route, order: int, stop: Stop, colour: str) -> dict[str, Any]:
    """The point feature of one stop (``order`` 0 is leaving home)."""
    need = stop_need(day, stop)
    site = stop_site(day, stop) if stop.kind == StopKind.collect else None
    # A call is made by phone, wherever the volunteer happens to be (often the last resident's
    # door): it has no place of its own, so no geometry (RFC 7946 allows null).
    geometry = (
        None
        if stop.kind == StopKind.call
        else {"type": "Point", "coordinates": [stop.lon, stop.lat]}
    )
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "feature": "stop",
            "volunteer": route.volunteer,
            "order": order,
            "kind": str(stop.kind),
            "need": stop.need,
            "service": str(need.kind) if need else None,
            "priority": str(need.priority) if need else None,
            "resident": need.resident if need else None,
            "postcode": (site.postcode if site else need.postcode) if need else None,
            "site": site.id if site else None,
            "arrival": format_clock(stop.arrival),
            "start": format_clock(stop.start),
            "departure": format_clock(stop.departure),
            "load": stop.load,
            "travel_s": round(stop.travel_s, 1),
            "distance_m": round(stop.distance_m, 1),
            "colour": colour,
            "marker-color": colour,
        },
    }


def routes_geojson(day: Day, plan: Plan) -> dict[str, Any]:
    """A FeatureCollection: every route's line, then every route's stops in order."""
    colours = route_colours(plan)
    features = [route_feature(day, r, colours[r.volunteer]) for r in plan.routes]
    for route in plan.routes:
        colour = colours[route.volunteer]
        features.extend(stop_feature(day, route, i, s, colour) for i, s in enumerate(route.stops))
    return {
        "type": "FeatureCollection",
        "properties": {
            "date": plan.date.isoformat(),
            "version": plan.version,
            "travel_model": plan.travel_model,
        },
        "features": features,
    }


def write_geojson(day: Day, plan: Plan, path: str | Path) -> Path:
    """Write :func:`routes_geojson` to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(routes_geojson(day, plan), indent=1) + "\n", encoding="utf-8")
    return path
