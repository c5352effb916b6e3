"""Travel on an OpenStreetMap street network, loaded offline: ``StreetNetwork``.

The graph comes from a file the user supplies (OSM XML ``.osm`` / ``.osm.bz2`` / ``.osm.gz`` /
``.xml`` read by ``osmnx.graph_from_xml``, ``.osm.pbf`` converted with pyosmium, ``.graphml``
read by ``osmnx.load_graphml``) or from ``fetch_network`` (``kst-match network fetch``), the
only function here that needs the internet. Nothing is downloaded when a plan is made.

Rules, per mode (the way filters of osmnx 2.1's ``network_type`` "drive_service", "walk" and
"bike"; a way with ``area=yes`` or ``access=private`` is never used):

- **car** follows one-way streets; it never uses footways, paths, pedestrian streets, steps,
  cycleways, bridleways, tracks or corridors, nor ways tagged ``motor_vehicle=no`` or
  ``motorcar=no``, nor service roads for parking, emergency access or private use. Its speed on
  each street is the posted ``maxspeed`` (osmnx ``add_edge_speeds``); a street without one takes
  the mean posted speed of its highway type in the graph, else 70 mph on motorways and 30 mph,
  the UK's default limit in built-up areas (Road Traffic Regulation Act 1984, s. 81), elsewhere.
  These are free-flow speeds: ``car_speed_factor`` scales them for congestion.
- **walk** is undirected (one-way streets are two-way on foot); it never uses motorways,
  cycleways, ways tagged ``foot=no``, nor roads whose sidewalks are mapped as separate ways
  (those sidewalks are used instead). Speed: the walking speed of ``travel.DEFAULT_PROFILES``.
- **cycle** follows one-way streets, except where ``oneway:bicycle=no``; it never uses
  motorways, footways, steps, corridors nor ways tagged ``bicycle=no``. Speed: the cycling speed
  of ``travel.DEFAULT_PROFILES``.

A point is snapped to the nearest node of the largest strongly connected part of its mode's
graph, so every pair of points is reachable and every matrix entry finite. The straight line from
the point to that node (the "access leg": from the door to the street corner) is added at the
mode's door-to-door speed from the profile. Two different points on the same node are joined by
their straight line, not through the node.

Shortest paths: one ``scipy.sparse.csgraph.dijkstra`` over a CSR matrix from every distinct
snapped node at once (split across processes on a multi-core machine: scipy holds the GIL).
Each edge weight packs its travel time and its length into one float64 integer,
``time_units · 2**k + length_units`` (times in ms to s, lengths in cm to 10 m, the finest that
keep every path below 2**53): the shortest path is then the fastest one, ties going to the
shorter, and the metres read back are those of that fastest path, exactly, from one search.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import multiprocessing
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from kst_match.cores import usable_cores
from kst_match.geo.travel import (
    DEFAULT_PROFILES,
    EARTH_RADIUS_M,
    LonLat,
    Matrix,
    ModeProfile,
    as_points,
    haversine_pairs_m,
)
from kst_match.model import Transport
from kst_match.paths import GEO_DIR

if TYPE_CHECKING:
    import networkx as nx

MPH_KMH = 1.609344  # km per mile (exact)

# Way tags the mode rules read. osmnx keeps only the tags in settings.useful_tags_way, so these are
# added while reading; simplification keeps a node wherever one of them changes along a street.
MODE_TAGS: tuple[str, ...] = (
    "highway",
    "access",
    "area",
    "service",
    "foot",
    "bicycle",
    "motor_vehicle",
    "motorcar",
    "oneway:bicycle",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
)

# Highway values no mode uses: not in use, or not a way to travel along.
_UNUSED = frozenset(
    {
        "abandoned",
        "bus_guideway",
        "construction",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "rest_area",
        "services",
    }
)
EXCLUDED_HIGHWAYS: dict[Transport, frozenset[str]] = {
    Transport.car: _UNUSED
    | {
        "bridleway",
        "corridor",
        "cycleway",
        "elevator",
        "escalator",
        "footway",
        "path",
        "pedestrian",
        "steps",
        "track",
    },
    Transport.walk: _UNUSED | {"cycleway", "motorway", "motorway_link"},
    Transport.cycle: _UNUSED
    | {"corridor", "elevator", "escalator", "footway", "motorway", "motorway_link", "steps"},
}
# Other tags that close a way to a mode (tag -> values).
EXCLUDED_TAGS: dict[Transport, dict[str, frozenset[str]]] = {
    Transport.car: {
        "motor_vehicle": frozenset({"no"}),
        "motorcar": frozenset({"no"}),
        "service": frozenset({"emergency_access", "parking", "parking_aisle", "private"}),
    },
    Transport.walk: {
        "foot": frozenset({"no"}),
        "service": frozenset({"private"}),
        "sidewalk": frozenset({"separate"}),
        "sidewalk:both": frozenset({"separate"}),
        "sidewalk:left": frozenset({"separate"}),
        "sidewalk:right": frozenset({"separate"}),
    },
    Transport.cycle: {"bicycle": frozenset({"no"}), "service": frozenset({"private"})},
}
_ALWAYS_EXCLUDED_TAGS = {"area": frozenset({"yes"}), "access": frozenset({"private"})}

# Car speeds for streets without maxspeed whose highway type has no maxspeed anywhere in the
# graph: the UK national limit on motorways, the built-up-area default elsewhere (km/h).
CAR_HWY_SPEEDS_KMH: dict[str, float] = {"motorway": 70 * MPH_KMH, "motorway_link": 70 * MPH_KMH}
CAR_FALLBACK_KMH = 30 * MPH_KMH

# (time unit s, length unit m) for the packed edge weights, finest first.
_UNITS: tuple[tuple[float, float], ...] = (
    (0.001, 0.01),
    (0.001, 0.1),
    (0.01, 0.1),
    (0.01, 1.0),
    (0.1, 1.0),
    (1.0, 1.0),
    (1.0, 10.0),
)
_EXACT_BITS = 53  # float64 holds every integer below 2**53 exactly

# One dijkstra call returns a (sources x nodes) float64 array: keep it under ~128 MB.
_CHUNK_CELLS = 16_000_000
# Below this many (sources x nodes) cells one process beats starting work in another.
PARALLEL_MIN_CELLS = 2_000_000


def allowed(mode: Transport, tags: dict[str, Any]) -> bool:
    """Whether a way with these OSM ``tags`` is open to ``mode`` (see the module's rules).

    A tag may hold a list of values (an edge merged from several ways): the way is open only if
    no value closes it.
    """
    highway = _values(tags.get("highway"))
    if not highway or highway & EXCLUDED_HIGHWAYS[Transport(mode)]:
        return False
    for rules in (_ALWAYS_EXCLUDED_TAGS, EXCLUDED_TAGS[Transport(mode)]):
        for tag, closed in rules.items():
            if _values(tags.get(tag)) & closed:
                return False
    return True


def _values(value: Any) -> set[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return set()
    if isinstance(value, list | tuple | set):
        return {str(v) for v in value}
    return {str(value)}


@dataclass(frozen=True)
class ModeGraph:
    """One mode's routable graph: packed edge weights in CSR form, and where points may snap."""

    csr: csr_matrix  # weights: time_units * scale + length_units, sorted indices, no duplicates
    edge_ref: np.ndarray  # per CSR entry: graph edge index e, or ~e when travelled backwards
    time_unit: float  # seconds per time unit
    length_unit: float  # metres per length unit
    scale: float  # 2**k: the packing factor of time units
    snap_nodes: np.ndarray  # node indices of the largest strongly connected component
    tree: cKDTree  # of snap_nodes, in local metres
    access_speed_ms: float  # speed of the leg from a point to its node, m/s

    def decode(self, packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Packed path weights to (seconds, metres)."""
        time_units = np.floor(packed / self.scale)
        length_units = packed - time_units * self.scale
        return time_units * self.time_unit, length_units * self.length_unit


class StreetNetwork:
    """Travel times, distances and street geometries on an OpenStreetMap graph (see module doc).

    Build it with ``StreetNetwork.load(path)`` or ``StreetNetwork.from_graph(graph)``.
    ``workers`` processes share a large matrix (default: the machine's cores; 1 = this process
    only). ``max_snap_m`` rejects points further than that from their mode's network (metres;
    ``None`` accepts any): such a point is usually a sign of the wrong area's network.
    """

    def __init__(
        self,
        node_ids: np.ndarray,
        lonlat: np.ndarray,
        geometries: list[np.ndarray],
        modes: dict[Transport, ModeGraph],
        *,
        name: str = "street-network",
        workers: int | None = None,
        max_snap_m: float | None = 1000.0,
    ) -> None:
        self.name = name
        self.node_ids = node_ids
        self.lonlat = lonlat
        self._geometries = geometries
        self.modes = modes
        self.workers = max(1, workers or usable_cores())
        self.max_snap_m = max_snap_m
        self._fingerprint: str | None = None

    # ------------------------------------------------------------------------------------------
    # Building
    # ------------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: Path | str,
        *,
        simplify: bool = True,
        profiles: dict[Transport, ModeProfile] | None = None,
        car_speed_factor: float = 1.0,
        workers: int | None = None,
        max_snap_m: float | None = 1000.0,
    ) -> StreetNetwork:
        """Read a street network file (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.xml``, ``.osm.pbf``,
        ``.graphml``) and build the network; named ``street-network:<file name>``."""
        path = Path(path)
        graph = read_graph(path, simplify=simplify)
        return cls.from_graph(
            graph,
            name=f"street-network:{path.name}",
            profiles=profiles,
            car_speed_factor=car_speed_factor,
            workers=workers,
            max_snap_m=max_snap_m,
        )

    @classmethod
    def from_graph(
        cls,
        graph: nx.MultiDiGraph,
        *,
        name: str = "street-network:graph",
        profiles: dict[Transport, ModeProfile] | None = None,
        car_speed_factor: float = 1.0,
        workers: int | None = None,
        max_snap_m: float | None = 1000.0,
    ) -> StreetNetwork:
        """Build the network from an osmnx graph (nodes with ``x``/``y`` lon/lat, edges with
        ``length`` in metres and ``highway``). Adds ``speed_kph`` to its edges if absent."""
        profiles = profiles or DEFAULT_PROFILES
        if car_speed_factor <= 0:
            raise ValueError("car_speed_factor must be positive")
        node_ids = np.array(list(graph.nodes), dtype=np.int64)
        if len(node_ids) == 0:
            raise ValueError("the street network has no nodes")
        index = {int(n): i for i, n in enumerate(node_ids)}
        lonlat = np.array(
            [(float(d["x"]), float(d["y"])) for _, d in graph.nodes(data=True)], dtype=np.float64
        )
        _ensure_car_speeds(graph)

        count = graph.number_of_edges()
        u = np.empty(count, dtype=np.int64)
        v = np.empty(count, dtype=np.int64)
        length = np.empty(count, dtype=np.float64)
        car_kmh = np.empty(count, dtype=np.float64)
        open_to = {mode: np.zeros(count, dtype=bool) for mode in Transport}
        cycle_contraflow = np.zeros(count, dtype=bool)
        geometries: list[np.ndarray] = []
        for e, (a, b, data) in enumerate(graph.edges(data=True)):
            u[e], v[e] = index[int(a)], index[int(b)]
            geometries.append(_edge_coords(data, lonlat[u[e]], lonlat[v[e]]))
            raw_length = data.get("length")
            length[e] = float(raw_length) if raw_length is not None else _polyline_m(geometries[e])
            car_kmh[e] = _speed_kmh(data.get("speed_kph"))
            for mode in Transport:
                open_to[mode][e] = allowed(mode, data)
            cycle_contraflow[e] = "no" in _values(data.get("oneway:bicycle"))

        modes: dict[Transport, ModeGraph] = {}
        for mode in Transport:
            mask = open_to[mode]
            if mode is Transport.walk:
                backwards = mask  # on foot every street is two-way
            elif mode is Transport.cycle:
                backwards = mask & cycle_contraflow
            else:
                backwards = np.zeros(count, dtype=bool)
            forward = np.flatnonzero(mask)
            reverse = np.flatnonzero(backwards)
            eu = np.concatenate([u[forward], v[reverse]])
            ev = np.concatenate([v[forward], u[reverse]])
            ref = np.concatenate([forward, ~reverse])
            metres = length[np.concatenate([forward, reverse])]
            if mode is Transport.car:
                speed_ms = car_kmh[np.concatenate([forward, reverse])] * car_speed_factor / 3.6
            else:
                speed_ms = np.full(len(metres), profiles[mode].speed_ms)
            modes[mode] = _mode_graph(
                len(node_ids),
                eu,
                ev,
                ref,
                metres / speed_ms,
                metres,
                lonlat,
                access_speed_ms=profiles[mode].speed_ms,
                mode=mode,
            )
        network = cls(
            node_ids,
            lonlat,
            geometries,
            modes,
            name=name,
            workers=workers,
            max_snap_m=max_snap_m,
        )
        if len(node_ids) * 500 >= PARALLEL_MIN_CELLS:
            network.start_workers()  # a borough-sized graph: have them ready for the first matrix
        return network

    def start_workers(self) -> None:
        """Start the worker processes now, in the background, rather than on the first large
        matrix (where starting them would add a few tenths of a second)."""
        if self.workers > 1:
            try:
                _pool(self.workers - 1).submit(int)
            except Exception:  # no processes here: matrices are computed in this one
                _reset_pool()

    @property
    def fingerprint(self) -> str:
        """A digest of everything the matrices depend on, for ``CachedTravel``'s key."""
        if self._fingerprint is None:
            digest = hashlib.sha256(b"street-network/1")
            digest.update(self.lonlat.tobytes())
            for mode in Transport:
                g = self.modes[mode]
                digest.update(mode.value.encode())
                for array in (g.csr.indptr, g.csr.indices, g.csr.data, g.snap_nodes):
                    digest.update(np.ascontiguousarray(array).tobytes())
                digest.update(repr((g.time_unit, g.length_unit, g.access_speed_ms)).encode())
            self._fingerprint = f"{self.name}|{digest.hexdigest()}"
        return self._fingerprint

    def summary(self) -> dict[str, dict[str, int]]:
        """Per mode: nodes points may snap to, and directed edges."""
        return {
            mode.value: {"nodes": len(g.snap_nodes), "edges": int(g.csr.nnz)}
            for mode, g in self.modes.items()
        }

    # ------------------------------------------------------------------------------------------
    # Snapping
    # ------------------------------------------------------------------------------------------
    def snap(self, points: np.ndarray, mode: Transport) -> tuple[np.ndarray, np.ndarray]:
        """Each point's nearest node of ``mode``'s network: (node indices, distances in metres).

        Raises ``ValueError`` if a point lies further than ``max_snap_m`` from the network.
        """
        g = self.modes[Transport(mode)]
        pts = as_points(points)
        if len(pts) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        _, nearest = g.tree.query(_local_xy(pts, self._lat0))
        nodes = g.snap_nodes[np.asarray(nearest, dtype=np.int64)]
        metres = haversine_pairs_m(pts, self.lonlat[nodes])
        if self.max_snap_m is not None and (far := np.flatnonzero(metres > self.max_snap_m)).size:
            first = int(far[0])
            raise ValueError(
                f"{far.size} point(s) lie more than {self.max_snap_m:.0f} m from the "
                f"{Transport(mode).value} network of {self.name} (first: point {first} at "
                f"{pts[first, 0]:.5f}, {pts[first, 1]:.5f}, {metres[first]:.0f} m away): "
                "is this the street network of the right area?"
            )
        return nodes, metres

    def nearest_nodes(self, points: np.ndarray, mode: Transport) -> tuple[np.ndarray, np.ndarray]:
        """Each point's snapped node as an OSM node id, and its distance in metres."""
        nodes, metres = self.snap(points, mode)
        return self.node_ids[nodes], metres

    @property
    def _lat0(self) -> float:
        return float(self.lonlat[:, 1].mean())

    # ------------------------------------------------------------------------------------------
    # Matrices and paths
    # ------------------------------------------------------------------------------------------
    def matrix(self, points: np.ndarray, mode: Transport) -> Matrix:
        """Travel between every pair of ``points`` by ``mode``: access leg at the start, fastest
        path between the snapped nodes, access leg at the end. Zero on the diagonal."""
        g = self.modes[Transport(mode)]
        pts = as_points(points)
        n = len(pts)
        if n == 0:
            return Matrix(seconds=np.zeros((0, 0)), metres=np.zeros((0, 0)))
        nodes, access_m = self.snap(pts, mode)
        unique, inverse = np.unique(nodes, return_inverse=True)
        inverse = inverse.reshape(-1)
        node_s, node_m = g.decode(many_to_many(g.csr, unique, workers=self.workers))
        access_s = access_m / g.access_speed_ms
        seconds = np.take(np.take(node_s, inverse, axis=0), inverse, axis=1)
        seconds += access_s[:, None]
        seconds += access_s[None, :]
        metres = np.take(np.take(node_m, inverse, axis=0), inverse, axis=1)
        metres += access_m[:, None]
        metres += access_m[None, :]
        # Points sharing a node: their straight line (the diagonal becomes zero).
        same_i, same_j = np.nonzero(inverse[:, None] == inverse[None, :])
        direct = haversine_pairs_m(pts[same_i], pts[same_j])
        metres[same_i, same_j] = direct
        seconds[same_i, same_j] = direct / g.access_speed_ms
        return Matrix(seconds=seconds, metres=metres)

    def path(self, a: LonLat, b: LonLat, mode: Transport) -> list[LonLat]:
        """The fastest leg from ``a`` to ``b`` along the streets, as lon/lat points: ``a``, the
        streets' own geometry between the snapped nodes, ``b``."""
        return self.paths([(a, b)], mode)[0]

    def paths(self, legs: Sequence[tuple[LonLat, LonLat]], mode: Transport) -> list[list[LonLat]]:
        """``path`` for many legs, with one search per distinct start node."""
        g = self.modes[Transport(mode)]
        if not legs:
            return []
        starts = as_points([a for a, _ in legs])
        ends = as_points([b for _, b in legs])
        from_nodes, _ = self.snap(starts, mode)
        to_nodes, _ = self.snap(ends, mode)
        sources = np.unique(from_nodes[from_nodes != to_nodes])
        out: list[list[LonLat]] = []
        predecessors: dict[int, np.ndarray] = {}
        n_nodes = g.csr.shape[0]
        for chunk in np.array_split(sources, max(1, math.ceil(len(sources) * n_nodes / 4e7))):
            if len(chunk):
                _, pred = dijkstra(g.csr, indices=chunk, return_predecessors=True)
                predecessors.update({int(s): pred[i] for i, s in enumerate(chunk)})
        for i in range(len(legs)):
            a = (float(starts[i, 0]), float(starts[i, 1]))
            b = (float(ends[i, 0]), float(ends[i, 1]))
            s, t = int(from_nodes[i]), int(to_nodes[i])
            if s == t:
                out.append([a, b])
                continue
            route = _walk_back(predecessors[s], s, t)
            coords = [a, *self._street_coords(g, route), b]
            out.append(_dedupe(coords))
        return out

    def _street_coords(self, g: ModeGraph, route: list[int]) -> list[LonLat]:
        """The geometry of a node route, from its first node to its last."""
        first = self.lonlat[route[0]]
        coords: list[LonLat] = [(float(first[0]), float(first[1]))]
        indptr, indices = g.csr.indptr, g.csr.indices
        for p, q in itertools.pairwise(route):
            lo, hi = indptr[p], indptr[p + 1]
            ref = int(g.edge_ref[lo + np.searchsorted(indices[lo:hi], q)])
            line = self._geometries[ref] if ref >= 0 else self._geometries[~ref][::-1]
            coords.extend((float(x), float(y)) for x, y in line[1:])
        return coords


# ----------------------------------------------------------------------------------------------
# Shortest paths
# ----------------------------------------------------------------------------------------------
def many_to_many(csr: csr_matrix, nodes: np.ndarray, *, workers: int = 1) -> np.ndarray:
    """Shortest-path weights between every pair of ``nodes`` (``[i, j]`` from i to j).

    One ``dijkstra`` call per chunk of sources, chunks small enough to bound memory; with
    ``workers > 1`` and enough work, the chunks are shared between this process and
    ``workers - 1`` others (scipy's dijkstra holds the GIL, so threads would not help).
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    k, n = len(nodes), csr.shape[0]
    if k == 0:
        return np.zeros((0, 0))
    cells = k * n
    parallel = workers > 1 and cells >= PARALLEL_MIN_CELLS and k >= 2 * workers
    n_chunks = max(math.ceil(cells / _CHUNK_CELLS), workers if parallel else 1)
    chunks = [c for c in np.array_split(nodes, n_chunks) if len(c)]
    args = (csr.data, csr.indices, csr.indptr)
    if not parallel:
        return np.vstack([_rows(*args, chunk, nodes) for chunk in chunks])
    pool = _pool(workers - 1)
    futures: dict[int, Future[np.ndarray]] = {}
    try:
        futures = {
            i: pool.submit(_rows, *args, chunk, nodes)
            for i, chunk in enumerate(chunks)
            if i % workers
        }
    except Exception:  # the pool could not start: work alone
        _reset_pool()
    results: list[np.ndarray | None] = [None] * len(chunks)
    for i, chunk in enumerate(chunks):
        if i not in futures:
            results[i] = _rows(*args, chunk, nodes)
    for i, future in futures.items():
        try:
            results[i] = future.result()
        except Exception:  # a worker died or could not import: compute the chunk here
            _reset_pool()
            results[i] = _rows(*args, chunks[i], nodes)
    return np.vstack(results)  # type: ignore[arg-type]


def _rows(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    sources: np.ndarray,
    targets: np.ndarray,
) -> np.ndarray:
    """Shortest-path weights from ``sources`` to ``targets`` (runs in worker processes too)."""
    n = len(indptr) - 1
    graph = csr_matrix((data, indices, indptr), shape=(n, n))
    return dijkstra(graph, directed=True, indices=sources)[:, targets]


_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _pool(size: int) -> ProcessPoolExecutor:
    """A long-lived pool of ``size`` processes, started on first use.

    "forkserver" where available: safe in a threaded server (no fork of a threaded process) and,
    with this module preloaded in the server, each worker starts in milliseconds.
    """
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or size != _POOL_SIZE:
            if _POOL is not None:
                _POOL.shutdown(wait=False, cancel_futures=True)
            if "forkserver" in multiprocessing.get_all_start_methods():
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["__main__", __name__])
            else:
                context = multiprocessing.get_context("spawn")
            _POOL = ProcessPoolExecutor(size, mp_context=context)
            _POOL_SIZE = size
        return _POOL


def _reset_pool() -> None:
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL, _POOL_SIZE = None, 0


def _walk_back(pred: np.ndarray, source: int, target: int) -> list[int]:
    """The node route from ``source`` to ``target`` in a predecessor row."""
    route = [target]
    while route[-1] != source:
        previous = int(pred[route[-1]])
        if previous < 0:
            raise ValueError("no route between the snapped nodes")  # cannot happen: one SCC
        route.append(previous)
    route.reverse()
    return route


# ----------------------------------------------------------------------------------------------
# Graph construction helpers
# ----------------------------------------------------------------------------------------------
def _mode_graph(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    ref: np.ndarray,
    seconds: np.ndarray,
    metres: np.ndarray,
    lonlat: np.ndarray,
    *,
    access_speed_ms: float,
    mode: Transport,
) -> ModeGraph:
    """Pack weights, keep the best of parallel edges, and find where points may snap."""
    keep = u != v  # a loop never shortens a path
    u, v, ref, seconds, metres = u[keep], v[keep], ref[keep], seconds[keep], metres[keep]
    if len(u) == 0:
        raise ValueError(f"the street network has no street open to {mode.value}")
    for time_unit, length_unit in _UNITS:
        time_units = np.rint(seconds / time_unit)
        length_units = np.maximum(1.0, np.rint(metres / length_unit))  # > 0: no zero-weight edge
        length_bits = math.ceil(math.log2(length_units.sum() + 1))
        time_bits = math.ceil(math.log2(time_units.sum() + 1))
        if length_bits + time_bits <= _EXACT_BITS:
            break
    else:
        raise ValueError("the street network is too large for exact path weights")
    scale = float(2**length_bits)
    weight = time_units * scale + length_units

    order = np.lexsort((weight, v, u))
    u, v, ref, weight = u[order], v[order], ref[order], weight[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, ref, weight = u[first], v[first], ref[first], weight[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    csr = csr_matrix((weight, v.astype(np.int32), indptr), shape=(n, n))

    _, labels = connected_components(csr, directed=True, connection="strong")
    touched = np.zeros(n, dtype=bool)
    touched[u] = touched[v] = True
    largest = np.bincount(labels[touched]).argmax()
    snap_nodes = np.flatnonzero((labels == largest) & touched)
    lat0 = float(lonlat[:, 1].mean())
    return ModeGraph(
        csr=csr,
        edge_ref=ref,
        time_unit=time_unit,
        length_unit=length_unit,
        scale=scale,
        snap_nodes=snap_nodes,
        tree=cKDTree(_local_xy(lonlat[snap_nodes], lat0)),
        access_speed_ms=access_speed_ms,
    )


def _local_xy(lonlat: np.ndarray, lat0: float) -> np.ndarray:
    """Lon/lat to local metres (equirectangular about ``lat0``): enough to find the nearest
    node over a borough; the snap distance itself is then measured on the sphere."""
    rad = np.radians(lonlat)
    return np.column_stack(
        (rad[:, 0] * EARTH_RADIUS_M * math.cos(math.radians(lat0)), rad[:, 1] * EARTH_RADIUS_M)
    )


def _edge_coords(data: dict[str, Any], start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """An edge's line from its start node to its end node (its geometry, else a straight line)."""
    geometry = data.get("geometry")
    if geometry is None:
        return np.array([start, end], dtype=np.float64)
    coords = np.asarray(geometry.coords, dtype=np.float64)[:, :2]
    # osmnx draws an edge's geometry from u to v; turn round one drawn the other way.
    if np.abs(coords[0] - start).sum() > np.abs(coords[-1] - start).sum():
        coords = coords[::-1]
    return coords


def _speed_kmh(value: Any) -> float:
    """An edge's car speed in km/h: its ``speed_kph`` if a positive number, else 30 mph."""
    try:
        speed = float(value)
    except (TypeError, ValueError):
        return CAR_FALLBACK_KMH
    return speed if math.isfinite(speed) and speed > 0 else CAR_FALLBACK_KMH


def _polyline_m(coords: np.ndarray) -> float:
    return float(haversine_pairs_m(coords[:-1], coords[1:]).sum()) if len(coords) > 1 else 0.0


def _dedupe(coords: list[LonLat]) -> list[LonLat]:
    out = [coords[0]]
    for c in coords[1:]:
        if c != out[-1]:
            out.append(c)
    if len(out) == 1:
        out.append(out[0])
    return out


def _ensure_car_speeds(graph: nx.MultiDiGraph) -> None:
    """Add osmnx ``speed_kph`` (km/h) to every edge unless all edges have one."""
    if all(d.get("speed_kph") is not None for _, _, d in graph.edges(data=True)):
        return
    import osmnx as ox

    graph.graph.setdefault("crs", "epsg:4326")
    ox.add_edge_speeds(graph, hwy_speeds=CAR_HWY_SPEEDS_KMH, fallback=CAR_FALLBACK_KMH)


# ----------------------------------------------------------------------------------------------
# Reading and fetching graphs
# ----------------------------------------------------------------------------------------------
@contextmanager
def _osmnx_settings() -> Iterator[Any]:
    """osmnx with the tags the mode rules need kept, and its HTTP cache in our cache folder."""
    import osmnx as ox

    from kst_match.paths import CACHE_DIR

    saved = (list(ox.settings.useful_tags_way), ox.settings.cache_folder)
    ox.settings.useful_tags_way = sorted(set(saved[0]) | set(MODE_TAGS))
    ox.settings.cache_folder = str(CACHE_DIR / "osmnx")
    try:
        yield ox
    finally:
        ox.settings.useful_tags_way, ox.settings.cache_folder = saved


def simplify_network(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """osmnx simplification that keeps a node wherever a tag of the mode rules changes, so that
    no merged edge mixes, say, a footway and a road."""
    import osmnx as ox

    return ox.simplify_graph(graph, edge_attrs_differ=list(MODE_TAGS))


def read_graph(path: Path | str, *, simplify: bool = True) -> nx.MultiDiGraph:
    """Read a street network file into an osmnx graph, offline.

    OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.xml``): ``osmnx.graph_from_xml``;
    ``.osm.pbf``: converted to OSM XML with pyosmium first (highway ways and their nodes only);
    ``.graphml``: ``osmnx.load_graphml``. The graph is simplified (``simplify_network``)
    unless it already is or ``simplify`` is false.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"street network file not found: {path}")
    name = path.name.lower()
    if name.endswith(".graphml"):
        import osmnx as ox

        graph = ox.load_graphml(path)
    elif name.endswith(".pbf"):
        graph = _graph_from_pbf(path)
    elif name.endswith((".osm", ".xml", ".osm.bz2", ".osm.gz")):
        with _osmnx_settings() as ox:
            graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
    else:
        raise ValueError(
            f"{path.name}: not a street network file this can read; "
            "use OpenStreetMap data as .osm, .osm.pbf or osmnx .graphml"
        )
    if simplify and not graph.graph.get("simplified", False):
        graph = simplify_network(graph)
    return graph


def _graph_from_pbf(path: Path) -> nx.MultiDiGraph:
    """Convert an ``.osm.pbf`` to OSM XML with pyosmium (highway ways and their nodes), then
    read it with osmnx: osmnx reads XML only."""
    try:
        import osmium
    except ImportError as exc:  # pragma: no cover - osmium is a dependency
        raise ValueError(
            f"{path.name}: reading .osm.pbf needs the 'osmium' package (pip install osmium); "
            f"or convert it first: osmium cat {path.name} -o network.osm"
        ) from exc
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "highways.osm"
        ways = osmium.FileProcessor(str(path), osmium.osm.WAY).with_filter(
            osmium.filter.KeyFilter("highway")
        )
        with osmium.BackReferenceWriter(str(xml), ref_src=str(path), overwrite=True) as writer:
            for way in ways:
                writer.add(way)
        with _osmnx_settings() as ox:
            return ox.graph_from_xml(xml, simplify=False, retain_all=True)


class NetworkFetchError(RuntimeError):
    """The street network could not be downloaded."""


# osmnx network types for `fetch_network`'s modes.
FETCH_NETWORK_TYPES = {"all": "all", "walk": "walk", "cycle": "bike", "car": "drive_service"}


def borough_polygon(boundary: Path | str | None = None, buffer_m: float = 500.0) -> Any:
    """The borough outline (``data/geo/borough.geojson``) grown by ``buffer_m`` metres, as a
    WGS84 shapely polygon: streets just over the border are part of journeys inside it."""
    import geopandas as gpd

    from kst_match.geo.areas import BOROUGH_FILE

    outline = gpd.read_file(Path(boundary) if boundary else GEO_DIR / BOROUGH_FILE)
    if outline.crs is None:
        outline = outline.set_crs("EPSG:4326")
    national_grid = outline.to_crs("EPSG:27700").union_all().buffer(buffer_m)
    return gpd.GeoSeries([national_grid], crs="EPSG:27700").to_crs("EPSG:4326").iloc[0]


def fetch_network(
    out: Path | str,
    *,
    mode: str = "all",
    boundary: Path | str | None = None,
    buffer_m: float = 500.0,
) -> nx.MultiDiGraph:
    """Download the borough's street network with osmnx, simplify it and save it as GraphML.

    ``mode``: "all" (every way any mode may use; the default), "walk", "cycle" or "car". Needs
    the internet (OpenStreetMap's Overpass API); raises ``NetworkFetchError`` without it.
    """
    if mode not in FETCH_NETWORK_TYPES:
        raise ValueError(f"mode must be one of {', '.join(FETCH_NETWORK_TYPES)}")
    import requests

    polygon = borough_polygon(boundary, buffer_m)
    with _osmnx_settings() as ox:
        try:
            graph = ox.graph_from_polygon(
                polygon, network_type=FETCH_NETWORK_TYPES[mode], simplify=False, retain_all=True
            )
        except requests.RequestException as exc:
            raise NetworkFetchError(
                "Could not download the street network from OpenStreetMap (Overpass API): "
                f"{exc}. `kst-match network fetch` needs the internet; without it, supply an "
                ".osm, .osm.pbf or .graphml file with --network."
            ) from exc
    graph = simplify_network(graph)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    import osmnx as ox

    ox.save_graphml(graph, out)
    return graph
