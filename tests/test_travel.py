"""Travel models: the street network on a hand-made OSM file, the road-distance estimate, the cache.

``tests/data/mini.osm`` is a 3 x 3 block grid near Surbiton (node ids as in its header): blocks
of about 200 m (east-west) by 150 m (north-south); Maple Road (4 -> 5 -> 6) is one way eastbound;
2 - 10 - 5 is a footway with a bend at 10; 5 - 8 a pedestrian street; 9 - 11 a footway spur;
8 - 12 a private service road; Claremont Road (1-2-3) is signed 20 mph, Brighton Road (7-8-9,
secondary) 30 mph, Avenue Elmers (1-4-7) and Victoria Road (3-6-9, tertiary) carry no limit.
Expected values come from osmnx's raw (unsimplified) graph and networkx, not from the code
under test.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
import pytest
import requests
from shapely.geometry import Point
from typer.testing import CliRunner

from kst_match.cli import app
from kst_match.geo import network as network_module
from kst_match.geo.network import (
    NetworkFetchError,
    StreetNetwork,
    allowed,
    fetch_network,
    many_to_many,
    read_graph,
)
from kst_match.geo.travel import (
    DEFAULT_PROFILES,
    EARTH_RADIUS_M,
    CachedTravel,
    Matrix,
    ModeProfile,
    RoadEstimate,
)
from kst_match.model import Transport

MINI = Path(__file__).parent / "data" / "mini.osm"
WALK_MS = 4.8 / 3.6  # DEFAULT_PROFILES walking speed
CYCLE_MS = 15 / 3.6
CAR_ACCESS_MS = 24 / 3.6  # the car's door-to-door speed, used on the access legs
MPH = 1.609344 / 3.6  # m/s per mph
# Car speeds by hand: residential roads take the mean signed limit of residential roads in the
# graph (Claremont Road's 20 mph); Brighton Road is signed 30 mph; Victoria Road (tertiary) has
# no tertiary limit to copy, so the built-up-area default of 30 mph.
CAR_MS = {"residential": 20 * MPH, "secondary": 30 * MPH, "tertiary": 30 * MPH}


@pytest.fixture(scope="module")
def raw() -> nx.MultiDiGraph:
    """osmnx's own reading of the file, unsimplified: the reference."""
    return ox.graph_from_xml(MINI, simplify=False, retain_all=True)


@pytest.fixture(scope="module")
def node(raw: nx.MultiDiGraph) -> dict[int, tuple[float, float]]:
    return {int(n): (d["x"], d["y"]) for n, d in raw.nodes(data=True)}


@pytest.fixture(scope="module")
def net() -> StreetNetwork:
    return StreetNetwork.load(MINI, workers=1)


def moved(point: tuple[float, float], north_m: float = 0, east_m: float = 0) -> tuple[float, float]:
    """A point ``north_m`` / ``east_m`` metres from ``point``."""
    lon, lat = point
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return (lon + dlon, lat + dlat)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(ox.distance.great_circle(a[1], a[0], b[1], b[0]))


def reference(raw: nx.MultiDiGraph, mode: str) -> nx.MultiDiGraph:
    """The raw graph reduced by hand to what ``mode`` may use, with ``seconds`` on each edge."""
    car_ways = {"residential", "secondary", "tertiary"}
    keep = []
    for u, v, k, d in raw.edges(keys=True, data=True):
        if d.get("access") == "private":
            continue
        if mode == "car" and d["highway"] not in car_ways:
            continue
        keep.append((u, v, k))
    graph = raw.edge_subgraph(keep).copy()
    for _, _, d in graph.edges(data=True):
        speed = CAR_MS[d["highway"]] if mode == "car" else WALK_MS
        d["seconds"] = d["length"] / speed
    return graph.to_undirected() if mode == "walk" else graph


# ---------------------------------------------------------------------------------------------
# Street network: loading and snapping
# ---------------------------------------------------------------------------------------------
def test_network_is_named_after_its_file_and_keeps_each_modes_ways(net: StreetNetwork) -> None:
    assert net.name == "street-network:mini.osm"
    # Corner 1 and bend 10 are simplified away; 12 is only on a private road.
    snap = {mode: sorted(net.node_ids[g.snap_nodes]) for mode, g in net.modes.items()}
    assert snap[Transport.walk] == [2, 3, 4, 5, 6, 7, 8, 9, 11]
    assert snap[Transport.car] == snap[Transport.cycle] == [2, 3, 4, 5, 6, 7, 8, 9]


def test_points_snap_to_the_nearest_node_their_mode_can_use(
    net: StreetNetwork, node: dict[int, Any]
) -> None:
    near_5 = moved(node[5], north_m=20)
    ids, dist = net.nearest_nodes(np.array([near_5]), Transport.walk)
    assert ids.tolist() == [5]
    assert dist[0] == pytest.approx(20.0, abs=0.01)

    # The end of the footway spur is a walking node; a car snaps to the road, 150 m west.
    ids, dist = net.nearest_nodes(np.array([node[11]]), Transport.walk)
    assert (ids.tolist(), dist[0]) == ([11], pytest.approx(0.0, abs=1e-6))
    ids, dist = net.nearest_nodes(np.array([node[11]]), Transport.car)
    assert ids.tolist() == [9]
    assert dist[0] == pytest.approx(metres(node[11], node[9]), abs=0.01)

    # Corner 1 is no junction (simplified away): its nearest junction is 4, 150 m south.
    ids, _ = net.nearest_nodes(np.array([node[1]]), Transport.walk)
    assert ids.tolist() == [4]


def test_a_point_far_from_the_network_is_an_error(net: StreetNetwork, node: dict[int, Any]) -> None:
    with pytest.raises(ValueError, match="more than 1000 m from the walk network"):
        net.matrix(np.array([node[5], moved(node[5], north_m=5000)]), Transport.walk)


@pytest.mark.parametrize(
    ("mode", "tags", "expected"),
    [
        (Transport.car, {"highway": "residential"}, True),
        (Transport.car, {"highway": "footway"}, False),
        (Transport.car, {"highway": "pedestrian"}, False),
        (Transport.car, {"highway": "service", "service": "parking_aisle"}, False),
        (Transport.car, {"highway": "tertiary", "motor_vehicle": "no"}, False),
        (Transport.walk, {"highway": "footway"}, True),
        (Transport.walk, {"highway": "motorway"}, False),
        (Transport.walk, {"highway": "primary", "sidewalk": "separate"}, False),
        (Transport.walk, {"highway": "path", "foot": "no"}, False),
        (Transport.walk, {"highway": "service", "access": "private"}, False),
        (Transport.cycle, {"highway": "footway"}, False),
        (Transport.cycle, {"highway": "cycleway"}, True),
        (Transport.cycle, {"highway": ["residential", "steps"]}, False),
        (Transport.car, {}, False),
    ],
)
def test_mode_rules(mode: Transport, tags: dict[str, Any], expected: bool) -> None:
    assert allowed(mode, tags) is expected


# ---------------------------------------------------------------------------------------------
# Street network: matrices
# ---------------------------------------------------------------------------------------------
def test_walk_entry_equals_networkx_shortest_path(
    net: StreetNetwork, raw: nx.MultiDiGraph, node: dict[int, Any]
) -> None:
    a, b = moved(node[2], north_m=30), moved(node[9], east_m=-15)
    along = nx.shortest_path_length(reference(raw, "walk"), 2, 9, weight="length")
    expected_m = metres(a, node[2]) + along + metres(node[9], b)
    m = net.matrix(np.array([a, b]), Transport.walk)
    assert m.metres[0, 1] == pytest.approx(expected_m, abs=0.05)
    assert m.seconds[0, 1] == pytest.approx(expected_m / WALK_MS, abs=0.05)
    assert m.metres[1, 0] == pytest.approx(expected_m, abs=0.05)
    assert np.diag(m.seconds).tolist() == [0.0, 0.0]


def test_car_entry_equals_networkx_fastest_path(
    net: StreetNetwork, raw: nx.MultiDiGraph, node: dict[int, Any]
) -> None:
    a, b = moved(node[6], north_m=10), moved(node[4], east_m=-12)
    graph = reference(raw, "car")
    along_s = nx.shortest_path_length(graph, 6, 4, weight="seconds")
    route = nx.shortest_path(graph, 6, 4, weight="seconds")
    along_m = nx.path_weight(graph, route, weight="length")
    access_a, access_b = metres(a, node[6]), metres(node[4], b)
    m = net.matrix(np.array([a, b]), Transport.car)
    assert route == [6, 9, 8, 7, 4]  # round the one-way Maple Road, by the 30 mph roads
    assert m.seconds[0, 1] == pytest.approx(
        (access_a + access_b) / CAR_ACCESS_MS + along_s, abs=0.05
    )
    assert m.metres[0, 1] == pytest.approx(access_a + along_m + access_b, abs=0.05)


def test_one_way_street_makes_driving_asymmetric_and_walking_stays_symmetric(
    net: StreetNetwork, node: dict[int, Any]
) -> None:
    points = np.array([node[4], node[6], node[2], node[9], moved(node[5], north_m=40)])
    car = net.matrix(points, Transport.car)
    walk = net.matrix(points, Transport.walk)
    four_six = metres(node[4], node[5]) + metres(node[5], node[6])
    assert car.metres[0, 1] == pytest.approx(four_six, abs=0.05)  # along Maple Road
    assert car.metres[1, 0] == pytest.approx(700.0, abs=1.0)  # 6-9-8-7-4, round the block
    assert car.seconds[1, 0] > car.seconds[0, 1]
    assert walk.metres[0, 1] == pytest.approx(four_six, abs=0.05)
    np.testing.assert_array_equal(walk.seconds, walk.seconds.T)
    np.testing.assert_array_equal(walk.metres, walk.metres.T)


def test_footway_is_walked_but_not_driven_or_cycled(
    net: StreetNetwork, node: dict[int, Any]
) -> None:
    points = np.array([node[2], node[5]])
    by_footway = metres(node[2], node[10]) + metres(node[10], node[5])
    assert net.matrix(points, Transport.walk).metres[0, 1] == pytest.approx(by_footway, abs=0.05)
    # Without the footway: west along Claremont Road, down Avenue Elmers, along Maple Road.
    round_m = metres(node[2], node[1]) + metres(node[1], node[4]) + metres(node[4], node[5])
    assert net.matrix(points, Transport.car).metres[0, 1] == pytest.approx(round_m, abs=0.05)
    cycle = net.matrix(points, Transport.cycle)
    assert cycle.metres[0, 1] == pytest.approx(round_m, abs=0.05)
    assert cycle.seconds[0, 1] == pytest.approx(round_m / CYCLE_MS, abs=0.05)


def test_points_on_the_same_node_are_joined_by_their_straight_line(
    net: StreetNetwork, node: dict[int, Any]
) -> None:
    a, b = moved(node[5], north_m=5), moved(node[5], east_m=6)
    m = net.matrix(np.array([a, b]), Transport.walk)
    assert m.metres[0, 1] == pytest.approx(metres(a, b), abs=0.01)
    assert m.seconds[0, 1] == pytest.approx(metres(a, b) / WALK_MS, abs=0.01)


def test_metres_are_those_of_the_fastest_path_not_the_shortest() -> None:
    """A 300 m residential short cut at 20 mph loses to 400 m of 30 mph road."""
    graph = nx.MultiDiGraph(crs="epsg:4326")
    a, c, b = (-0.300, 51.40), (-0.2975, 51.4012), (-0.2957, 51.40)
    for i, (x, y) in enumerate((a, c, b), start=1):
        graph.add_node(i, x=x, y=y)

    def road(u: int, v: int, highway: str, maxspeed: str, length: float) -> None:
        for s, t in ((u, v), (v, u)):
            graph.add_edge(s, t, highway=highway, maxspeed=maxspeed, length=length, oneway=False)

    road(1, 3, "residential", "20 mph", 300.0)
    road(1, 2, "secondary", "30 mph", 200.0)
    road(2, 3, "secondary", "30 mph", 200.0)
    net = StreetNetwork.from_graph(graph, workers=1)
    m = net.matrix(np.array([a, b]), Transport.car)
    assert m.metres[0, 1] == pytest.approx(400.0, abs=0.02)
    assert m.seconds[0, 1] == pytest.approx(400.0 / (30 * MPH), abs=0.01)
    walk = net.matrix(np.array([a, b]), Transport.walk)
    assert walk.metres[0, 1] == pytest.approx(300.0, abs=0.02)


def test_matrices_are_the_same_on_several_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    grid = nx.grid_2d_graph(25, 25)
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for i, (r, c) in enumerate(grid.nodes):
        graph.add_node(i, x=-0.33 + 0.0015 * c, y=51.35 + 0.001 * r)
    index = {n: i for i, n in enumerate(grid.nodes)}
    for p, q in grid.edges:
        u, v = index[p], index[q]
        length = float(rng.uniform(80, 160))
        for s, t in ((u, v), (v, u)) if rng.random() > 0.2 else ((u, v),):
            graph.add_edge(s, t, highway="residential", maxspeed="20 mph", length=length)
    net = StreetNetwork.from_graph(graph, workers=1)
    g = net.modes[Transport.car]
    monkeypatch.setattr(network_module, "PARALLEL_MIN_CELLS", 0)
    nodes = g.snap_nodes[::2]
    one = many_to_many(g.csr, nodes, workers=1)
    two = many_to_many(g.csr, nodes, workers=2)
    np.testing.assert_array_equal(one, two)
    assert np.isfinite(one).all()


# ---------------------------------------------------------------------------------------------
# Street network: geometry and file formats
# ---------------------------------------------------------------------------------------------
def test_path_follows_the_streets(net: StreetNetwork, node: dict[int, Any]) -> None:
    a, b = moved(node[6], north_m=10), moved(node[4], east_m=-12)
    line = net.path(a, b, Transport.car)
    assert line[0] == pytest.approx(a) and line[-1] == pytest.approx(b)
    assert line[1:-1] == [pytest.approx(node[n]) for n in (6, 9, 8, 7, 4)]

    # On foot, 2 to 5 takes the footway and its bend at 10 (kept as the edge's geometry).
    line = net.path(node[2], node[5], Transport.walk)
    assert line == [pytest.approx(node[n]) for n in (2, 10, 5)]
    # Backwards along the same footway: the geometry is turned round.
    assert net.paths([(node[5], node[2])], Transport.walk)[0] == list(reversed(line))


def test_pbf_and_graphml_give_the_same_network(tmp_path: Path, net: StreetNetwork) -> None:
    import osmium

    pbf = tmp_path / "mini.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    for obj in osmium.FileProcessor(str(MINI)):
        writer.add(obj)
    writer.close()
    graphml = tmp_path / "mini.graphml"
    ox.save_graphml(read_graph(MINI), graphml)
    points = net.lonlat
    for other in (StreetNetwork.load(pbf, workers=1), StreetNetwork.load(graphml, workers=1)):
        for mode in Transport:
            expected = net.matrix(points, mode)
            got = other.matrix(points, mode)
            np.testing.assert_array_equal(got.seconds, expected.seconds)
            np.testing.assert_array_equal(got.metres, expected.metres)


def test_unknown_file_kind_is_a_clear_error(tmp_path: Path) -> None:
    other = tmp_path / "streets.shp"
    other.write_text("x")
    with pytest.raises(ValueError, match=r"use OpenStreetMap data as \.osm, \.osm\.pbf"):
        StreetNetwork.load(other)
    with pytest.raises(FileNotFoundError):
        StreetNetwork.load(tmp_path / "missing.osm")


# ---------------------------------------------------------------------------------------------
# Fetching (the download itself is replaced: the tests run offline)
# ---------------------------------------------------------------------------------------------
def test_fetch_saves_the_borough_graph_for_offline_use(
    tmp_path: Path, raw: nx.MultiDiGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: dict[str, Any] = {}

    def download(polygon: Any, **kw: Any) -> nx.MultiDiGraph:
        asked.update(kw, polygon=polygon)
        return ox.graph_from_xml(MINI, simplify=False, retain_all=True)

    monkeypatch.setattr(ox, "graph_from_polygon", download)
    out = tmp_path / "kingston.graphml"
    fetch_network(out, mode="car")
    assert asked["network_type"] == "drive_service"
    # The borough outline: Kingston's Guildhall is inside, Wimbledon is not.
    assert asked["polygon"].contains(Point(-0.3064, 51.4085))
    assert not asked["polygon"].contains(Point(-0.2064, 51.4214))
    loaded = StreetNetwork.load(out, workers=1)
    assert loaded.name == "street-network:kingston.graphml"
    assert loaded.summary() == StreetNetwork.load(MINI).summary()


def test_fetch_offline_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(polygon: Any, **kw: Any) -> nx.MultiDiGraph:
        raise requests.ConnectionError("Name or service not known")

    monkeypatch.setattr(ox, "graph_from_polygon", offline)
    with pytest.raises(NetworkFetchError, match="needs the internet"):
        fetch_network(tmp_path / "k.graphml")
    result = CliRunner().invoke(app, ["network", "fetch", "--out", str(tmp_path / "k.graphml")])
    assert result.exit_code == 1
    assert not (tmp_path / "k.graphml").exists()


def test_network_info_lists_what_each_mode_can_use() -> None:
    result = CliRunner().invoke(app, ["network", "info", str(MINI)])
    assert result.exit_code == 0, result.output
    assert "walk: 9 nodes, 24 directed edges" in result.output
    assert "car: 8 nodes, 16 directed edges" in result.output


# ---------------------------------------------------------------------------------------------
# Road-distance estimate
# ---------------------------------------------------------------------------------------------
def test_road_estimate_against_hand_computed_values() -> None:
    # Due north along a meridian, great-circle distance = R * dlat: 1 km exactly.
    lat = 51.4
    points = np.array([(-0.3, lat), (-0.3, lat + math.degrees(1000 / EARTH_RADIUS_M))])
    estimate = RoadEstimate()
    # walk: 1000 m x 1.25 = 1250 m at 4.8 km/h (4/3 m/s) = 937.5 s
    # cycle: 1250 m at 15 km/h (25/6 m/s) = 300 s
    # car: 1000 m x 1.32 = 1320 m at 24 km/h (20/3 m/s) = 198 s
    for mode, metres_, seconds in (
        (Transport.walk, 1250.0, 937.5),
        (Transport.cycle, 1250.0, 300.0),
        (Transport.car, 1320.0, 198.0),
    ):
        m = estimate.matrix(points, mode)
        np.testing.assert_allclose(m.metres, [[0, metres_], [metres_, 0]], atol=1e-6)
        np.testing.assert_allclose(m.seconds, [[0, seconds], [seconds, 0]], atol=1e-6)
    custom = RoadEstimate({Transport.walk: ModeProfile(circuity=1.0, speed_kmh=3.6)})
    assert custom.matrix(points, Transport.walk).seconds[0, 1] == pytest.approx(1000.0)
    assert estimate.path((-0.3, 51.4), (-0.29, 51.41), Transport.car) == [
        (-0.3, 51.4),
        (-0.29, 51.41),
    ]


# ---------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------
class Counting:
    """A travel model that counts its matrix calls."""

    def __init__(self, inner: RoadEstimate) -> None:
        self.inner = inner
        self.name = inner.name
        self.fingerprint = inner.fingerprint
        self.calls = 0

    def matrix(self, points: np.ndarray, mode: Transport) -> Matrix:
        self.calls += 1
        return self.inner.matrix(points, mode)

    def path(self, a: Any, b: Any, mode: Transport) -> list[Any]:
        return self.inner.path(a, b, mode)


def test_cache_returns_the_same_day_without_recomputing(tmp_path: Path) -> None:
    points = np.array([(-0.30, 51.40), (-0.29, 51.41), (-0.31, 51.39)])
    model = Counting(RoadEstimate())
    cached = CachedTravel(model, tmp_path)
    first = cached.matrix(points, Transport.walk)
    second = cached.matrix(points.copy(), Transport.walk)
    assert model.calls == 1 and (cached.hits, cached.misses) == (1, 1)
    np.testing.assert_array_equal(first.seconds, second.seconds)
    np.testing.assert_array_equal(first.metres, second.metres)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    # Kept on disk: a new process (a new wrapper) finds it too.
    again = CachedTravel(Counting(RoadEstimate()), tmp_path)
    np.testing.assert_array_equal(again.matrix(points, Transport.walk).seconds, first.seconds)
    assert again.model.calls == 0

    # Another mode, other points or other figures are other matrices.
    cached.matrix(points, Transport.car)
    cached.matrix(points[:2], Transport.walk)
    assert model.calls == 3
    # The same figures spelled out are the same model; other figures are another.
    assert RoadEstimate(dict(DEFAULT_PROFILES)).fingerprint == model.fingerprint
    faster = Counting(RoadEstimate({Transport.walk: ModeProfile(circuity=1.25, speed_kmh=6.0)}))
    assert CachedTravel(faster, tmp_path).key(points, "walk") != cached.key(points, "walk")


def test_cache_recomputes_a_damaged_file_and_passes_other_calls_through(tmp_path: Path) -> None:
    points = np.array([(-0.30, 51.40), (-0.29, 51.41)])
    model = Counting(RoadEstimate())
    cached = CachedTravel(model, tmp_path)
    (tmp_path / f"{cached.key(points, Transport.car)}.npz").write_bytes(b"not a zip")
    m = cached.matrix(points, Transport.car)
    assert model.calls == 1 and m.seconds[0, 1] > 0
    assert cached.name == "road-estimate"
    assert cached.path((0.0, 0.0), (1.0, 1.0), Transport.car) == [(0.0, 0.0), (1.0, 1.0)]
    assert cached.inner is model.inner  # anything else is the wrapped model's


def test_cache_removes_the_least_recently_used_files_past_its_size(tmp_path: Path) -> None:
    cached = CachedTravel(RoadEstimate(), tmp_path)
    days = [np.array([(-0.30, 51.40 + i / 100), (-0.29, 51.41)]) for i in range(3)]
    files = [tmp_path / f"{cached.key(day, Transport.walk)}.npz" for day in days]
    cached.matrix(days[0], Transport.walk)
    cached.matrix(days[1], Transport.walk)
    size = files[0].stat().st_size
    now = time.time()
    os.utime(files[0], (now - 20, now - 20))
    os.utime(files[1], (now - 10, now - 10))
    cached.matrix(days[0], Transport.walk)  # a hit: day 0 is now the most recently used
    cached.max_bytes = 2 * size + size // 2
    cached.matrix(days[2], Transport.walk)
    assert [f.exists() for f in files] == [True, False, True]


def test_street_network_fingerprint_changes_with_its_figures(
    net: StreetNetwork, node: dict[int, Any]
) -> None:
    slow = StreetNetwork.load(MINI, workers=1, car_speed_factor=0.6)
    assert net.fingerprint == StreetNetwork.load(MINI, workers=1).fingerprint
    assert net.fingerprint != slow.fingerprint
    # From node to node (no access legs) driving takes 1 / 0.6 as long.
    points = np.array([node[2], node[6]])
    assert slow.matrix(points, Transport.car).seconds[0, 1] == pytest.approx(
        net.matrix(points, Transport.car).seconds[0, 1] / 0.6, abs=0.01
    )
