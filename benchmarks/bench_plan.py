"""Time the whole daily plan, from files to outputs, on the bundled default day.

Phases: read and validate the files, solve (triage, routes, calls), check the plan
independently, write the outputs. Then the same day with a solver limit ten times longer, to
show what stopping early gives up (travel time and needs served).

    python benchmarks/bench_plan.py [--time-limit 5] [--data DIR] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kst_match.check import check_plan
from kst_match.geo.travel import RoadEstimate
from kst_match.inputs import read_day
from kst_match.outputs import write_outputs
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.plan import make_plan


def run(data: Path, time_limit: float) -> dict[str, object]:
    """One plan from files to outputs, with the time of each phase."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    day, issues = read_day(data)
    times["read_validate_s"] = time.perf_counter() - t0
    travel = RoadEstimate()
    t = time.perf_counter()
    plan = make_plan(day, travel, time_limit)
    times["solve_s"] = time.perf_counter() - t
    t = time.perf_counter()
    violations = check_plan(day, plan, travel)
    times["check_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write_outputs(day, plan, Path(out))
    times["outputs_s"] = time.perf_counter() - t
    times["total_s"] = time.perf_counter() - t0
    kpis = plan.kpis
    return {
        "time_limit_s": time_limit,
        **{k: round(v, 3) for k, v in times.items()},
        "needs": len(day.needs),
        "volunteers": len(day.volunteers),
        "input_issues": len(issues),
        "served": kpis["served"],
        "unserved": kpis["unserved"],
        "unserved_by_reason": kpis["unserved_by_reason"],
        "crowded_out": kpis["unserved_by_reason"].get("crowded_out", 0),  # type: ignore[union-attr]
        "travel_total_min": kpis["travel_total_min"],
        "violations": len(violations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DAY_DIR)
    parser.add_argument("--time-limit", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    short = run(args.data, args.time_limit)
    long = run(args.data, args.time_limit * 10)
    table = Table(title=f"Whole plan, {short['needs']} needs / {short['volunteers']} volunteers")
    table.add_column("figure")
    table.add_column(f"limit {args.time_limit:g} s", justify="right")
    table.add_column(f"limit {args.time_limit * 10:g} s", justify="right")
    for key in (
        "read_validate_s",
        "solve_s",
        "check_s",
        "outputs_s",
        "total_s",
        "served",
        "unserved",
        "crowded_out",
        "travel_total_min",
        "violations",
    ):
        table.add_row(key, str(short[key]), str(long[key]))
    gap = (short["travel_total_min"] - long["travel_total_min"]) / long["travel_total_min"]  # type: ignore[operator]
    Console().print(table)
    Console().print(
        f"Stopping at {args.time_limit:g} s costs {gap:+.1%} travel time against a run "
        f"ten times longer ({short['served']} vs {long['served']} needs served)."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "short": short,
        "long": long,
        "travel_gap_vs_10x": round(gap, 4),
    }
    (args.out / "plan.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
