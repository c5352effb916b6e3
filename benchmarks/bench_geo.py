"""Benchmark the travel models: 3,000-point matrices on a street graph of Kingston's size.

Builds a seeded synthetic street graph over the borough's bounding box (a jittered grid with
random deletions and one-way streets, ~10,000 nodes and ~25,000 directed edges: the size of a
simplified OpenStreetMap graph of Kingston), wraps it in ``StreetNetwork`` without file I/O, and
times, for 3,000 real postcode centroids (``data/geo/postcodes.csv``; random points in the bbox
if absent):

- the drive-time matrix on the street network: the first call, then repeated calls on all
  cores and on one core (median and best of 5); the Dijkstra searches alone; the walk matrix;
- the road-distance estimate's matrix for the same points;
- the disk cache: a miss (compute and store) and a hit;
- route geometries along the streets for 500 legs;
- the generation of the default day (``kst_match.dataset.generate.generate_day``), if present.

Prints a table and writes the figures to ``benchmarks/results/geo.json``.
Run: ``python benchmarks/bench_geo.py`` (about 40 s on 2 cores).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import scipy
from rich.console import Console
from rich.table import Table

from kst_match.geo.network import StreetNetwork, many_to_many
from kst_match.geo.travel import CachedTravel, RoadEstimate, haversine_pairs_m
from kst_match.model import Transport
from kst_match.paths import GEO_DIR

RESULTS = Path(__file__).resolve().parent / "results" / "geo.json"
SEED = 20_200_401
N_POINTS = 3_000
TARGET_S = 2.0
REPEAT = 5
# The borough's bounding box (data/geo/borough.geojson), lon/lat degrees.
BBOX = (-0.3307, 51.3263, -0.2387, 51.4373)


def kingston_sized_graph(
    seed: int = SEED, rows: int = 100, cols: int = 100, drop: float = 0.3, oneway: float = 0.1
) -> nx.MultiDiGraph:
    """A jittered ``rows`` x ``cols`` street grid over the borough's bbox, osmnx-compatible.

    ``drop`` of the grid's streets are removed and ``oneway`` of the rest are one-way (random
    direction). Every tenth row and column is a 30 mph secondary road; the rest are residential,
    half of them tagged 20 mph. Node ids are 1..rows*cols; lengths are great-circle metres.
    """
    rng = np.random.default_rng(seed)
    west, south, east, north = BBOX
    dx, dy = (east - west) / (cols - 1), (north - south) / (rows - 1)
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    lon = west + c * dx + rng.uniform(-0.3, 0.3, r.shape) * dx
    lat = south + r * dy + rng.uniform(-0.3, 0.3, r.shape) * dy
    ids = 1 + r * cols + c

    graph = nx.MultiDiGraph(crs="epsg:4326")
    for i, x, y in zip(ids.ravel(), lon.ravel(), lat.ravel(), strict=True):
        graph.add_node(int(i), x=float(x), y=float(y))

    a = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    b = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    main = np.concatenate([(r[:, :-1] % 10 == 0).ravel(), (c[:-1, :] % 10 == 0).ravel()])
    keep = rng.random(len(a)) >= drop
    a, b, main = a[keep], b[keep], main[keep]
    one_way = (rng.random(len(a)) < oneway) & ~main
    flip = rng.random(len(a)) < 0.5
    xy = np.column_stack([lon.ravel(), lat.ravel()])
    lengths = haversine_pairs_m(xy[a - 1], xy[b - 1])
    twenty = rng.random(len(a)) < 0.5
    for k in range(len(a)):
        u, v = int(a[k]), int(b[k])
        attrs: dict[str, Any] = {
            "osmid": k + 1,
            "highway": "secondary" if main[k] else "residential",
            "length": float(lengths[k]),
        }
        if main[k]:
            attrs["maxspeed"] = "30 mph"
        elif twenty[k]:
            attrs["maxspeed"] = "20 mph"
        if one_way[k]:
            if flip[k]:
                u, v = v, u
            graph.add_edge(u, v, oneway=True, reversed=False, **attrs)
        else:
            graph.add_edge(u, v, oneway=False, reversed=False, **attrs)
            graph.add_edge(v, u, oneway=False, reversed=True, **attrs)
    return graph


def postcode_points(n: int, seed: int = SEED) -> tuple[np.ndarray, str]:
    """``n`` distinct postcode centroids (seeded sample), else random points in the bbox."""
    rng = np.random.default_rng(seed)
    file = GEO_DIR / "postcodes.csv"
    if file.is_file():
        import pandas as pd

        table = pd.read_csv(file, usecols=["lon", "lat"])
        rows = rng.choice(len(table), size=min(n, len(table)), replace=False)
        return table[["lon", "lat"]].to_numpy(dtype=float)[rows], "postcode centroids"
    west, south, east, north = BBOX
    return (
        np.column_stack([rng.uniform(west, east, n), rng.uniform(south, north, n)]),
        "random points in the bbox",
    )


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[list[float], Any]:
    """Wall times of ``repeat`` calls (seconds), and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> None:
    console = Console()
    rows: list[dict[str, Any]] = []

    def row(what: str, times: list[float] | None, note: str = "") -> float | None:
        """Record the median (and best) of ``times``; ``None`` for a skipped row."""
        seconds = None if times is None else statistics.median(times)
        best = None if times is None else min(times)
        rows.append(
            {"what": what, "seconds": seconds, "best": best, "runs": len(times or []), "note": note}
        )
        shown = "skipped" if seconds is None else f"{seconds:.3f} s (best {best:.3f})"
        console.log(f"{what}: {shown} {note}")
        return seconds

    load_before = os.getloadavg()
    build_s, graph = timed(kingston_sized_graph)
    row("build the synthetic graph (networkx)", build_s)
    load_s, network = timed(
        lambda: StreetNetwork.from_graph(graph, name="street-network:synthetic")
    )
    row("StreetNetwork.from_graph (speeds, CSR per mode, KD-trees)", load_s)
    cores = network.workers
    graph_info = {
        "nodes": graph.number_of_nodes(),
        "directed_edges": graph.number_of_edges(),
        "per_mode": network.summary(),
    }
    points, source = postcode_points(N_POINTS)
    car_nodes, _ = network.snap(points, Transport.car)
    unique = np.unique(car_nodes)
    console.log(f"graph {graph_info}; {len(points)} {source}, {len(unique)} distinct car nodes")
    n = f"{len(points):,}"

    cold_s, cold = timed(lambda: network.matrix(points, Transport.car))
    row(f"drive matrix, {n} points, first call ({cores} cores)", cold_s, "workers started at load")
    warm_s, warm = timed(lambda: network.matrix(points, Transport.car), repeat=REPEAT)
    warm_median = row(f"drive matrix, {n} points ({cores} cores)", warm_s, f"{REPEAT} runs")
    g = network.modes[Transport.car]
    sssp_s, _ = timed(lambda: many_to_many(g.csr, unique, workers=cores), repeat=REPEAT)
    row(f"  of which dijkstra from {len(unique):,} nodes ({cores} cores)", sssp_s, f"{REPEAT} runs")
    network.workers = 1
    serial_s, serial = timed(lambda: network.matrix(points, Transport.car), repeat=REPEAT)
    row(f"drive matrix, {n} points (1 core)", serial_s, f"{REPEAT} runs")
    network.workers = cores
    same = bool(
        np.array_equal(warm.seconds, serial.seconds) and np.array_equal(cold.metres, serial.metres)
    )
    console.log(f"all-core and one-core matrices identical: {same}")
    walk_s, _ = timed(lambda: network.matrix(points, Transport.walk), repeat=REPEAT)
    row(f"walk matrix, {n} points ({cores} cores)", walk_s, f"{REPEAT} runs")

    estimate = RoadEstimate()
    est_s, _ = timed(lambda: estimate.matrix(points, Transport.car), repeat=REPEAT)
    row(f"road-estimate matrix, {n} points", est_s, f"{REPEAT} runs")

    with tempfile.TemporaryDirectory() as cache_dir:
        cached = CachedTravel(network, cache_dir)
        miss_s, _ = timed(lambda: cached.matrix(points, Transport.car))
        row("cached drive matrix, miss (compute and store)", miss_s)
        hit_s, _ = timed(lambda: cached.matrix(points, Transport.car), repeat=REPEAT)
        row("cached drive matrix, hit (read .npz)", hit_s, f"{REPEAT} runs")

    rng = np.random.default_rng(SEED)
    legs = [(tuple(points[i]), tuple(points[j])) for i, j in rng.integers(0, len(points), (500, 2))]
    paths_s, _ = timed(lambda: network.paths(legs, Transport.car))  # type: ignore[arg-type]
    row("route geometries along the streets, 500 legs", paths_s)

    try:
        from kst_match.dataset.generate import generate_day  # type: ignore[import-not-found]
    except ImportError:
        row("generate the default day", None, "kst_match.dataset.generate not available yet")
    else:
        day_s, day = timed(generate_day, repeat=REPEAT)
        row(
            "generate the default day",
            day_s,
            f"{len(day.needs)} needs, {len(day.volunteers)} volunteers; {REPEAT} runs",
        )
    load_after = os.getloadavg()

    table = Table(
        title=f"Travel models on a Kingston-sized street graph ({graph_info['nodes']:,} "
        f"nodes, {graph_info['directed_edges']:,} directed edges)"
    )
    table.add_column("what")
    table.add_column("median s", justify="right")
    table.add_column("best s", justify="right")
    table.add_column("note")
    for r in rows:
        skipped = r["seconds"] is None
        table.add_row(
            r["what"],
            "-" if skipped else f"{r['seconds']:.3f}",
            "-" if skipped else f"{r['best']:.3f}",
            r["note"],
        )
    console.print(table)
    met = warm_median is not None and warm_median < TARGET_S
    console.print(
        f"Target: {n}-point street-network matrix under {TARGET_S} s: {'met' if met else 'NOT met'}"
        f" (load average {load_before[0]:.2f} before, {load_after[0]:.2f} after)"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "geo",
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "machine": {
                    "cores": os.cpu_count(),
                    "processor": platform.processor() or platform.machine(),
                    "python": sys.version.split()[0],
                    "numpy": np.__version__,
                    "scipy": scipy.__version__,
                    "load_average_1min_before_after": [load_before[0], load_after[0]],
                },
                "graph": graph_info,
                "points": {
                    "count": len(points),
                    "source": source,
                    "distinct_car_nodes": len(unique),
                },
                "target_s": TARGET_S,
                "target_met": met,
                "matrices_identical_across_cores": same,
                "rows": rows,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    console.print(f"Figures written to {RESULTS}")


if __name__ == "__main__":
    main()
