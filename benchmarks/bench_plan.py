"""The whole daily plan of the bundled day, files to outputs, at several time limits, on idle
cores and with two CPU-bound processes beside it: does the plan hold on a busy machine?

For each load ("idle", "busy") and each limit (1, 2, 5, 10, 30 s), the plan is made ``--runs``
times (at least 3): read and validate the files, solve, check with the independent validator
(whose re-test of every unserved reason counts the needs that would still fit), write the
outputs. Reported per cell as min / median / max: whole time, time to the first solution,
needs served, travel minutes, violations and insertable needs. The load average is recorded
before and after each cell. Also a deterministic run (``--iterations``), whose figures must be
the same whatever the load.

    python benchmarks/bench_plan.py [--limits 1 2 5 10 30] [--runs 3] [--loads idle busy]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kst_match.check import check_plan
from kst_match.cores import usable_cores
from kst_match.geo.travel import RoadEstimate
from kst_match.inputs import read_day
from kst_match.outputs import write_outputs
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.plan import make_plan
from kst_match.solve.stop import MaxIterations, MaxRuntime, StoppingCriterion

RESULTS = Path(__file__).resolve().parent / "results" / "plan.json"


def _burn(stop_at: float) -> None:  # pragma: no cover - a busy process beside the plan
    x = 0
    while time.time() < stop_at:
        x = (x * 1103515245 + 12345) % 2**31


class Busy:
    """Two CPU-bound processes running beside the plan (as on a laptop doing other things)."""

    def __init__(self, processes: int = 2) -> None:
        self.processes = processes
        self.workers: list[multiprocessing.Process] = []

    def __enter__(self) -> Busy:
        until = time.time() + 3600
        self.workers = [
            multiprocessing.Process(target=_burn, args=(until,), daemon=True)
            for _ in range(self.processes)
        ]
        for w in self.workers:
            w.start()
        time.sleep(1.0)
        return self

    def __exit__(self, *_: object) -> None:
        for w in self.workers:
            w.terminate()
        for w in self.workers:
            w.join()


def run(data: Path, rule: StoppingCriterion) -> dict[str, object]:
    """One plan from files to outputs."""
    t0 = time.perf_counter()
    day, issues = read_day(data)
    travel = RoadEstimate()
    plan = make_plan(day, travel, rule)
    solve_s = time.perf_counter() - t0
    violations = check_plan(day, plan, travel)
    with tempfile.TemporaryDirectory() as out:
        write_outputs(day, plan, Path(out) / "plan")
    total = time.perf_counter() - t0
    kpis = plan.kpis
    solver = kpis["solver"]
    return {
        "total_s": round(total, 2),
        "solve_s": round(solve_s, 2),
        "first_solution_s": plan.timings.get("routing_first_solution_s"),
        "iterations": solver.get("routing_iterations"),  # type: ignore[union-attr]
        "served": kpis["served"],
        "unserved_by_reason": kpis["unserved_by_reason"],
        "travel_total_min": kpis["travel_total_min"],
        "violations": len([v for v in violations if v.code != "unserved_insertable"]),
        "insertable": len([v for v in violations if v.code == "unserved_insertable"]),
        "input_issues": len(issues),
    }


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def cell(data: Path, rule: StoppingCriterion, runs: int) -> dict[str, object]:
    load_before = os.getloadavg()[0]
    results = [run(data, rule) for _ in range(runs)]
    out: dict[str, object] = {
        "rule": str(rule),
        "runs": runs,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    for key in (
        "total_s",
        "first_solution_s",
        "served",
        "travel_total_min",
        "violations",
        "insertable",
        "iterations",
    ):
        out[key] = spread([float(r[key] or 0) for r in results])  # type: ignore[arg-type]
    out["unserved_by_reason"] = [r["unserved_by_reason"] for r in results]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DAY_DIR)
    parser.add_argument("--limits", type=float, nargs="+", default=[1, 2, 5, 10, 30])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loads", nargs="+", default=["idle", "busy"])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = max(3, args.runs)

    cells: list[dict[str, object]] = []
    for load in args.loads:
        rules: list[StoppingCriterion] = [MaxRuntime(x) for x in args.limits]
        rules.append(MaxIterations(args.iterations))
        for rule in rules:
            if load == "busy":
                with Busy():
                    result = cell(args.data, rule, runs)
            else:
                result = cell(args.data, rule, runs)
            result["load"] = load
            cells.append(result)
            Console().print(f"{load:5} {rule}: {json.dumps(result)}")

    table = Table(title="Bundled day (400 needs, 150 volunteers), files to outputs; min/median/max")
    for col in (
        "load",
        "rule",
        "total s",
        "first solution s",
        "served",
        "travel min",
        "violations",
        "insertable",
        "load avg",
    ):
        table.add_column(col, justify="right")

    def fmt(d: object) -> str:
        s = d  # type: ignore[assignment]
        return f"{s['min']:g} / {s['median']:g} / {s['max']:g}"  # type: ignore[index]

    for c in cells:
        table.add_row(
            str(c["load"]),
            str(c["rule"]),
            fmt(c["total_s"]),
            fmt(c["first_solution_s"]),
            fmt(c["served"]),
            fmt(c["travel_total_min"]),
            fmt(c["violations"]),
            fmt(c["insertable"]),
            f"{c['load_before']}-{c['load_after']}",
        )
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "usable_cores": usable_cores(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "cells": cells,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
