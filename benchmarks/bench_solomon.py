"""The Solomon VRPTW benchmark: kst-match, VROOM (pyvroom) and PyVRP side by side, same run.

Each instance is solved by each solver in turn (never two at once), with the same time limit,
``--runs`` times; every solution is checked at full precision (``solomon_day.check_routes``:
double-precision Euclidean distances, windows, capacity, the depot's hours, every customer
served once) and its distance recomputed from its routes. The gap is to ``distance_only`` in
``solomon/bks.csv`` (the best known total distance when distance alone is minimised, 25
vehicles available); negative where an old record is beaten.

- kst-match: the day of ``solomon_day.solomon_day`` planned by ``make_plan`` (the pipeline the
  CLI uses) with ``MaxRuntime(limit)``, one worker process per ``--threads``, collection
  handling set to zero through ``make_plan``'s ``handling_s`` and ``per_item_s`` (Solomon has no
  loading time), goods allowed on board all day, travel by ``SolomonTravel``; the plan is also
  checked by kst-match's own validator (``check_plan``).
- VROOM: exploration level 5, ``--threads`` threads, the time limit as its timeout (it often
  stops sooner by itself); travel in hundredths of a unit, rounded up.
- PyVRP: ``MaxRuntime(limit)``, seed = the run's number; distances and durations in hundredths
  of a unit, rounded up (so every route holds at full precision).

    python benchmarks/bench_solomon.py [--instances R101 RC105 ...] [--runs 3] [--time-limit 10]
        [--solvers kst vroom pyvrp] [--threads 1] [--side-by-side 1]
        [--out benchmarks/results/solomon.json]

All 56 instances at 3 runs and 10 s take about 85 minutes; ``--side-by-side 2`` solves two
instances at once, each in its own process with its solvers in turn (one core each on a 2-core
machine: about 43 minutes); ``--instances`` (names or families: ``R1``, ``RC1`` ...) runs a
subset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from solomon_day import (
    Instance,
    SolomonTravel,
    all_instances,
    check_routes,
    customer_of,
    read_bks,
    read_instance,
    solomon_day,
)

from kst_match.check import check_plan
from kst_match.model import StopKind
from kst_match.plan import make_plan
from kst_match.solve.stop import MaxRuntime

SCALE = 100  # VROOM's and PyVRP's integer travel: hundredths of a unit, rounded up
FAMILIES = ("C1", "C2", "R1", "R2", "RC1", "RC2")
Solver = Callable[[Instance, float, int, int], list[list[int]]]


def solve_kst(inst: Instance, limit: float, run: int, threads: int) -> list[list[int]]:
    day = solomon_day(inst)
    travel = SolomonTravel(inst.unit_s)
    plan = make_plan(
        day,
        travel,
        MaxRuntime(limit),
        onboard_limit_min=24 * 60,
        workers=threads,
        handling_s=0,
        per_item_s=0,
    )
    violations = check_plan(day, plan, travel)
    if violations:
        raise AssertionError(f"{inst.name}: kst-match's plan breaks its rules: {violations[:3]}")
    return [
        [customer_of(s.need) for s in r.stops if s.kind is StopKind.deliver and s.need]
        for r in plan.routes
    ]


def _scaled(inst: Instance) -> np.ndarray:
    xy = inst.coords()
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    return np.ceil(d * SCALE - 1e-9).astype(np.int64)


def solve_vroom(inst: Instance, limit: float, run: int, threads: int) -> list[list[int]]:
    import vroom

    problem = vroom.Input()
    problem.set_durations_matrix("car", _scaled(inst))
    depot = inst.depot
    for k in range(inst.vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                id=k + 1,
                start=0,
                end=0,
                capacity=vroom.Amount([inst.capacity]),
                time_window=vroom.TimeWindow(depot.ready * SCALE, depot.due * SCALE),
            )
        )
    for c in inst.customers:
        problem.add_job(
            vroom.Job(
                id=c.id,
                location=c.id,
                delivery=vroom.Amount([c.demand]),
                default_service=c.service * SCALE,
                time_windows=[vroom.TimeWindow(c.ready * SCALE, c.due * SCALE)],
            )
        )
    solution = problem.solve(
        exploration_level=5, nb_threads=threads, timeout=timedelta(seconds=limit)
    )
    routes = solution.routes
    out: list[list[int]] = []
    for _vid, steps in routes.groupby("vehicle_id", sort=True):
        out.append([int(j) for j, t in zip(steps["id"], steps["type"], strict=True) if t == "job"])
    return out


def solve_pyvrp(inst: Instance, limit: float, run: int, threads: int) -> list[list[int]]:
    import pyvrp
    import pyvrp.stop

    m = pyvrp.Model()
    depot = inst.depot
    locs = [m.add_location(x=c.x, y=c.y) for c in (depot, *inst.customers)]
    d = m.add_depot(locs[0], tw_early=depot.ready * SCALE, tw_late=depot.due * SCALE)
    m.add_vehicle_type(
        num_available=inst.vehicles,
        capacity=inst.capacity,
        start_depot=d,
        end_depot=d,
        tw_early=depot.ready * SCALE,
        tw_late=depot.due * SCALE,
    )
    for c in inst.customers:
        m.add_client(
            locs[c.id],
            delivery=c.demand,
            service_duration=c.service * SCALE,
            tw_early=c.ready * SCALE,
            tw_late=c.due * SCALE,
        )
    scaled = _scaled(inst)
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            if i != j:
                m.add_edge(a, b, distance=int(scaled[i, j]), duration=int(scaled[i, j]))
    result = m.solve(stop=pyvrp.stop.MaxRuntime(limit), seed=run, display=False)
    if not result.is_feasible():
        return []
    # Activities number the clients from 0, in the order added: customer id - 1.
    return [[a.idx + 1 for a in route if a.is_client()] for route in result.best.routes()]


SOLVERS: dict[str, Solver] = {"kst": solve_kst, "vroom": solve_vroom, "pyvrp": solve_pyvrp}


def pick(names: list[str] | None) -> list[str]:
    """Instance names, with family names (``R1``, ``C2`` ...) expanded."""
    everything = all_instances()
    if not names:
        return everything
    out: list[str] = []
    for n in names:
        n = n.upper()
        out += [n] if n in everything else [i for i in everything if i[:-2] == n]
    return out


def run_one(name: str, solver: str, limit: float, run: int, threads: int, bks: dict) -> dict:
    inst = read_instance(name)
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    routes = SOLVERS[solver](inst, limit, run, threads)
    wall = time.perf_counter() - began
    distance, errors = check_routes(inst, routes)
    best = bks[name]["distance_only"]
    return {
        "instance": name,
        "family": inst.family,
        "solver": solver,
        "run": run,
        "distance": round(distance, 4),
        "vehicles": sum(1 for r in routes if r),
        "gap_pct": round(100 * (distance - best) / best, 3),
        "feasible": not errors,
        "errors": errors[:5],
        "wall_s": round(wall, 2),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def summarise(rows: list[dict], solvers: list[str], names: list[str]) -> dict:
    """Per solver and family (and overall): the mean gap and vehicles of each run, then the
    min / median / max of those means over the runs; infeasible solutions counted apart."""
    out: dict[str, dict] = {}
    runs = sorted({r["run"] for r in rows})
    families = [f for f in FAMILIES if any(n[:-2] == f for n in names)] + ["all"]
    for s in solvers:
        out[s] = {}
        for fam in families:
            per_run_gap, per_run_veh = [], []
            for run in runs:
                cell = [
                    r
                    for r in rows
                    if r["solver"] == s and r["run"] == run and (fam == "all" or r["family"] == fam)
                ]
                ok = [r for r in cell if r["feasible"]]
                if ok and len(ok) == len(cell):
                    per_run_gap.append(statistics.fmean(r["gap_pct"] for r in ok))
                    per_run_veh.append(statistics.fmean(r["vehicles"] for r in ok))
            infeasible = sum(
                1
                for r in rows
                if r["solver"] == s and not r["feasible"] and (fam == "all" or r["family"] == fam)
            )
            out[s][fam] = {
                "gap_pct": _mmm(per_run_gap),
                "vehicles": _mmm(per_run_veh),
                "infeasible": infeasible,
            }
    return out


def _mmm(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "min": round(min(values), 2),
        "median": round(statistics.median(values), 2),
        "max": round(max(values), 2),
    }


def _fmt(cell: dict | None) -> str:
    if cell is None:
        return "-"
    if cell["min"] == cell["max"]:
        return f"{cell['median']:.2f}"
    return f"{cell['median']:.2f} ({cell['min']:.2f}-{cell['max']:.2f})"


def print_tables(rows: list[dict], summary: dict, solvers: list[str], names: list[str]) -> None:
    print("\nper instance, median gap % over runs (vehicles):")
    print("| instance | " + " | ".join(solvers) + " |")
    print("|---|" + "---:|" * len(solvers))
    for n in names:
        cells = []
        for s in solvers:
            mine = [r for r in rows if r["instance"] == n and r["solver"] == s]
            if not mine:
                cells.append("-")
                continue
            bad = sum(1 for r in mine if not r["feasible"])
            gap = statistics.median(r["gap_pct"] for r in mine)
            veh = statistics.median(r["vehicles"] for r in mine)
            cells.append(f"{gap:.2f} ({veh:g})" + (f" {bad} infeasible" if bad else ""))
        print(f"| {n} | " + " | ".join(cells) + " |")
    print("\nmean gap % to distance_only (median of the runs' means, min-max), vehicles:")
    print("| family | " + " | ".join(f"{s} gap % | {s} vehicles" for s in solvers) + " |")
    print("|---|" + "---:|---:|" * len(solvers))
    for fam in next(iter(summary.values())):
        cells = []
        for s in solvers:
            c = summary[s][fam]
            cells += [_fmt(c["gap_pct"]), _fmt(c["vehicles"])]
        print(f"| {fam} | " + " | ".join(cells) + " |")


def _instance(task: tuple) -> list[dict]:  # type: ignore[type-arg]
    """One instance of one run, each solver in turn (in a worker process)."""
    name, solvers, limit, run, threads, bks = task
    return [run_one(name, s, limit, run, threads, bks) for s in solvers]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", nargs="*", help="names or families (default: all 56)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per solve")
    ap.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=list(SOLVERS))
    ap.add_argument("--threads", type=int, default=1, help="threads / processes per solver")
    ap.add_argument(
        "--side-by-side",
        type=int,
        default=1,
        help="instances solved at once, each in its own process (its solvers still in turn)",
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "solomon.json")
    args = ap.parse_args()
    names = pick(args.instances)
    bks = read_bks()
    rows: list[dict] = []
    started = dt.datetime.now(dt.UTC)
    load_start = os.getloadavg()
    tasks = [
        (n, args.solvers, args.time_limit, run, args.threads, bks)
        for run in range(args.runs)
        for n in names
    ]
    with ProcessPoolExecutor(max_workers=args.side_by_side) as pool:
        for done in pool.map(_instance, tasks):
            for row in done:
                rows.append(row)
                flag = "" if row["feasible"] else f"  INFEASIBLE {row['errors'][:2]}"
                print(
                    f"run {row['run']} {row['instance']:6} {row['solver']:6} gap"
                    f" {row['gap_pct']:7.2f}%  vehicles {row['vehicles']:2}  {row['wall_s']:6.1f} s"
                    f"  load {row['load_before']:.1f}{flag}",
                    flush=True,
                )
    summary = summarise(rows, args.solvers, names)
    print_tables(rows, summary, args.solvers, names)
    loads = [r["load_before"] for r in rows] + [r["load_after"] for r in rows]
    result = {
        "command": "python benchmarks/bench_solomon.py " + " ".join(sys.argv[1:]),
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in load_start],
            "load_1min_min": round(min(loads), 2),
            "load_1min_max": round(max(loads), 2),
        },
        "instances": names,
        "subset": len(names) < 56,
        "runs": args.runs,
        "time_limit_s": args.time_limit,
        "threads": args.threads,
        "side_by_side": args.side_by_side,
        "summary": summary,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nload average (1 min) during the run: {min(loads):.1f} to {max(loads):.1f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
