"""How the whole plan scales with the day's size: x1 to x10 (and x25 on request).

Each day is generated (seed 0) with needs and volunteers in the default proportion, placed in
its wards as reading it from files would, planned with a time limit proportional to its size
(``--seconds-per-400`` for every 400 needs), checked by the independent validator, ``--runs``
times (at least 3; min, median and max reported). Days of 1,000 needs or more are planned by
area with a repair across borders. The wall time is measured, not the limit: a complete first
solution is always built, so a large day may take longer than its limit.

With ``--whole``, each day of 1,000 needs or more in ``--whole-sizes`` (default 1,000, 2,000
and 4,000) is also planned once as ONE problem, without areas (``make_plan(areas=False)``),
with a limit of ``--whole-seconds`` (300), in a child process stopped after
``--whole-timeout`` seconds (900): served needs, travel minutes per served need, wall time and
violations beside the decomposed plan's median run (results/<name>_whole.json). A whole solve
whose first solution takes longer than the limit is recorded as such.

    python benchmarks/bench_scale.py [--seconds-per-400 5] [--runs 3] [--x25] [--whole]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kst_match.check import check_plan
from kst_match.dataset.generate import generate_day
from kst_match.geo.areas import Areas
from kst_match.geo.travel import RoadEstimate
from kst_match.model import Day
from kst_match.plan import make_plan
from kst_match.solve.stop import MaxRuntime

SIZES = [(400, 150), (1000, 375), (2000, 750), (4000, 1500)]


def placed(day: Day) -> Day:
    """The day with each need's ward, as ``read_day`` sets it."""
    wards = Areas.default().locate_many([n.lon for n in day.needs], [n.lat for n in day.needs])
    needs = tuple(
        n.model_copy(update={"ward": w.ward_code if w else None})
        for n, w in zip(day.needs, wards, strict=True)
    )
    return day.model_copy(update={"needs": needs})


def run(
    needs: int,
    volunteers: int,
    seconds_per_400: float,
    limit: float | None = None,
    areas: bool = True,
) -> dict[str, object]:
    """One plan of the generated day of ``needs``, by area unless ``areas`` is False, with
    ``limit`` seconds (default: ``seconds_per_400`` for every 400 needs)."""
    day = placed(generate_day(needs=needs, volunteers=volunteers, seed=0))
    limit = seconds_per_400 * needs / 400 if limit is None else limit
    travel = RoadEstimate()
    began = time.perf_counter()
    plan = make_plan(day, travel, MaxRuntime(limit), areas=areas)
    elapsed = time.perf_counter() - began
    reasons = plan.kpis["unserved_by_reason"]
    return {
        "needs": needs,
        "volunteers": volunteers,
        "time_limit_s": round(limit, 1),
        "plan_s": round(elapsed, 2),
        "ms_per_need": round(1000 * elapsed / needs, 2),
        "served": len(plan.assignments),
        "served_share": round(len(plan.assignments) / needs, 4),
        "crowded_out": reasons.get("crowded_out", 0),  # type: ignore[union-attr]
        "areas": plan.kpis["solver"].get("areas", 1),  # type: ignore[union-attr]
        "travel_min_per_served": round(
            plan.kpis["travel_total_min"] / max(1, len(plan.assignments)),  # type: ignore[operator]
            2,
        ),
        "not_planned_in_time": reasons.get("not_planned_in_time", 0),  # type: ignore[union-attr]
        "first_solution_s": plan.timings.get("routing_first_solution_s"),
        "violations": len(check_plan(day, plan, travel)),
        "load": round(os.getloadavg()[0], 2),
    }


def median_row(runs: list[dict[str, object]]) -> dict[str, object]:
    """The run of median wall time, with the min and max wall time of all runs."""
    ordered = sorted(runs, key=lambda r: r["plan_s"])  # type: ignore[arg-type, return-value]
    row = dict(ordered[len(ordered) // 2])
    row["plan_s_min"] = ordered[0]["plan_s"]
    row["plan_s_max"] = ordered[-1]["plan_s"]
    row["served_min"] = min(r["served"] for r in runs)  # type: ignore[type-var]
    row["violations_by_run"] = [r["violations"] for r in runs]
    row["runs"] = len(runs)
    return row


def _whole_child(needs: int, volunteers: int, limit: float, out: multiprocessing.Queue) -> None:
    out.put(run(needs, volunteers, 0.0, limit=limit, areas=False))


def whole(needs: int, volunteers: int, limit: float, timeout: float) -> dict[str, object]:
    """The day planned as one problem in a child process, or why there is no plan: the child
    is stopped once ``timeout`` seconds have passed."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_whole_child, args=(needs, volunteers, limit, out))
    began = time.perf_counter()
    child.start()
    try:
        row = out.get(timeout=timeout)
    except Exception:  # queue.Empty: no plan in time
        child.terminate()
        child.join()
        return {
            "needs": needs,
            "time_limit_s": limit,
            "plan_s": None,
            "no_plan_within_s": round(time.perf_counter() - began, 1),
            "load": round(os.getloadavg()[0], 2),
        }
    child.join()
    first = row["first_solution_s"]
    row["first_solution_within_limit"] = first is not None and first <= limit  # type: ignore[operator]
    return row


def side_by_side(rows: list[dict[str, object]], wholes: list[dict[str, object]]) -> list[dict]:
    """Decomposed (median run) against whole, per size."""
    by_size = {r["needs"]: r for r in rows}
    keys = ("served", "travel_min_per_served", "plan_s", "time_limit_s", "violations", "load")
    table = []
    for w in wholes:
        d = by_size[w["needs"]]
        table.append(
            {
                "needs": w["needs"],
                **{f"areas_{k}": d.get(k) for k in keys},
                **{f"whole_{k}": w.get(k) for k in keys},
                "whole_first_solution_s": w.get("first_solution_s"),
                "whole_no_plan_within_s": w.get("no_plan_within_s"),
            }
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-400", type=float, default=5.0)
    parser.add_argument("--x25", action="store_true", help="also 10,000 needs / 3,000 volunteers")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--sizes", type=int, nargs="*", help="only these day sizes (needs), e.g. --sizes 10000"
    )
    parser.add_argument("--name", default="scale", help="results file: results/<name>.json")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--whole", action="store_true", help="also plan large days whole")
    parser.add_argument("--whole-sizes", type=int, nargs="*", default=[1000, 2000, 4000])
    parser.add_argument("--whole-seconds", type=float, default=300.0)
    parser.add_argument("--whole-timeout", type=float, default=900.0)
    args = parser.parse_args()
    sizes = SIZES + ([(10_000, 3_000)] if args.x25 else [])
    if args.sizes:
        sizes = [(n, round(n * 0.375) if n < 10_000 else 3_000) for n in args.sizes]
    rows = []
    for needs, volunteers in sizes:
        runs = [run(needs, volunteers, args.seconds_per_400) for _ in range(max(3, args.runs))]
        rows.append(median_row(runs))
        Console().print(f"{needs} needs: {[r['plan_s'] for r in runs]} s")
    table = Table(title="Whole plan by size of day (road estimate)")
    for key in rows[0]:
        table.add_column(key, justify="right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console(width=160).print(table)
    base = rows[0]
    for row in rows[1:]:
        size = row["needs"] / base["needs"]  # type: ignore[operator]
        growth = row["plan_s"] / base["plan_s"]  # type: ignore[operator]
        Console().print(f"x{size:g} the needs: x{growth:.2f} the time")
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "seconds_per_400": args.seconds_per_400,
        "rows": rows,
    }
    (args.out / f"{args.name}.json").write_text(
        json.dumps(result, indent=2) + "\n", encoding="utf-8"
    )
    if args.whole:
        compare(rows, args)


def compare(rows: list[dict[str, object]], args: argparse.Namespace) -> None:
    """Plan the sizes of ``--whole-sizes`` whole, print and record them beside ``rows``."""
    wholes = []
    for row in rows:
        needs, volunteers = int(row["needs"]), int(row["volunteers"])  # type: ignore[call-overload]
        if needs in args.whole_sizes:
            wholes.append(whole(needs, volunteers, args.whole_seconds, args.whole_timeout))
            Console().print(f"{needs} needs whole: {wholes[-1]}")
    table = side_by_side(rows, wholes)
    shown = Table(title="By area (median run) against whole (one run)")
    for key in table[0] if table else ():
        shown.add_column(key, justify="right")
    for row in table:
        shown.add_row(*(str(v) for v in row.values()))
    Console(width=200).print(shown)
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "seconds_per_400": args.seconds_per_400,
        "whole_seconds": args.whole_seconds,
        "whole_timeout_s": args.whole_timeout,
        "comparison": table,
        "whole_rows": wholes,
    }
    (args.out / f"{args.name}_whole.json").write_text(
        json.dumps(result, indent=2) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
