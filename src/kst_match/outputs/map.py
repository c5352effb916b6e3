"""The plan as an HTML map (folium/Leaflet) that renders with no network.

Layers, each listed in the layer control: the 2022 wards, deprivation (the LSOAs shaded by
their IMD 2019 decile; off until picked), the collection sites, the routes (one polyline per
volunteer, coloured by volunteer, in the "Routes" layer), their stops (circle markers with
popups) and the needs left unserved (with the reason). Leaflet is inlined from the
vendored copy in ``vendor/`` instead of folium's CDN links, so the vectors render offline; the
OpenStreetMap tile layer only shows where there is a network.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import shapely
import shapely.geometry
from branca.element import Element, Figure, MacroElement
from jinja2.utils import htmlsafe_json_dumps

from kst_match.model import (
    REASON_TEXT,
    Day,
    Plan,
    Reason,
    Route,
    SiteKind,
    Stop,
    StopKind,
    format_clock,
)
from kst_match.outputs._common import (
    kind_label,
    route_colours,
    route_line,
    stamp,
    stop_need,
    stop_site,
)

log = logging.getLogger(__name__)

ROUTES_LAYER = "Routes"
STOPS_LAYER = "Stops"
SITES_LAYER = "Sites"
WARDS_LAYER = "Wards (2022)"
UNSERVED_LAYER = "Unserved needs"
DEPRIVATION_LAYER = "Deprivation (IMD 2019 decile, LSOA)"

# Class names on the SVG paths, so that a page (or a test) can find each kind of vector.
ROUTE_CLASS = "kst-route"
STOP_CLASS = "kst-stop"
UNSERVED_CLASS = "kst-unserved"
WARD_CLASS = "kst-ward"
LSOA_CLASS = "kst-lsoa"
# Fill by IMD decile, 1 (the most deprived tenth of England) darkest: ColorBrewer "Purples",
# stretched to ten steps.
DECILE_COLOURS = (
    "#3f007d", "#54278f", "#6a51a3", "#807dba", "#9e9ac8",
    "#bcbddc", "#dadaeb", "#e7e6f2", "#f2f0f7", "#fcfbfd",
)  # fmt: skip

SITE_LETTER: dict[SiteKind, str] = {
    SiteKind.food_bank: "F",
    SiteKind.pharmacy: "P",
    SiteKind.supermarket: "S",
    SiteKind.community_centre: "C",
}

# Ward outlines are simplified to about 10 m (in degrees) to keep the page small.
WARD_SIMPLIFY_DEG = 0.0001
KINGSTON_CENTRE = (51.4085, -0.3064)  # lat, lon: Kingston town centre


# ---------------------------------------------------------------------------------------------
# Offline Leaflet
# ---------------------------------------------------------------------------------------------
@cache
def leaflet_assets() -> tuple[str, str]:
    """The vendored Leaflet (JavaScript, CSS), with the CSS's images inlined as data URIs."""
    vendor = resources.files("kst_match.outputs") / "vendor"
    js = (vendor / "leaflet.js").read_text(encoding="utf-8")
    # The source map is not shipped: drop the reference so the browser does not look for it.
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)
    css = (vendor / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        data = (vendor / "images" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, css)
    return js, css


class _Raw(Element):
    """Text put into the page as it is. branca renders an ``Element``'s text as a Jinja template,
    so any text of the plan's (a resident's name) must come in as this, never as ``Element``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Raw"
        self.text = text

    def render(self, **kwargs: object) -> str:
        return self.text


def _inline_leaflet(fmap: folium.Map) -> None:
    """Replace folium's CDN links (Leaflet, jQuery, Bootstrap, icon fonts) with inline Leaflet."""
    fmap.default_js = []
    fmap.default_css = []
    js, css = leaflet_assets()
    header = fmap.get_root().header
    header.add_child(_Raw(f"<style>{css}</style>"), name="leaflet_css_inline")
    # "</script" cannot occur in Leaflet's code, so the script can be inlined as it is.
    header.add_child(_Raw(f"<script>{js}</script>"), name="leaflet_js_inline")


def _js_string(text: str) -> str:
    """``text`` as a JavaScript string literal that is safe inside a ``<script>`` element."""
    return str(htmlsafe_json_dumps(text))


class _Binding(MacroElement):
    """A line of script binding a popup or tooltip to its parent layer, rendered once.

    branca's ``MacroElement`` renders its macros and then renders their output again as a
    template, which would run any template syntax in a resident's name. This one writes its
    script straight into the page, and the text goes in as a JSON string (HTML-safe).
    """

    def __init__(self, method: str, content: str, options: str) -> None:
        super().__init__()
        self._name = "KstBinding"
        self.method = method
        self.content = content
        self.options = options

    def render(self, **kwargs: object) -> None:
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("a popup or tooltip is rendered only within a map")
        parent = self._parent.get_name()  # type: ignore[union-attr]
        script = f"{parent}.{self.method}({_js_string(self.content)}, {self.options});"
        figure.script.add_child(_Raw(script), name=self.get_name())


class _RenderOnce(MacroElement):
    """Mixed in after a folium class (``class X(folium.GeoJson, _RenderOnce)``): its macros'
    output goes into the page as it is, not through a second template pass."""

    def render(self, **kwargs: object) -> None:
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("a map layer is rendered only within a map")
        macros = self._template.module.__dict__
        for part, holder in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            if macros.get(part) is not None:
                holder.add_child(_Raw(macros[part](self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class _WardLayer(folium.GeoJson, _RenderOnce):
    """A ward's outline; its name, from the areas' data, is rendered once like all text."""


def _popup(html_content: str, max_width: int = 320) -> _Binding:
    """A popup bound to its parent layer. folium's own ``Popup`` builds its content with jQuery
    and pastes it into a JavaScript template literal; this needs neither."""
    return _Binding("bindPopup", html_content, f"{{maxWidth: {int(max_width)}}}")


def _tooltip(text: str) -> _Binding:
    """A plain-text tooltip bound to its parent layer (HTML-escaped here)."""
    return _Binding("bindTooltip", html.escape(text), "{sticky: true}")


def _bind(layer: folium.map.Layer | MacroElement, tooltip: str, popup: str) -> None:
    layer.add_child(_tooltip(tooltip))
    layer.add_child(_popup(popup))


# ---------------------------------------------------------------------------------------------
# Wards
# ---------------------------------------------------------------------------------------------
def _default_areas() -> object | None:
    """The bundled areas, or None (with a warning) when they cannot be loaded."""
    try:
        from kst_match.geo.areas import Areas
    except ImportError as exc:
        log.warning("no wards on the map: %s", exc)
        return None
    try:
        return Areas.default()
    except (OSError, ValueError) as exc:
        log.warning("no wards on the map: %s", exc)
        return None


def resolve_areas(areas: object | None) -> object | None:
    """``areas`` as given, else the bundled areas (None, with a warning, if they cannot load)."""
    return areas if areas is not None else _default_areas()


def ward_name_lookup(areas: object) -> Callable[[str], str | None]:
    """Ward code to name, as the map shows them."""
    names = {
        f["properties"]["code"]: f["properties"]["name"] for f in ward_collection(areas)["features"]
    }
    return names.get


def _ward_names(areas: object) -> Callable[[str], str | None]:
    """A lookup from ward code to name, from whichever form the areas object offers."""
    for attr in ("ward_names", "names", "wards"):
        value = getattr(areas, attr, None)
        if callable(value) and not isinstance(value, Mapping):
            value = value()
        if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
            return lambda code, names=value: names.get(code)
    for attr in ("ward_name", "name"):
        method = getattr(areas, attr, None)
        if callable(method):

            def lookup(code: str, method: Callable[[str], Any] = method) -> str | None:
                try:
                    return method(code)
                except (KeyError, ValueError):
                    return None

            return lookup
    return lambda code: None


def ward_collection(areas: object) -> dict[str, Any]:
    """The 2022 wards as a GeoJSON FeatureCollection with ``code`` and ``name`` properties (and
    ``neighbourhood`` where known).

    ``areas.ward_geometries`` may be a mapping of ward code to a shapely geometry, or anything
    with a ``__geo_interface__`` FeatureCollection (a GeoDataFrame or GeoSeries indexed by code,
    as ``kst_match.geo.areas.Areas`` has), or a method returning either. Names come from the
    features' ``name``/``ward_name`` or from ``areas.ward_names``, ``names`` or ``wards``.
    """
    wards = areas.ward_geometries  # type: ignore[attr-defined]
    if callable(wards) and not hasattr(wards, "__geo_interface__"):
        wards = wards()
    names = _ward_names(areas)
    items: Iterable[tuple[str, Any, Mapping[str, Any]]]
    if isinstance(wards, Mapping):
        items = ((str(code), geom, {}) for code, geom in wards.items())
    elif hasattr(wards, "__geo_interface__"):
        collection = wards.__geo_interface__
        items = (
            (
                str(f.get("id") or (f.get("properties") or {}).get("code")),
                f["geometry"],
                f.get("properties") or {},
            )
            for f in collection["features"]
        )
    else:
        raise TypeError(f"cannot read ward geometries from {type(wards).__name__}")
    features = []
    for code, geom, props in items:
        shape = shapely.geometry.shape(geom) if isinstance(geom, Mapping) else geom
        shape = shapely.set_precision(shape.simplify(WARD_SIMPLIFY_DEG), 1e-6)
        code = str(props.get("code") or code)
        name = props.get("name") or props.get("ward_name") or names(code) or code
        properties = {"code": code, "name": str(name)}
        if props.get("neighbourhood"):
            properties["neighbourhood"] = str(props["neighbourhood"])
        features.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shape),
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


# ---------------------------------------------------------------------------------------------
# Popups
# ---------------------------------------------------------------------------------------------
def _table(rows: Iterable[tuple[str, object]]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(k)}</th>"
        f"<td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
        if v not in (None, "")
    )
    return f"<table style='font-size:12px'>{cells}</table>"


def _route_popup(route: Route) -> str:
    return _table(
        [
            ("Volunteer", route.volunteer),
            ("Transport", route.transport),
            ("Tasks", route.tasks),
            ("Travel", f"{route.travel_s / 60:.0f} min"),
            ("Distance", f"{route.distance_m / 1000:.1f} km"),
            ("Out", format_clock(route.stops[0].departure) if route.stops else None),
            ("Back", format_clock(route.stops[-1].arrival) if route.stops else None),
        ]
    )


def _stop_popup(day: Day, route: Route, order: int, stop: Stop) -> str:
    need = stop_need(day, stop)
    site = stop_site(day, stop) if stop.kind == StopKind.collect else None
    rows: list[tuple[str, object]] = [
        ("Volunteer", route.volunteer),
        ("Stop", f"{order}: {stop.kind}"),
        ("Arrive", format_clock(stop.arrival)),
        ("Start", format_clock(stop.start) if stop.start != stop.arrival else None),
        ("Leave", format_clock(stop.departure)),
    ]
    if need is not None:
        rows += [
            ("Need", f"{need.id} ({kind_label(need.kind)}, {need.priority})"),
            ("Resident", need.resident),
            ("Postcode", need.postcode),
            ("Window", f"{format_clock(need.window_start)}–{format_clock(need.window_end)}"),
        ]
    if site is not None:
        rows.append(("Site", f"{site.name} ({site.postcode or site.id})"))
    return _table(rows)


# ---------------------------------------------------------------------------------------------
# The map
# ---------------------------------------------------------------------------------------------
STOP_STYLES: dict[StopKind, dict[str, object]] = {
    # radius (px), border weight, filled with the route's colour or white, border colour
    StopKind.start: {"radius": 4, "weight": 2, "filled": False, "border": None},
    StopKind.end: {"radius": 4, "weight": 2, "filled": False, "border": None},
    StopKind.collect: {"radius": 6, "weight": 3, "filled": False, "border": None},
    StopKind.deliver: {"radius": 6, "weight": 2, "filled": True, "border": None},
    StopKind.visit: {"radius": 6, "weight": 2, "filled": True, "border": "#000000"},
}
STOP_KEY: tuple[tuple[StopKind, str], ...] = (
    (StopKind.start, "home (leave and come back)"),
    (StopKind.collect, "collect at a site"),
    (StopKind.deliver, "deliver to a resident"),
    (StopKind.visit, "visit a resident"),
)
SITE_KEY: tuple[tuple[SiteKind, str], ...] = (
    (SiteKind.food_bank, "food bank"),
    (SiteKind.pharmacy, "pharmacy"),
    (SiteKind.supermarket, "supermarket"),
    (SiteKind.community_centre, "community centre"),
)
PANEL = (
    "position:fixed;z-index:1000;background:rgba(255,255,255,.94);padding:8px 10px;"
    "border-radius:4px;font:12px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3);overflow:auto"
)


def _circle_svg(fill: str, stroke: str, radius: int, weight: int, dash: str = "") -> str:
    dashing = f" stroke-dasharray='{dash}'" if dash else ""
    return (
        "<svg width='16' height='16' style='vertical-align:middle;margin-right:6px'>"
        f"<circle cx='8' cy='8' r='{radius}' fill='{fill}' stroke='{stroke}'"
        f" stroke-width='{weight}'{dashing}/></svg>"
    )


def _site_icon(letter: str) -> str:
    return (
        "<span style='display:inline-block;width:14px;height:14px;background:#222;color:#fff;"
        "font:bold 10px/14px sans-serif;text-align:center;margin-right:6px;vertical-align:middle'>"
        f"{html.escape(letter)}</span>"
    )


def _key() -> str:
    """The key to every symbol on the map."""
    rows = ["<div id='kst-key'><b>Key</b>"]
    for kind, text in STOP_KEY:
        style = STOP_STYLES[kind]
        fill = "#555555" if style["filled"] else "#ffffff"
        stroke = str(style["border"] or "#555555")
        symbol = _circle_svg(fill, stroke, int(style["radius"]), int(style["weight"]))  # type: ignore[call-overload]
        rows.append(f'<div class="kst-key-row">{symbol}{html.escape(text)}</div>')
    rows.append(
        "<div class=\"kst-key-row\"><svg width='16' height='16' style='vertical-align:middle;"
        "margin-right:6px'><line x1='0' y1='8' x2='16' y2='8' stroke='#555555' stroke-width='4'/>"
        "</svg>a volunteer's route (colour per volunteer)</div>"
    )
    unserved = _circle_svg("#9e9e9e", "#000000", 6, 2, "3")
    rows.append(f'<div class="kst-key-row">{unserved}need not served</div>')
    for kind, text in SITE_KEY:
        rows.append(f'<div class="kst-key-row">{_site_icon(SITE_LETTER[kind])}{text}</div>')
    rows.append(
        '<div class="kst-key-row">calls are made by phone: not on the map</div>'
        '<div class="kst-key-row">grey outlines: wards (2022), named</div>'
    )
    swatches = "".join(
        f"<span style='display:inline-block;width:12px;height:12px;background:{c};"
        "border:1px solid #999'></span>"
        for c in DECILE_COLOURS
    )
    rows.append(
        f'<div class="kst-key-row">{swatches}<br>deprivation layer: IMD decile 1 (most deprived)'
        " to 10</div></div>"
    )
    return "".join(rows)


def _legend(plan: Plan, colours: Mapping[str, str], generated: str) -> str:
    """The plan's title, the volunteer picker, the key, and every volunteer's colour."""
    options = ["<option value=''>All volunteers</option>"]
    rows = []
    for route in plan.routes:
        v = html.escape(route.volunteer)
        tasks = f"{route.tasks} task{'s' if route.tasks != 1 else ''}"
        options.append(f'<option value="{v}">{v} · {tasks}</option>')
        rows.append(
            f"<div class='kst-volunteer'><span style='display:inline-block;width:18px;height:4px;"
            f"background:{colours[route.volunteer]};vertical-align:middle;margin-right:6px'>"
            f"</span>{v} · {tasks}</div>"
        )
    served = sum(r.tasks for r in plan.routes)
    return (
        f"<div id='kst-legend' style='{PANEL};bottom:56px;left:10px;max-height:55%;"
        "max-width:300px'>"
        f"<b>Plan {html.escape(plan.date.isoformat())}</b> (v{plan.version},"
        f" made {html.escape(generated)})<br>"
        f"{served} served · {len(plan.unserved)} unserved · "
        f"{html.escape(plan.travel_model)}<hr style='margin:4px 0'>"
        "<label for='kst-picker'>Show</label> "
        f"<select id='kst-picker' style='max-width:200px'>{''.join(options)}</select>"
        f"<hr style='margin:4px 0'>{_key()}<hr style='margin:4px 0'>"
        f"<div id='kst-volunteers'>{''.join(rows)}</div></div>"
    )


def _unserved_panel(day: Day, plan: Plan) -> str:
    """The needs left unserved, by reason: counts and need ids only (no personal data)."""
    by_reason: dict[str, list[str]] = {}
    for item in plan.unserved:
        by_reason.setdefault(str(item.reason), []).append(item.need)
    parts = [
        f"<details id='kst-unserved-panel' style='{PANEL};top:10px;left:54px;max-height:70%;"
        "max-width:340px'>"
        f"<summary><b>Unserved needs ({len(plan.unserved)})</b></summary>"
    ]
    for reason, needs in by_reason.items():
        text = REASON_TEXT[Reason(reason)]
        parts.append(
            f"<div class='kst-reason' data-reason='{html.escape(reason)}'>"
            f"<b>{html.escape(reason.replace('_', ' '))}: {len(needs)}</b>"
            f"<div style='color:#555'>{html.escape(text)}</div><ul style='margin:2px 0 6px;"
            "padding-left:16px'>"
        )
        for need in needs:
            parts.append(f"<li class='kst-unserved-row'>{html.escape(need)}</li>")
        parts.append("</ul></div>")
    if plan.rejected:
        parts.append(
            f"<div>{len(plan.rejected)} input rows rejected: see the coordinator's list.</div>"
        )
    parts.append("</details>")
    return "".join(parts)


# The picker, the ward labels and the key's behaviour. DATA is JSON (HTML-safe); names of
# the map's layers are folium's own variable names.
PICKER_SCRIPT = """
document.addEventListener('DOMContentLoaded', function () {
  var data = DATA;
  var map = window[data.map];
  // The deprivation shading, when ticked, goes under the routes and stops, not over them.
  if (data.deprivation && window[data.deprivation]) {
    var shading = window[data.deprivation];
    shading.on('add', function () {
      shading.eachLayer(function (l) { if (l.bringToBack) { l.bringToBack(); } });
    });
  }
  var KST = window.KST = {routes: {}, picked: ''};
  data.routes.forEach(function (r) {
    KST.routes[r.volunteer] = {
      line: window[r.line],
      stops: r.stops.map(function (name) { return window[name]; })
    };
  });
  data.wards.forEach(function (w) {
    var label = document.createElement('span');
    label.textContent = w.name;
    L.marker([w.lat, w.lon], {
      icon: L.divIcon({className: 'kst-label', html: label, iconSize: null}),
      interactive: false, keyboard: false
    }).addTo(map);
  });
  KST.pick = function (volunteer) {
    KST.picked = volunteer || '';
    Object.keys(KST.routes).forEach(function (v) {
      var on = !volunteer || v === volunteer;
      var r = KST.routes[v];
      r.line.setStyle({opacity: on ? 0.9 : 0.12, weight: volunteer && on ? 6 : 4});
      r.stops.forEach(function (m) {
        m.setStyle({opacity: on ? 1 : 0.12, fillOpacity: on ? 0.95 : 0.08});
      });
    });
    if (volunteer && KST.routes[volunteer]) {
      var chosen = KST.routes[volunteer];
      chosen.line.bringToFront();
      chosen.stops.forEach(function (m) { m.bringToFront(); });
      map.fitBounds(chosen.line.getBounds(), {padding: [40, 40], maxZoom: 16});
    }
  };
  var select = document.getElementById('kst-picker');
  select.addEventListener('change', function () { KST.pick(select.value); });
});
"""
# A light land colour behind the map: what shows offline, where the tiles cannot load.
LABEL_CSS = (
    "<style>.leaflet-container{background:#f2efe9}"
    ".kst-label span{display:block;transform:translate(-50%,-50%);"
    "white-space:nowrap;font:11px sans-serif;color:#444;text-shadow:0 0 3px #fff,0 0 3px #fff;"
    "pointer-events:none}</style>"
)


def _ward_style(_: object) -> dict[str, object]:
    return {
        "color": "#555555",
        "weight": 1.5,
        "fillColor": "#888888",
        "fillOpacity": 0.04,
        "className": WARD_CLASS,
    }


def _lsoa_style(decile: int) -> Callable[[object], dict[str, object]]:
    colour = DECILE_COLOURS[min(max(decile, 1), 10) - 1]

    def style(_: object) -> dict[str, object]:
        return {
            "color": "#777777",
            "weight": 0.5,
            "fillColor": colour,
            "fillOpacity": 0.55,
            "className": LSOA_CLASS,
        }

    return style


def _deprivation_layer(areas: object, fmap: folium.Map) -> str | None:
    """The LSOAs shaded by IMD 2019 decile, in a layer that is off until picked (when the
    areas know the LSOAs); returns the layer's JavaScript name."""
    lsoas = getattr(areas, "lsoa_geometries", None)
    if lsoas is None or len(lsoas) == 0:
        return None
    layer = folium.FeatureGroup(name=DEPRIVATION_LAYER, show=False).add_to(fmap)
    simple = lsoas.geometry.simplify(WARD_SIMPLIFY_DEG, preserve_topology=True)
    for code, geometry in simple.items():
        row = lsoas.loc[code]
        decile = int(row["imd_decile"])
        feature = {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(geometry),
            "properties": {"code": str(code)},
        }
        shape = _WardLayer(feature, style_function=_lsoa_style(decile), control=False)
        name = str(row.get("lsoa11nm", code))
        shape.add_child(_tooltip(f"{name} ({code}): IMD 2019 decile {decile} of 10"))
        shape.add_to(layer)
    return layer.get_name()


def _bounds(day: Day, plan: Plan) -> list[list[float]] | None:
    points = [(s.lat, s.lon) for r in plan.routes for s in r.stops]
    points += [(site.lat, site.lon) for site in day.sites]
    needs = {need.id: need for need in day.needs}
    points += [(needs[u.need].lat, needs[u.need].lon) for u in plan.unserved if u.need in needs]
    if not points:
        return None
    lats, lons = zip(*points, strict=True)
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def build_map(
    day: Day,
    plan: Plan,
    *,
    areas: object | None = None,
    tiles: bool = True,
    generated: dt.datetime | None = None,
) -> folium.Map:
    """The folium map of a plan. ``areas`` gives the wards (default: the bundled areas);
    ``tiles`` adds the OpenStreetMap background (shown only where there is a network);
    ``generated`` is the plan's time of generation shown in the legend (default: now)."""
    # Quarter zoom steps let the plan fill the window when the map is fitted to it.
    fmap = folium.Map(
        location=KINGSTON_CENTRE, zoom_start=13, tiles=None, control_scale=True, zoom_snap=0.25
    )
    _inline_leaflet(fmap)
    if tiles:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(fmap)

    areas = resolve_areas(areas)
    labels: list[dict[str, object]] = []
    if areas is not None:
        wards = folium.FeatureGroup(name=WARDS_LAYER).add_to(fmap)
        for feature in ward_collection(areas)["features"]:
            point = shapely.geometry.shape(feature["geometry"]).representative_point()
            labels.append({"name": feature["properties"]["name"], "lat": point.y, "lon": point.x})
            ward = _WardLayer(feature, style_function=_ward_style, control=False)
            props = feature["properties"]
            where = f" ({props['neighbourhood']})" if props.get("neighbourhood") else ""
            ward.add_child(_tooltip(f"{props['name']} ward{where}"))
            ward.add_to(wards)

    deprivation = _deprivation_layer(areas, fmap) if areas is not None else None

    sites = folium.FeatureGroup(name=SITES_LAYER).add_to(fmap)
    for site in day.sites:
        letter = SITE_LETTER.get(site.kind, "?")
        icon = folium.DivIcon(
            html=(
                "<div style='width:16px;height:16px;background:#222;color:#fff;border:1px solid"
                " #fff;font:bold 11px/16px sans-serif;text-align:center'>"
                f"{letter}</div>"
            ),
            icon_size=(18, 18),
            icon_anchor=(9, 9),
            class_name="kst-site",
        )
        opening = f"{format_clock(site.opens)}–{format_clock(site.closes)}"
        popup = _table(
            [
                ("Site", site.name),
                ("Kind", kind_label(site.kind)),
                ("Postcode", site.postcode),
                ("Open", opening),
            ]
        )
        marker = folium.Marker([site.lat, site.lon], icon=icon).add_to(sites)
        _bind(marker, site.name, popup)

    colours = route_colours(plan)
    routes = folium.FeatureGroup(name=ROUTES_LAYER).add_to(fmap)
    stops = folium.FeatureGroup(name=STOPS_LAYER).add_to(fmap)
    registry: list[dict[str, object]] = []
    for route in plan.routes:
        colour = colours[route.volunteer]
        lines = [[(lat, lon) for lon, lat in line] for line in route_line(route)]
        line = folium.PolyLine(
            lines if len(lines) > 1 else lines[0],
            color=colour,
            weight=4,
            opacity=0.9,
            className=ROUTE_CLASS,
        ).add_to(routes)
        _bind(line, f"{route.volunteer} ({route.transport})", _route_popup(route))
        markers = []
        for order, stop in enumerate(route.stops):
            style = STOP_STYLES.get(stop.kind)
            if style is None:  # a call is made by phone, wherever the volunteer is
                continue
            marker = folium.CircleMarker(
                [stop.lat, stop.lon],
                radius=style["radius"],
                color=style["border"] or colour,
                weight=style["weight"],
                fill=True,
                fill_color=colour if style["filled"] else "#ffffff",
                fill_opacity=0.95,
                opacity=1.0,
                className=f"{STOP_CLASS} kst-stop-{stop.kind}",
            ).add_to(stops)
            _bind(
                marker,
                f"{route.volunteer} #{order} {stop.kind}",
                _stop_popup(day, route, order, stop),
            )
            markers.append(marker.get_name())
        registry.append({"volunteer": route.volunteer, "line": line.get_name(), "stops": markers})

    unserved = folium.FeatureGroup(name=UNSERVED_LAYER).add_to(fmap)
    for item in plan.unserved:
        try:
            need = day.need(item.need)
        except KeyError:
            log.warning("unserved need %s is not in the day", item.need)
            continue
        popup = _table(
            [
                ("Unserved", f"{need.id} ({kind_label(need.kind)}, {need.priority})"),
                ("Resident", need.resident),
                ("Postcode", need.postcode),
                ("Reason", f"{item.reason}: {REASON_TEXT[item.reason]}"),
                ("Detail", item.detail),
            ]
        )
        marker = folium.CircleMarker(
            [need.lat, need.lon],
            radius=6,
            color="#000000",
            weight=2,
            fill=True,
            fill_color="#9e9e9e",
            fill_opacity=0.9,
            dash_array="3",
            className=UNSERVED_CLASS,
        ).add_to(unserved)
        _bind(marker, f"unserved {need.id}: {item.reason}", popup)

    folium.LayerControl(collapsed=False).add_to(fmap)
    root = fmap.get_root()
    root.header.add_child(_Raw(LABEL_CSS), name="kst_label_css")
    root.html.add_child(_Raw(_legend(plan, colours, stamp(generated))), name="kst_legend")
    root.html.add_child(_Raw(_unserved_panel(day, plan)), name="kst_unserved")
    data = {
        "map": fmap.get_name(),
        "routes": registry,
        "wards": labels,
        "deprivation": deprivation,
    }
    script = PICKER_SCRIPT.replace("DATA", str(htmlsafe_json_dumps(data)), 1)
    root.html.add_child(_Raw(f"<script>{script}</script>"), name="kst_picker")
    bounds = _bounds(day, plan)
    if bounds is not None:
        fmap.fit_bounds(bounds, padding=(20, 20))
    return fmap


def write_map(
    day: Day,
    plan: Plan,
    path: str | Path,
    *,
    areas: object | None = None,
    tiles: bool = True,
    generated: dt.datetime | None = None,
) -> Path:
    """Write the plan's map as a self-contained HTML page; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    build_map(day, plan, areas=areas, tiles=tiles, generated=generated).save(str(path))
    return path
