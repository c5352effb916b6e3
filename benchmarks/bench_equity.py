"""Equity when capacity runs short: the bundled day with 40% of its volunteers, planned with
and without ``--equity``, and the share of needs served by IMD 2019 quintile.

The volunteers kept are drawn by the scenario change ``volunteers: {scale: 0.4}``
(``kst_match.scenarios``), one draw per seed (``--seeds``, default 0 1 2: three different
selections of 60 of the 150 volunteers). Each selection is planned twice, equity off and on,
with the deterministic rule ``MaxIterations(--iterations)`` (default 100): the same figures on
any machine, however busy. Every plan is checked by the independent validator. Reported per
run and summed over the runs: needs, served and the share served by IMD quintile (1: the most
deprived fifth of England's LSOAs), urgent and high-priority needs served, total served and
travel; the load average is recorded before and after each run.

    python benchmarks/bench_equity.py [--seeds 0 1 2] [--iterations 100] [--share 0.4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kst_match.check import check_plan
from kst_match.cores import usable_cores
from kst_match.geo.travel import RoadEstimate
from kst_match.inputs import read_day
from kst_match.model import Day, Plan
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.plan import make_plan
from kst_match.scenarios import Scenario, VolunteersChange, apply
from kst_match.solve.stop import MaxIterations

RESULTS = Path(__file__).resolve().parent / "results" / "equity.json"
QUINTILES = [str(q) for q in range(1, 6)]


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def figures(day: Day, plan: Plan) -> dict[str, object]:
    """What one plan shows: served by quintile, by priority, in all, and its travel."""
    k = plan.kpis
    by_q = k["equity"]["by_imd_quintile"]  # type: ignore[index]
    priority = k["served_by_priority"]
    return {
        "needs": k["needs"],
        "served": k["served"],
        "by_quintile": {q: {"needs": by_q[q]["needs"], "served": by_q[q]["served"]} for q in by_q},
        "urgent": priority["urgent"],  # type: ignore[index]
        "high": priority["high"],  # type: ignore[index]
        "normal": priority["normal"],  # type: ignore[index]
        "travel_total_min": k["travel_total_min"],
        "unserved_by_reason": k["unserved_by_reason"],
    }


def run(day: Day, seed: int, share: float, iterations: int, equity: bool) -> dict[str, object]:
    """Plan ``share`` of the day's volunteers (drawn with ``seed``), equity on or off."""
    scenario = Scenario(name=f"volunteers {share:.0%}", changes=(VolunteersChange(scale=share),))
    short = apply(day, scenario, seed)
    travel = RoadEstimate()
    before = load()
    t0 = time.perf_counter()
    plan = make_plan(short, travel, MaxIterations(iterations), equity=equity)
    wall = time.perf_counter() - t0
    violations = check_plan(short, plan, travel)
    return {
        "seed": seed,
        "equity": equity,
        "volunteers": len(short.volunteers),
        **figures(short, plan),
        "violations": len(violations),
        "wall_s": round(wall, 2),
        "load_before": before,
        "load_after": load(),
    }


def summed(runs: list[dict[str, object]]) -> dict[str, dict[str, int]]:
    """Needs and served by quintile, over the runs."""
    total = {q: {"needs": 0, "served": 0} for q in QUINTILES}
    for r in runs:
        for q, cell in r["by_quintile"].items():  # type: ignore[attr-defined]
            if q in total:
                total[q]["needs"] += cell["needs"]
                total[q]["served"] += cell["served"]
    return total


def pct(served: int, needs: int) -> str:
    return f"{100 * served / needs:.1f}%" if needs else "–"


def table(runs: list[dict[str, object]]) -> Table:
    t = Table(title="Served by IMD quintile (1: most deprived), 40% of volunteers")
    t.add_column("equity")
    t.add_column("seed", justify="right")
    for q in QUINTILES:
        t.add_column(f"Q{q}", justify="right")
    for col in ("urgent", "high", "normal", "served", "travel min", "violations", "wall s"):
        t.add_column(col, justify="right")
    for r in runs:
        by_q = r["by_quintile"]
        t.add_row(
            "on" if r["equity"] else "off",
            str(r["seed"]),
            *(
                f"{by_q[q]['served']}/{by_q[q]['needs']}" if by_q[q]["needs"] else "–"  # type: ignore[index]
                for q in QUINTILES
            ),
            *(f"{r[p]['served']}/{r[p]['needs']}" for p in ("urgent", "high", "normal")),  # type: ignore[index]
            f"{r['served']}/{r['needs']}",
            f"{r['travel_total_min']:.0f}",
            str(r["violations"]),
            f"{r['wall_s']:.1f}",
        )
    for equity in (False, True):
        mine = [r for r in runs if r["equity"] is equity]
        total = summed(mine)
        t.add_row(
            f"{'on' if equity else 'off'}, all",
            "",
            *(pct(total[q]["served"], total[q]["needs"]) for q in QUINTILES),
            *(
                pct(sum(r[p]["served"] for r in mine), sum(r[p]["needs"] for r in mine))  # type: ignore[index]
                for p in ("urgent", "high", "normal")
            ),
            pct(sum(r["served"] for r in mine), sum(r["needs"] for r in mine)),  # type: ignore[misc]
            f"{sum(r['travel_total_min'] for r in mine) / len(mine):.0f}",  # type: ignore[misc]
            str(sum(r["violations"] for r in mine)),  # type: ignore[misc]
            "",
            style="bold",
        )
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--share", type=float, default=0.4)
    args = parser.parse_args()
    if len(args.seeds) < 3:
        parser.error("at least 3 runs: give 3 seeds or more")
    day, issues = read_day(DEFAULT_DAY_DIR)
    assert not issues, issues
    console = Console(width=160)
    runs = []
    for seed in args.seeds:
        for equity in (False, True):
            runs.append(run(day, seed, args.share, args.iterations, equity))
            r = runs[-1]
            console.print(
                f"seed {seed}, equity {'on' if equity else 'off'}: served {r['served']}, "
                f"{r['violations']} violations, {r['wall_s']} s, load {r['load_before']}"
            )
    console.print(table(runs))
    result = {
        "what": "bundled day, a share of its volunteers (seeded draw), equity off and on",
        "share": args.share,
        "iterations": args.iterations,
        "seeds": args.seeds,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "usable_cores": usable_cores(),
        },
        "runs": runs,
        "by_quintile": {
            "off": summed([r for r in runs if not r["equity"]]),
            "on": summed([r for r in runs if r["equity"]]),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
