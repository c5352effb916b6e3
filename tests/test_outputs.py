"""Outputs: plan JSON, routes GeoJSON, the HTML map, run sheets and KPI tables.

A small hand-made day in central Kingston: volunteer V1 (cycle) collects a food parcel at the
food bank, delivers it, then makes a befriending call; V2 (walk) makes a wellbeing visit; one
shopping need is unserved. The map and a run sheet are rendered in headless Chromium.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import shapely.geometry
from rich.console import Console

from kst_match.model import (
    Assignment,
    Day,
    Need,
    Partner,
    Plan,
    Reason,
    Route,
    Site,
    Stop,
    Unserved,
    Volunteer,
)
from kst_match.outputs import write_outputs
from kst_match.outputs.browser import dump_dom, screenshot
from kst_match.outputs.geojson import routes_geojson
from kst_match.outputs.kpis import kpi_table, kpi_tables, render_markdown, render_rich
from kst_match.outputs.map import build_map, leaflet_assets, ward_collection
from kst_match.outputs.plan_json import plan_schema, read_plan, write_plan
from kst_match.outputs.runsheets import build_sheet, write_runsheets

ROOT = Path(__file__).resolve().parents[1]
DATE = dt.date(2024, 3, 5)

# Real Kingston postcode centroids (OS Code-Point Open), lon/lat.
V1_HOME = (-0.296071, 51.417118)  # KT2 6AA
V2_HOME = (-0.298209, 51.394407)  # KT6 6AB
FOOD_BANK = (-0.305257, 51.408672)  # KT1 2AA, central Kingston
R101 = (-0.301809, 51.423334)  # KT2 5PE
R202 = (-0.297803, 51.397189)  # KT5 8AB
R303 = (-0.288995, 51.410972)  # KT1 3AA
R404 = (-0.252341, 51.401546)  # KT3 4AA
VIA = (-0.3010, 51.4130)  # a street corner between V1's home and the food bank

ACCESS_R101 = "Side gate; ring twice <b>not</b> & knock"
ACCESS_R202 = "Key safe by the door, code from the hub"


def make_day() -> Day:
    need = {"date": DATE}
    return Day(
        date=DATE,
        partners=(
            Partner(id="P1", name="Kingston Foodbank", services="food_parcel;shopping"),
            Partner(
                id="P2",
                name="Kingston Voluntary Action",
                services="wellbeing_check;befriending_call",
            ),
        ),
        sites=(
            Site(
                id="S1",
                name="Food bank (central)",
                kind="food_bank",
                postcode="KT1 2AA",
                lon=FOOD_BANK[0],
                lat=FOOD_BANK[1],
                opens="09:00",
                closes="17:00",
            ),
        ),
        volunteers=(
            Volunteer(
                id="V1",
                name="Alice Example",
                partner="P1",
                shared_with="P2",
                skills="dbs_checked",
                transport="cycle",
                capacity=4,
                shift_start="09:00",
                shift_end="13:00",
                lon=V1_HOME[0],
                lat=V1_HOME[1],
            ),
            Volunteer(
                id="V2",
                name="Bob Example",
                partner="P2",
                skills="dbs_checked;wellbeing_trained",
                transport="walk",
                shift_start="10:30",
                shift_end="14:00",
                lon=V2_HOME[0],
                lat=V2_HOME[1],
            ),
        ),
        needs=(
            Need(
                id="N1",
                resident="R-101",
                kind="food_parcel",
                priority="urgent",
                load=2,
                window_start="10:00",
                window_end="12:00",
                site="S1",
                postcode="KT2 5PE",
                access_notes=ACCESS_R101,
                lon=R101[0],
                lat=R101[1],
                **need,
            ),
            Need(
                id="N2",
                resident="R-202",
                kind="wellbeing_check",
                duration=30,
                window_start="11:00",
                window_end="13:00",
                postcode="KT5 8AB",
                access_notes=ACCESS_R202,
                lon=R202[0],
                lat=R202[1],
                **need,
            ),
            Need(
                id="N3",
                resident="R-303",
                kind="befriending_call",
                duration=20,
                window_start="12:00",
                window_end="14:00",
                postcode="KT1 3AA",
                language="tamil",
                previous_volunteer="V1",
                lon=R303[0],
                lat=R303[1],
                **need,
            ),
            Need(
                id="N4",
                resident="R-404",
                kind="shopping",
                load=1,
                site="S1",
                window_start="09:00",
                window_end="09:30",
                postcode="KT3 4AA",
                lon=R404[0],
                lat=R404[1],
                **need,
            ),
        ),
    )


def make_plan() -> Plan:
    def stop(
        kind: str, at: tuple[float, float], arrival: str, start: str, departure: str, **kw: Any
    ) -> Stop:
        return Stop(
            kind=kind, lon=at[0], lat=at[1], arrival=arrival, start=start, departure=departure, **kw
        )

    v1 = Route(
        volunteer="V1",
        transport="cycle",
        stops=[
            stop("start", V1_HOME, "09:30", "09:30", "09:30"),
            stop(
                "collect",
                FOOD_BANK,
                "09:40",
                "09:40",
                "09:45",
                need="N1",
                site="S1",
                load=2,
                travel_s=600.0,
                distance_m=1500.0,
            ),
            stop(
                "deliver",
                R101,
                "10:00",
                "10:00",
                "10:10",
                need="N1",
                load=0,
                travel_s=900.0,
                distance_m=2000.0,
            ),
            stop("call", R101, "10:10", "12:00", "12:20", need="N3"),
            stop("end", V1_HOME, "12:30", "12:30", "12:30", travel_s=600.0, distance_m=1000.0),
        ],
        # Along the streets: the first leg turns at a corner; the call goes nowhere.
        geometry=[[V1_HOME, VIA, FOOD_BANK], [FOOD_BANK, R101], [R101, R101], [R101, V1_HOME]],
    )
    v2 = Route(
        volunteer="V2",
        transport="walk",
        stops=[
            stop("start", V2_HOME, "10:45", "10:45", "10:45"),
            stop(
                "visit",
                R202,
                "10:55",
                "11:00",
                "11:30",
                need="N2",
                travel_s=600.0,
                distance_m=800.0,
            ),
            stop("end", V2_HOME, "11:40", "11:40", "11:40", travel_s=600.0, distance_m=800.0),
        ],
        geometry=[],  # no street network: straight legs
    )
    return Plan(
        date=DATE,
        version=2,
        travel_model="road-estimate",
        assignments=[
            Assignment(need="N1", partner="P1", volunteer="V1", start="10:00"),
            Assignment(need="N3", partner="P2", volunteer="V1", start="12:00", continuity=True),
            Assignment(need="N2", partner="P2", volunteer="V2", start="11:00"),
        ],
        routes=[v1, v2],
        unserved=[Unserved(need="N4", reason=Reason.no_time, detail="window closes 09:30")],
        kpis={
            "served": {"total": 3, "by_priority": {"urgent": 1, "normal": 2}},
            "unserved": {"total": 1, "by_reason": {"no_time": 1}},
            "travel": {
                "total_s": 2700.0,
                "per_volunteer": {
                    "V1": {"travel_s": 2100.0, "distance_m": 4500.0, "tasks": 3},
                    "V2": {"travel_s": 1200.0, "distance_m": 1600.0, "tasks": 1},
                },
            },
            "continuity": {"kept": 1, "possible": 1},
            "solve_time_s": 0.125,
            "objective": 4200,
        },
    )


class FakeAreas:
    """Two square 'wards' around the plan, standing in for the bundled 2022 wards."""

    ward_geometries: ClassVar[dict[str, Any]] = {
        "W1": shapely.geometry.box(-0.32, 51.40, -0.28, 51.43),
        "W2": shapely.geometry.box(-0.32, 51.38, -0.28, 51.40),
    }
    ward_names: ClassVar[dict[str, str]] = {"W1": "Kingston <Town>", "W2": "Surbiton Hill"}


@pytest.fixture(scope="module")
def day() -> Day:
    return make_day()


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan()


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, day: Day, plan: Plan) -> Path:
    folder = tmp_path_factory.mktemp("outputs")
    write_outputs(day, plan, folder, areas=FakeAreas())
    return folder


# ---------------------------------------------------------------------------------------------
# Plan JSON
# ---------------------------------------------------------------------------------------------
def test_plan_json_round_trips_exactly(tmp_path: Path, plan: Plan) -> None:
    path = write_plan(plan, tmp_path / "plan.json")
    assert read_plan(path) == plan
    raw = json.loads(path.read_text())
    assert raw["date"] == "2024-03-05"
    first = raw["routes"][0]["stops"][1]
    assert (first["kind"], first["arrival"], first["departure"]) == ("collect", "09:40", "09:45")
    assert raw["routes"][0]["geometry"][0] == [list(V1_HOME), list(VIA), list(FOOD_BANK)]


def test_documented_schema_is_current() -> None:
    documented = json.loads((ROOT / "docs" / "plan-schema.json").read_text())
    assert documented == plan_schema()
    assert documented["$defs"]["Stop"]["properties"]["arrival"]["type"] == "string"


# ---------------------------------------------------------------------------------------------
# GeoJSON
# ---------------------------------------------------------------------------------------------
def test_geojson_has_one_line_per_route_along_the_legs(day: Day, plan: Plan) -> None:
    features = routes_geojson(day, plan)["features"]
    lines = [f for f in features if f["properties"]["feature"] == "route"]
    assert [f["properties"]["volunteer"] for f in lines] == ["V1", "V2"]
    v1, v2 = lines
    # V1 follows the street geometry, legs joined; the call leg (no movement) adds nothing.
    assert v1["geometry"] == {
        "type": "LineString",
        "coordinates": [list(p) for p in (V1_HOME, VIA, FOOD_BANK, R101, V1_HOME)],
    }
    # V2 has no geometry: straight legs between its stops.
    assert v2["geometry"]["coordinates"] == [list(V2_HOME), list(R202), list(V2_HOME)]
    props = v1["properties"]
    assert (props["transport"], props["tasks"], props["needs"]) == ("cycle", 2, ["N1", "N3"])
    assert (props["travel_s"], props["distance_m"], props["partner"]) == (2100.0, 4500.0, "P1")
    assert (props["start"], props["end"]) == ("09:30", "12:30")
    assert props["colour"] != v2["properties"]["colour"]


def test_geojson_stop_points_in_order_with_minimal_personal_data(day: Day, plan: Plan) -> None:
    collection = routes_geojson(day, plan)
    points = [f for f in collection["features"] if f["properties"]["feature"] == "stop"]
    v1 = [f for f in points if f["properties"]["volunteer"] == "V1"]
    assert [f["properties"]["order"] for f in v1] == [0, 1, 2, 3, 4]
    assert [f["properties"]["kind"] for f in v1] == ["start", "collect", "deliver", "call", "end"]
    # The call has no place: it is made by phone, not from R101's door where V1 happens to be.
    assert [f["geometry"] and f["geometry"]["coordinates"] for f in v1] == [
        list(V1_HOME),
        list(FOOD_BANK),
        list(R101),
        None,
        list(V1_HOME),
    ]
    deliver = v1[2]["properties"]
    assert (deliver["need"], deliver["resident"], deliver["postcode"]) == ("N1", "R-101", "KT2 5PE")
    times = (deliver["arrival"], deliver["start"], deliver["departure"])
    assert times == ("10:00", "10:00", "10:10")
    assert (v1[1]["properties"]["site"], v1[1]["properties"]["postcode"]) == ("S1", "KT1 2AA")
    text = json.dumps(collection)
    for private in ("Alice", "Bob", "Side gate", "Key safe"):
        assert private not in text


def test_geojson_keeps_legs_apart_when_they_do_not_join(day: Day, plan: Plan) -> None:
    # A street path that ends at the node nearest the resident, not at the resident.
    leg1 = [V2_HOME, (-0.2985, 51.3950), (-0.2980, 51.3960)]
    route = plan.routes[1].model_copy(update={"geometry": [leg1, [R202, V2_HOME]]})
    broken = plan.model_copy(update={"routes": [route]})
    line = routes_geojson(day, broken)["features"][0]["geometry"]
    assert line["type"] == "MultiLineString"
    assert line["coordinates"] == [[list(p) for p in leg1], [list(R202), list(V2_HOME)]]


# ---------------------------------------------------------------------------------------------
# Run sheets
# ---------------------------------------------------------------------------------------------
def test_run_sheet_lists_stops_in_order_with_times_and_access_notes(out: Path) -> None:
    page = (out / "runsheets" / "V1.html").read_text()
    orders = [int(o) for o in re.findall(r'data-order="(\d+)"', page)]
    kinds = re.findall(r'data-kind="(\w+)"', page)
    assert orders == [0, 1, 2, 3, 4]
    assert kinds == ["start", "collect", "deliver", "call", "end"]
    rows = page.split('class="stop ')[1:]
    assert "leave 09:30" in rows[0]
    assert "arrive 09:40" in rows[1] and "Collect 2 × food parcel" in rows[1]
    assert "Food bank (central)" in rows[1] and "09:00–17:00" in rows[1]
    assert "Deliver 2 × food parcel" in rows[2] and "Resident R-101, KT2 5PE" in rows[2]
    assert "10:00–12:00" in rows[2]  # the resident's window
    # Access notes are there, HTML-escaped.
    assert "Side gate; ring twice &lt;b&gt;not&lt;/b&gt; &amp; knock" in rows[2]
    assert "<b>not</b>" not in page
    assert "Call at 12:00" in rows[3] and "R-303" in rows[3] and "tamil" in rows[3]
    assert "call 12:00–12:20" in rows[3] and "wait" not in rows[3]
    assert "arrive 12:30" in rows[4]
    assert "Alice Example" in page  # a volunteer's own sheet names them


def test_run_sheet_holds_no_other_volunteers_residents(out: Path) -> None:
    v1 = (out / "runsheets" / "V1.html").read_text()
    v2 = (out / "runsheets" / "V2.html").read_text()
    for other in ("R-202", "KT5 8AB", "N2", "Key safe", "Bob Example"):
        assert other not in v1
    for other in ("R-101", "R-303", "KT2 5PE", "KT1 3AA", "N1", "N3", "Side gate", "Alice"):
        assert other not in v2
    assert "R-202" in v2 and ACCESS_R202 in v2
    assert "arrive 10:55<br>" in v2 and "start 11:00 <small>(wait 5 min)</small>" in v2
    index = (out / "runsheets" / "index.html").read_text()
    assert 'href="V1.html"' in index and 'href="V2.html"' in index
    for private in ("R-101", "R-202", "Side gate", "Alice", "Bob"):
        assert private not in index


def test_run_sheet_file_names_are_safe_and_unique(tmp_path: Path, day: Day, plan: Plan) -> None:
    routes = [plan.routes[1].model_copy(update={"volunteer": v}) for v in ("../x", "..-x", "/x")]
    paths = write_runsheets(day, plan.model_copy(update={"routes": routes}), tmp_path)
    assert [p.name for p in paths.volunteers.values()] == ["_x.html", "-x.html", "_x-2.html"]
    assert all(p.parent == tmp_path for p in paths.volunteers.values())


def test_all_sheets_print_one_volunteer_per_page(out: Path, day: Day, plan: Plan) -> None:
    page = (out / "coordinator" / "pack.html").read_text()
    assert page.count('<section class="sheet"') == 2
    assert ".sheet + .sheet { break-before: page;" in page
    assert build_sheet(day, plan.routes[0]).travel_min == 35


# ---------------------------------------------------------------------------------------------
# KPIs
# ---------------------------------------------------------------------------------------------
def test_kpis_written_as_json_and_markdown_tables(out: Path, plan: Plan) -> None:
    assert json.loads((out / "kpis.json").read_text()) == plan.kpis
    md = (out / "kpis.md").read_text()
    assert "| served | 3 of 4 |" in md
    assert "| solve time | 0.12 s |" in md
    assert "## travel / per_volunteer" in md
    assert "|  | travel_s | distance_m | tasks |" in md
    assert "| V1 | 2100 | 4500 | 3 |" in md
    assert "## unserved / by_reason" in md and "| no_time | 1 |" in md
    titles = [t.title for t in kpi_tables(plan.kpis)]
    assert titles == [
        "Summary",
        "served",
        "served / by_priority",
        "unserved",
        "unserved / by_reason",
        "travel",
        "travel / per_volunteer",
        "continuity",
    ]
    assert render_markdown(plan) == md


def test_kpis_render_for_the_terminal(plan: Plan) -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(render_rich(plan))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "travel / per_volunteer" in text and "4500" in text and "3 of 4" in text
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(kpi_table(plan.kpis))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert any(re.search(r"V2 .*1200 .*1600 .*1 ", line) for line in lines)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(kpi_table(plan.kpis, max_rows=1))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "V1 " in text and "V2 " not in text and "… 1 more" in text


# ---------------------------------------------------------------------------------------------
# Map
# ---------------------------------------------------------------------------------------------
def test_write_outputs_writes_every_file(out: Path) -> None:
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert [n for n in names if not n.endswith(".png")] == [
        "coordinator/pack.html",
        "coordinator/unserved.csv",
        "coordinator/unserved.html",
        "kpis.json",
        "kpis.md",
        "map.html",
        "plan.json",
        "routes.geojson",
        "runsheets/V1.html",
        "runsheets/V2.html",
        "runsheets/index.html",
    ]


def test_map_needs_no_network_but_tiles(out: Path) -> None:
    page = (out / "map.html").read_text()
    # Nothing is loaded from elsewhere: no linked scripts or style sheets, no remote CSS images.
    assert re.findall(r"<script[^>]*\bsrc=", page) == []
    assert re.findall(r"<link[^>]*\bhref=", page) == []
    assert re.findall(r"url\(\s*['\"]?(?:https?:|//)", page) == []
    assert "cdn." not in page and "jquery" not in page.lower()
    js, css = leaflet_assets()
    assert js in page and "sourceMappingURL" not in js
    assert "url(images/" not in css and "data:image/png;base64," in css
    # The only remote address is the tile server, with its attribution.
    assert "tile.openstreetmap.org" in page and "OpenStreetMap" in page


def test_ward_collection_reads_mappings_and_geodataframes() -> None:
    import geopandas as gpd

    fc = ward_collection(FakeAreas())
    assert [f["properties"] for f in fc["features"]] == [
        {"code": "W1", "name": "Kingston <Town>"},
        {"code": "W2", "name": "Surbiton Hill"},
    ]

    class FrameAreas:
        ward_geometries = gpd.GeoDataFrame(
            {"code": ["W9"], "name": ["Tolworth"]},
            geometry=[shapely.geometry.box(-0.30, 51.37, -0.28, 51.38)],
            crs="EPSG:4326",
        )

    (feature,) = ward_collection(FrameAreas())["features"]
    assert feature["properties"] == {"code": "W9", "name": "Tolworth"}
    assert shapely.geometry.shape(feature["geometry"]).equals(
        shapely.geometry.box(-0.30, 51.37, -0.28, 51.38)
    )


def _classes(dom: str, name: str) -> int:
    return len(re.findall(rf'<path[^>]*class="[^"]*\b{name}\b[^"]*"', dom))


def test_map_renders_routes_in_headless_chromium(out: Path, chromium: str, plan: Plan) -> None:
    dom = dump_dom(out / "map.html", chromium=chromium)
    assert _classes(dom, "kst-route") == len(plan.routes) == 2
    # Every stop but the call, which is made by phone and has no place.
    assert _classes(dom, "kst-stop") == sum(len(r.stops) for r in plan.routes) - 1 == 7
    assert _classes(dom, "kst-unserved") == 1
    assert _classes(dom, "kst-ward") == 2
    assert len(re.findall(r'<path[^>]*class="[^"]*leaflet-interactive', dom)) >= 2
    labels = re.findall(r"<span>\s*([^<]+?)\s*</span>", dom.split("leaflet-control-layers", 1)[1])
    assert "Routes" in labels and "Stops" in labels and "Wards (2022)" in labels
    # Route colours as drawn: V1 then V2.
    strokes = re.findall(r'<path class="[^"]*\bkst-route\b[^"]*" stroke="(#[0-9a-f]{6})"', dom)
    assert strokes == [f["properties"]["colour"] for f in _route_features(out)]
    assert len(re.findall(r'<div class="leaflet-marker-icon kst-site', dom)) == 1


def _route_features(out: Path) -> list[dict[str, Any]]:
    features = json.loads((out / "routes.geojson").read_text())["features"]
    return [f for f in features if f["properties"]["feature"] == "route"]


def test_map_screenshot_shows_the_routes(out: Path, chromium: str) -> None:
    from PIL import Image

    png = screenshot(out / "map.html", out / "map.png", size=(1200, 900), chromium=chromium)
    with Image.open(png) as image:
        assert image.size == (1200, 900)
        colours = [f["properties"]["colour"] for f in _route_features(out)]
        rgb = np.asarray(image.convert("RGB"), dtype=int)
    counts = {}
    for colour in colours:
        target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        # Lines are drawn slightly transparent: allow for the background showing through.
        counts[colour] = int((np.abs(rgb - target).max(axis=2) <= 30).sum())
    # Each route's colour covers a visible stretch of the picture (lines 4 px wide).
    assert all(n > 200 for n in counts.values()), counts


def test_run_sheet_renders_in_headless_chromium(out: Path, chromium: str) -> None:
    from PIL import Image

    page = out / "runsheets" / "V1.html"
    dom = dump_dom(page, chromium=chromium)
    assert re.findall(r'data-kind="(\w+)"', dom) == ["start", "collect", "deliver", "call", "end"]
    assert "Run sheet · V1" in dom
    png = screenshot(page, out / "runsheet-V1.png", size=(1200, 900), chromium=chromium)
    with Image.open(png) as image:
        assert image.size == (1200, 900)
        # Mostly white paper with dark text on it.
        dark = int((np.asarray(image.convert("L")) < 100).sum())
        assert 2_000 < dark < 0.5 * 1200 * 900


def test_map_draws_the_bundled_2022_wards(day: Day, plan: Plan) -> None:
    from kst_match.geo.areas import Areas

    features = ward_collection(Areas.default())["features"]
    assert len(features) == 19
    names = {f["properties"]["name"] for f in features}
    assert {"Kingston Town", "Canbury Gardens", "Surbiton Hill"} <= names
    assert all(f["properties"]["neighbourhood"] for f in features)
    page = build_map(day, plan).get_root().render()  # default areas
    assert page.count("kst-ward") == 19 and "Canbury Gardens ward" in page
