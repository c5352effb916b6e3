"""A grid of scenarios of the bundled day: volunteers available by demand, timed.

The default is the 100-scenario grid: 10 shares of the volunteers (100% down to 20%, evenly
spaced, drawn with seed 0, so each share keeps a subset of the one above) by 10 demand
factors (x0.5 up to x2, evenly spaced; new needs drawn as the generator draws them, seed 0).
Every plan stops after ``--iterations`` accepted solutions of the improvement search
(``MaxIterations``): it never looks at the clock, so every run of the grid, on any machine and
beside any other work, gives the same plans, and only the time differs. The sweep runs
in-process on the usable cores (``kst_match.scenarios.sweep``, one plan per worker process), or
on a local Ray cluster (``--engine ray``; the cluster's start is timed apart from the sweep).

Reported per run: the sweep's wall time, the wall time per scenario, each plan's time in its
worker (min, median, max), and the machine's load average before, during (sampled every 5 s)
and after, since other work may share the cores. The outcomes of the first run are kept, with
a check that every later run gave the same ones. ``--plot`` draws the capacity curve of the
bundled day (demand x1) from the grid with ``kst_match.outputs.scenarios``.

    python benchmarks/bench_grid.py [--runs 3] [--iterations 20] [--plot FILE.png]
    python benchmarks/bench_grid.py --redraw --plot FILE.png   # from benchmarks/results/grid.json
    python benchmarks/bench_grid.py --demand 1 --engine ray --out benchmarks/results/grid_ray.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kst_match.cores import usable_cores
from kst_match.geo.travel import RoadEstimate
from kst_match.inputs import check_day
from kst_match.model import Day
from kst_match.outputs.scenarios import failing_level, plot_capacity_curve
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.scenarios import (
    DemandChange,
    Outcome,
    Scenario,
    VolunteersChange,
    curve_point,
    sweep,
)
from kst_match.solve.stop import MaxIterations

RESULTS = Path(__file__).parent / "results" / "grid.json"


def levels(high: float, low: float, steps: int) -> list[float]:
    """``steps`` values evenly spaced from ``high`` to ``low`` (3 decimals); ``high`` alone for
    one step."""
    if steps == 1:
        return [high]
    return [round(float(x), 3) for x in np.linspace(high, low, steps)]


def grid(volunteers: list[float], demand: list[float]) -> list[tuple[float, float, Scenario]]:
    """One scenario per (share of volunteers, demand factor), volunteers outermost."""
    return [
        (
            v,
            d,
            Scenario(
                name=f"volunteers {v:.1%}, demand x{d:g}",
                changes=(VolunteersChange(scale=v), DemandChange(scale=d)),
            ),
        )
        for v in volunteers
        for d in demand
    ]


class LoadSampler:
    """The machine's 1-minute load average, sampled every ``every_s`` seconds in a thread."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s, self.samples = every_s, [os.getloadavg()[0]]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self.every_s):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        return {
            "mean": round(statistics.mean(self.samples), 2),
            "max": round(max(self.samples), 2),
        }


def load_now() -> list[float]:
    """The load averages over 1, 5 and 15 minutes."""
    return [round(x, 2) for x in os.getloadavg()]


def one_run(day: Day, runs: list[tuple[Scenario, int]], iterations: int, engine: str) -> dict:
    """Sweep the grid once; the timings and the outcomes."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    before = load_now()
    cluster_s = None
    if engine == "ray":
        import ray

        t = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False)
        cluster_s = round(time.perf_counter() - t, 1)
    try:
        with LoadSampler() as load:
            cpu_before = children_cpu_s()
            began = time.perf_counter()
            outcomes = sweep(day, runs, RoadEstimate(), MaxIterations(iterations), engine=engine)
            wall = time.perf_counter() - began
            cpu = children_cpu_s() - cpu_before
    finally:
        if engine == "ray":
            ray.shutdown()
    per = [o.plan_s for o in outcomes]
    return {
        "started_utc": started,
        "wall_s": round(wall, 1),
        "wall_per_scenario_s": round(wall / len(runs), 2),
        "plan_s": {
            "min": round(min(per), 2),
            "median": round(statistics.median(per), 2),
            "max": round(max(per), 2),
            "sum": round(sum(per), 1),
        },
        # CPU seconds of the worker processes (in-process engine: they have ended by now; Ray's
        # workers are not this process's children, so not counted).
        "workers_cpu_s": round(cpu, 1) if engine == "local" else None,
        "ray_cluster_start_s": cluster_s,
        "load_before": before,
        "load_during": load.summary(),
        "load_after": load_now(),
        "outcomes": outcomes,
    }


def children_cpu_s() -> float:
    """User and system CPU seconds of this process's ended and waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def outcome_row(v: float, d: float, o: Outcome) -> dict[str, Any]:
    p = o.served_by_priority
    return {
        "volunteers_level": v,
        "demand": d,
        "needs": o.needs,
        "volunteers": o.volunteers_available,
        "served": o.served,
        "urgent_needs": p["urgent"]["needs"],
        "urgent_served": p["urgent"]["served"],
        "high_needs": p["high"]["needs"],
        "high_served": p["high"]["served"],
        "travel_total_min": o.travel_total_min,
        "plan_s": o.plan_s,
    }


def spread(values: list[float]) -> dict[str, float]:
    return {
        "min": min(values),
        "median": round(statistics.median(values), 2),
        "max": max(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=10, help="volunteer shares, 100%%..20%%")
    parser.add_argument("--demand", type=int, default=10, help="demand factors, x0.5..x2 (1: x1)")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, help="write the capacity curve (demand x1) here")
    parser.add_argument(
        "--redraw",
        action="store_true",
        help="plan nothing: the failing level and the plot again from the curve in --out",
    )
    args = parser.parse_args()
    if args.redraw:
        redraw(args.out, args.plot)
        return

    day = check_day(DEFAULT_DAY_DIR).day
    volunteers = levels(1.0, 0.2, args.volunteers)
    demand = levels(0.5, 2.0, args.demand) if args.demand > 1 else [1.0]
    cells = grid(volunteers, demand)
    runs = [(s, 0) for _, _, s in cells]
    result: dict[str, Any] = {
        "what": "the bundled day, a grid of volunteers available by demand, seed 0",
        "volunteers_levels": volunteers,
        "demand_factors": demand,
        "scenarios": len(cells),
        "stopping_rule": str(MaxIterations(args.iterations)),
        "engine": args.engine,
        # Ray starts its workers at niceness 15 unless told otherwise: on a shared machine
        # they then yield to everything else.
        "ray_worker_niceness": os.environ.get(
            "RAY_worker_niceness",  # noqa: SIM112 (Ray spells it so)
            "Ray's default (15)",
        )
        if args.engine == "ray"
        else None,
        "workers": usable_cores(),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "runs": [],
    }
    first: list[Outcome] | None = None
    for k in range(args.runs):
        run = one_run(day, runs, args.iterations, args.engine)
        outcomes = run.pop("outcomes")
        first = first or outcomes
        run["same_outcomes_as_run_1"] = outcomes == first
        result["runs"].append(run)
        print(f"run {k + 1}: " + json.dumps(run), flush=True)
        write(result, cells, first, args.out, args.plot)  # kept after every run
    print(json.dumps({k: v for k, v in result.items() if k not in ("outcomes", "runs")}, indent=2))


def redraw(out: Path, plot: Path | None) -> None:
    """The level at which urgent needs start failing, and the plot, from the capacity curve a
    run recorded in ``out`` (the plans are the same on every run: only the drawing is new)."""
    result = json.loads(out.read_text())
    curve = result["capacity_curve"]
    result["urgent_failing_at_level"] = failing_level(curve)
    if plot:
        plot_capacity_curve(curve, plot)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"urgent needs start failing at level {result['urgent_failing_at_level']}")


def write(
    result: dict[str, Any],
    cells: list[tuple[float, float, Scenario]],
    outcomes: list[Outcome],
    out: Path,
    plot: Path | None,
) -> None:
    """The summary over the runs so far, the outcomes and the curve into ``out`` (JSON)."""
    result["wall_s"] = spread([r["wall_s"] for r in result["runs"]])
    result["wall_per_scenario_s"] = spread([r["wall_per_scenario_s"] for r in result["runs"]])
    pairs = list(zip(cells, outcomes, strict=True))
    result["outcomes"] = [outcome_row(v, d, o) for (v, d, _), o in pairs]
    curve = [curve_point(v, o) for (v, d, _), o in pairs if d == 1.0]
    if curve:
        result["capacity_curve"] = curve
        result["urgent_failing_at_level"] = failing_level(curve)
        if plot:
            plot_capacity_curve(curve, plot)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
