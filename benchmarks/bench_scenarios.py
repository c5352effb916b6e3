"""100 scenarios of the bundled day: a grid over the volunteers available and the demand.

Each scenario keeps a share of the volunteers (drawn with seed 0) and scales every kind of
demand (new needs drawn as the generator draws them), and is planned with ``--iterations``
improvement iterations (deterministic), one plan per worker process, as many workers as usable
cores (``kst_match.scenarios.sweep``). Reported: the sweep's wall time, the time per scenario
(each plan timed in its worker: min, median, max over the scenarios), the machine's load
before and after, and each scenario's served and urgent-served figures.

    python benchmarks/bench_scenarios.py [--volunteers 10] [--demand 10] [--iterations 50]

``--volunteers 10 --demand 10`` is the 100-scenario grid (100% down to 10% of volunteers;
demand x0.6 to x1.5); smaller grids for a quick run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from kst_match.cores import usable_cores
from kst_match.geo.travel import RoadEstimate
from kst_match.inputs import check_day
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.scenarios import DemandChange, Scenario, VolunteersChange, sweep
from kst_match.solve.stop import MaxIterations

RESULTS = Path(__file__).parent / "results" / "scenarios.json"


def grid(volunteer_steps: int, demand_steps: int) -> list[Scenario]:
    """Volunteers from 100% down in steps of 10 points; demand from x0.6 up in steps of 0.1."""
    out = []
    for i in range(volunteer_steps):
        level = round(1 - 0.1 * i, 2)
        for j in range(demand_steps):
            demand = round(0.6 + 0.1 * j, 2)
            out.append(
                Scenario(
                    name=f"volunteers {level:.0%}, demand x{demand:g}",
                    changes=(VolunteersChange(scale=level), DemandChange(scale=demand)),
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=10, help="volunteer levels (max 10)")
    parser.add_argument("--demand", type=int, default=10, help="demand levels")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    day = check_day(DEFAULT_DAY_DIR).day
    scenarios = grid(min(args.volunteers, 10), args.demand)
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    outcomes = sweep(
        day, [(s, 0) for s in scenarios], RoadEstimate(), MaxIterations(args.iterations)
    )
    wall = time.perf_counter() - began
    per = [o.plan_s for o in outcomes]
    result = {
        "scenarios": len(scenarios),
        "iterations": args.iterations,
        "workers": usable_cores(),
        "wall_s": round(wall, 1),
        "wall_per_scenario_s": round(wall / len(scenarios), 2),
        "plan_s": {
            "min": round(min(per), 2),
            "median": round(statistics.median(per), 2),
            "max": round(max(per), 2),
        },
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "runs": [
            {
                "scenario": o.scenario,
                "needs": o.needs,
                "volunteers": o.volunteers_available,
                "served": o.served,
                "urgent_needs": o.served_by_priority["urgent"]["needs"],
                "urgent_served": o.served_by_priority["urgent"]["served"],
                "plan_s": o.plan_s,
            }
            for o in outcomes
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
