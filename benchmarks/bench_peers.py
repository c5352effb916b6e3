"""kst-match's routing against VROOM (through pyvroom) on the bundled default day, same run.

Only the routed part of the day is compared: deliveries (collect at the site, then deliver) and
visits; calls need no travel and are left out. VROOM gets the constraints kst-match routes
under and the same travel matrices:

- one vehicle per volunteer, from home back home, shift as its time window (seconds after
  midnight), carrying capacity, travel limit (``max_travel_time``, seconds);
- a need may go only to the volunteers triage allows and who could serve it alone (the pruning
  of ``kst_match.solve.day.solve_day``, without its cut to the 40 nearest volunteers, which is a
  search aid of kst-match's and not a rule): each need gets a skill id of its own and each
  vehicle the ids of the needs it may serve;
- a delivery is a shipment: pickup at the site, delivery at the resident, its service starting
  in the need's window early enough to end by its end (kst-match's rule); a visit is a shipment
  too (see below); priorities urgent 100, high 30, normal 10 (kst-match's 10:3:1);
- collecting: VROOM's setup time is taken on arriving from another place, so a pickup's setup is
  kst-match's handling of a visit to a site (180 s) and its service the time per parcel (30 s):
  the same time per visit as kst-match's; the pickup starts while the site is open and its
  visit can end before it closes;
- VROOM has no bound on goods' time on board (kst-match's 2 hours) and no partners' places
  (each partner's volunteers may serve only as many needs of a kind as it has places): its
  routes are checked for both, a delivery that breaks the first is counted as a violation, and
  the needs the partner count leaves without a place are reported; the figure "within rules"
  is VROOM's routes less both kinds of need;
- continuity: VROOM is run twice, free, and keeping continuity (a need whose previous
  volunteer could serve it goes to them alone), which is the rule kst-match's plan keeps;
- travel: one durations matrix per profile (walk, cycle, car), ``Places.matrix(mode).seconds``
  rounded up to whole seconds, as kst-match's solver uses them.

kst-match counts a delivery as one task against ``max_tasks``, VROOM counts its pickup and its
delivery as two. So that the rule stays exact, a visit too is a shipment, picked up at the
resident's with no service and delivered there (no travel between the two): every need is two
VROOM tasks and VROOM gets ``2 * max_tasks``. (With visits as plain jobs that bound is loose:
VROOM then gives some volunteers more visits than their limit.) Every route is still checked
against kst-match's own rule.

Travel totals are summed from each route's stops with the unrounded matrix (as kst-match's
plan does), never taken from a solver's objective. Every VROOM route is checked: windows,
shift, capacity, tasks, travel limit, allowed volunteers, pickup before delivery.

Two settings, each in every run (``--settings``):

- ``day``: the day as it is, kst-match under all its rules; VROOM breaks the two it lacks;
- ``vroom``: the same constraints for both, those VROOM can keep: the day without partners'
  places (``Partner.capacity`` emptied) and with no bound on goods' time on board (kst-match's
  documented ``onboard_limit_min``, set to 24 hours). Whom each need may go to, and whose
  previous volunteer could serve it alone (continuity), are worked out under these rules too.

kst-match keeps its other objectives (continuity, a resident's needs together, balance); VROOM
minimises travel alone. Both get the same time limit (VROOM's ``timeout``; it may stop sooner)
and the same threads, one after the other, at each limit; the load average is recorded.

    python benchmarks/bench_peers.py [--time-limits 5 30] [--runs 3] [--exploration 5] [--threads 2]
        [--settings day vroom]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import vroom
from rich.console import Console
from rich.table import Table

from kst_match.geo.travel import RoadEstimate
from kst_match.inputs import read_day
from kst_match.model import Day, Need, Priority, StopKind, Transport
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.plan import ONBOARD_LIMIT_MIN, make_plan
from kst_match.solve.alone import alone
from kst_match.solve.partners import assign_partners
from kst_match.solve.places import Places
from kst_match.solve.schedule import DEFAULT_RULES, TimeRules
from kst_match.solve.stop import MaxRuntime
from kst_match.solve.vehicles import Vehicle, fresh_vehicles
from kst_match.triage import triage

VROOM_PRIORITY = {Priority.urgent: 100, Priority.high: 30, Priority.normal: 10}


@dataclass(frozen=True)
class Setting:
    """The rules both solvers plan under: goods' longest time on board (minutes), and whether
    partners' places count."""

    name: str
    title: str
    onboard_limit_min: int
    partner_places: bool

    @property
    def rules(self) -> TimeRules:
        return TimeRules(
            self.onboard_limit_min * 60, DEFAULT_RULES.handling_s, DEFAULT_RULES.per_item_s
        )

    def day(self, day: Day) -> Day:
        if self.partner_places:
            return day
        free = tuple(p.model_copy(update={"capacity": {}}) for p in day.partners)
        return day.model_copy(update={"partners": free})


SETTINGS = {
    "day": Setting("day", "the day's rules", ONBOARD_LIMIT_MIN, True),
    "vroom": Setting(
        "vroom", "VROOM's rules (no partners' places, no bound on time on board)", 24 * 60, False
    ),
}


@dataclass(frozen=True)
class Routed:
    """A routed need and the vehicles (indices) allowed to serve it."""

    need: Need
    vehicles: tuple[int, ...]


def routed_needs(
    day: Day,
    vehicles: list[Vehicle],
    places: Places,
    continuity: bool = False,
    rules: TimeRules = DEFAULT_RULES,
) -> list[Routed]:
    """Deliveries and visits some volunteer could serve alone, as ``solve_day`` prunes them;
    with ``continuity``, a need whose previous volunteer could serve it goes to them alone."""
    tri = triage(day)
    index = {v.id: i for i, v in enumerate(vehicles)}
    out = []
    for need in day.needs:
        if need.kind.is_call or need.id in tri.rejected:
            continue
        site = day.site(need.site) if need.site else None
        if site is not None and (site.opens >= need.window_end or site.closes <= site.opens):
            continue
        able = tuple(
            index[v]
            for v in tri.volunteers[need.id]
            if v in index and alone(need, vehicles[index[v]], places, site, rules) is None
        )
        previous = index.get(need.previous_volunteer or "")
        if continuity and previous in able:
            able = (previous,)
        if able:
            out.append(Routed(need, able))
    return out


def build_vroom(
    day: Day,
    vehicles: list[Vehicle],
    places: Places,
    jobs: list[Routed],
    rules: TimeRules = DEFAULT_RULES,
) -> vroom.Input:
    """The VROOM problem: ids of jobs and shipment steps are indices into ``jobs``."""
    problem = vroom.Input()
    for mode in Transport:
        secs = np.ceil(places.matrix(mode).seconds).astype(np.uint32)
        problem.set_durations_matrix(profile=mode.value, matrix_input=secs)
    skills: list[set[int]] = [set() for _ in vehicles]
    for k, job in enumerate(jobs):
        for i in job.vehicles:
            skills[i].add(k)
    for i, v in enumerate(vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                id=i,
                start=places[v.start],
                end=places[v.end],
                profile=v.transport.value,
                capacity=vroom.Amount([v.volunteer.capacity]),
                skills=skills[i],
                time_window=vroom.TimeWindow(v.start_s, v.end_s),
                max_tasks=2 * v.tasks_left,
                max_travel_time=v.travel_left_s,
            )
        )
    for k, job in enumerate(jobs):
        need = job.need
        here = places[(need.lon, need.lat)]
        window = [vroom.TimeWindow(need.window_start * 60, (need.window_end - need.duration) * 60)]
        priority = VROOM_PRIORITY[need.priority]
        if need.kind.is_delivery:
            site = day.site(need.site)  # type: ignore[arg-type]
            last = min(site.closes * 60 - rules.visit_s(1), need.window_end * 60)
            pickup = vroom.ShipmentStep(
                id=k,
                location=places[(site.lon, site.lat)],
                default_setup=int(rules.handling_s),
                default_service=int(rules.per_item_s),
                time_windows=[vroom.TimeWindow(site.opens * 60, int(last))],
            )
            amount = need.load
        else:
            # A visit as a shipment picked up where it is delivered, with no service: it then
            # counts two VROOM tasks like a delivery, so ``2 * max_tasks`` is exact.
            pickup = vroom.ShipmentStep(id=k, location=here, time_windows=window)
            amount = 0
        problem.add_shipment(
            pickup,
            vroom.ShipmentStep(
                id=k, location=here, default_service=need.duration * 60, time_windows=window
            ),
            amount=vroom.Amount([amount]),
            skills={k},
            priority=priority,
        )
    return problem


def check_vroom(
    day: Day,
    vehicles: list[Vehicle],
    places: Places,
    jobs: list[Routed],
    routes: dict[int, list[dict]],
    rules: TimeRules = DEFAULT_RULES,
) -> tuple[list[str], float]:
    """Violations of kst-match's rules in VROOM's routes, and their travel in seconds
    (unrounded matrix). Service start = VROOM's arrival + waiting time."""
    problems: list[str] = []
    travel_total = 0.0
    for i, steps in routes.items():
        v = vehicles[i]
        mode = v.transport
        secs = places.matrix(mode).seconds
        who = v.id
        load = 0
        tasks = 0
        travelled_int = 0
        collected: dict[int, float] = {}
        prev = None
        departure = None
        for s in steps:
            loc = int(s["location_index"])
            if prev is not None:
                travel_total += float(secs[prev, loc])
                travelled_int += math.ceil(float(secs[prev, loc]))
                if s["arrival"] + 1e-6 < departure + math.ceil(float(secs[prev, loc])):
                    problems.append(f"{who}: arrives at {s['type']} before it could get there")
            start = s["arrival"] + s["waiting_time"]
            kind = s["type"]
            if kind == "start":
                if s["arrival"] < v.start_s or s["location_index"] != places[v.start]:
                    problems.append(f"{who}: starts before the shift or away from home")
            elif kind == "end":
                if s["arrival"] > v.end_s or s["location_index"] != places[v.end]:
                    problems.append(f"{who}: ends after the shift or away from home")
            else:
                job = jobs[int(s["id"])]
                need = job.need
                if i not in job.vehicles:
                    problems.append(f"{who}: serves {need.id} without being allowed to")
                if kind == "pickup" and need.kind.is_visit:
                    lo, hi = need.window_start * 60, (need.window_end - need.duration) * 60
                    expect = places[(need.lon, need.lat)]
                    collected[int(s["id"])] = start
                elif kind == "pickup":
                    site = day.site(need.site)  # type: ignore[arg-type]
                    lo, hi = site.opens * 60, site.closes * 60 - rules.visit_s(1)
                    expect = places[(site.lon, site.lat)]
                    load += need.load
                    collected[int(s["id"])] = start
                else:
                    lo, hi = need.window_start * 60, (need.window_end - need.duration) * 60
                    expect = places[(need.lon, need.lat)]
                    tasks += 1
                    if kind == "delivery":
                        load -= need.load
                        if int(s["id"]) not in collected:
                            problems.append(f"{who}: delivers {need.id} before collecting it")
                        elif (
                            need.kind.is_delivery
                            and start - collected[int(s["id"])] > rules.onboard_limit_s
                        ):
                            problems.append(
                                f"{who}: {need.id}'s goods on board"
                                f" {(start - collected[int(s['id'])]) / 60:.0f} min"
                            )
                if not lo <= start <= hi:
                    problems.append(
                        f"{who}: {kind} {need.id} starts at {start} s, window [{lo}, {hi}] s"
                    )
                if loc != expect:
                    problems.append(f"{who}: {kind} {need.id} at the wrong place")
                if load > v.volunteer.capacity:
                    problems.append(f"{who}: carries {load} > capacity {v.volunteer.capacity}")
            departure = start + s["setup"] + s["service"]
            prev = loc
        if tasks > v.tasks_left:
            problems.append(f"{who}: {tasks} tasks > max_tasks {v.tasks_left} (kst-match's rule)")
        if travelled_int > v.travel_left_s:
            problems.append(f"{who}: travels {travelled_int} s > limit {v.travel_left_s} s")
    return problems, travel_total


def run_vroom(
    day: Day,
    places: Places,
    exploration: int,
    threads: int,
    limit: float,
    continuity: bool,
    rules: TimeRules = DEFAULT_RULES,
) -> dict[str, object]:
    """Build, solve and check the VROOM problem; times in seconds."""
    vehicles = fresh_vehicles(day)
    t0 = time.perf_counter()
    jobs = routed_needs(day, vehicles, places, continuity, rules)
    problem = build_vroom(day, vehicles, places, jobs, rules)
    built = time.perf_counter() - t0
    t = time.perf_counter()
    solution = problem.solve(
        exploration_level=exploration, nb_threads=threads, timeout=timedelta(seconds=limit)
    )
    solve_s = time.perf_counter() - t
    frame = solution.routes
    routes: dict[int, list[dict]] = {
        int(vid): group.to_dict("records") for vid, group in frame.groupby("vehicle_id", sort=False)
    }
    violations, travel_s = check_vroom(day, vehicles, places, jobs, routes, rules)
    served = [
        jobs[int(r["id"])].need
        for steps in routes.values()
        for r in steps
        if r["type"] == "delivery"
    ]
    # VROOM knows no bound on goods' time on board: its routes less the needs whose goods ride
    # too long, travel summed over the stops left (an estimate of a plan that keeps the rules).
    late = {v.split(": ")[1].split("'s goods")[0] for v in violations if "goods on board" in v}
    # Nor does it know partners' places: the needs the count over the plan leaves without one
    # (kst-match's own count, ``assign_partners``) are left out as well.
    served_by = {
        jobs[int(r["id"])].need.id: vehicles[i].id
        for i, steps in routes.items()
        for r in steps
        if r["type"] == "delivery"
    }
    _, homeless = assign_partners(day, triage(day), served_by)
    late |= set(homeless)
    kept_travel = 0.0
    for i, steps in routes.items():
        secs = places.matrix(vehicles[i].transport).seconds
        left = [
            int(s["location_index"])
            for s in steps
            if s["type"] in ("start", "end") or jobs[int(s["id"])].need.id not in late
        ]
        kept_travel += sum(float(secs[a, b]) for a, b in itertools.pairwise(left))
    kept_served = len(served) - len(late)
    kept = sum(
        1
        for i, steps in routes.items()
        for r in steps
        if r["type"] == "delivery" and jobs[int(r["id"])].need.previous_volunteer == vehicles[i].id
    )
    return {
        "continuity_kept": kept,
        "servable": len(jobs),
        "served": len(served),
        "served_by_priority": _by(served, "priority"),
        "travel_total_min": round(travel_s / 60, 1),
        "travel_per_served_min": round(travel_s / 60 / max(1, len(served)), 2),
        "vehicles_used": len(routes),
        "build_s": round(built, 3),
        "solve_s": round(solve_s, 3),
        "violations": violations,
        "without_partner_place": len(homeless),
        "within_rules": {
            "served": kept_served,
            "travel_total_min": round(kept_travel / 60, 1),
            "travel_per_served_min": round(kept_travel / 60 / max(1, kept_served), 2),
        },
        "settings": {"exploration_level": exploration, "threads": threads, "timeout": limit},
    }


def run_kst(
    day: Day, time_limit: float, threads: int, onboard_limit_min: int = ONBOARD_LIMIT_MIN
) -> dict[str, object]:
    """kst-match's whole plan; deliveries and visits counted, calls left out."""
    t = time.perf_counter()
    plan = make_plan(
        day,
        RoadEstimate(),
        MaxRuntime(time_limit),
        workers=threads,
        onboard_limit_min=onboard_limit_min,
    )
    elapsed = time.perf_counter() - t
    kinds = {n.id: n for n in day.needs}
    served = [
        kinds[a.need]
        for a in plan.assignments
        if kinds[a.need].kind.is_delivery or kinds[a.need].kind.is_visit
    ]
    # Calls add no travel, so the routes' travel is the routed part's.
    travel_s = sum(s.travel_s for r in plan.routes for s in r.stops if s.kind != StopKind.call)
    return {
        "served": len(served),
        "served_by_priority": _by(served, "priority"),
        "travel_total_min": round(travel_s / 60, 1),
        "travel_per_served_min": round(travel_s / 60 / max(1, len(served)), 2),
        "vehicles_used": sum(
            1
            for r in plan.routes
            if any(s.kind in (StopKind.deliver, StopKind.visit) for s in r.stops)
        ),
        "continuity_kept": plan.kpis["continuity"]["kept"],  # type: ignore[index]
        "routing_s": plan.timings.get("routing_time_s"),
        "plan_s": round(elapsed, 3),
        "time_limit_s": time_limit,
    }


def _by(needs: list[Need], field: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in needs:
        key = getattr(n, field).value
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DAY_DIR)
    parser.add_argument("--time-limits", type=float, nargs="*", default=[5.0, 30.0])
    parser.add_argument("--exploration", type=int, default=5, help="VROOM exploration level")
    parser.add_argument("--threads", type=int, default=2, help="threads / processes, each")
    parser.add_argument("--runs", type=int, default=3, help="repeats of each time limit")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--settings", nargs="*", choices=sorted(SETTINGS), default=["day", "vroom"])
    args = parser.parse_args()
    console = Console()

    whole_day, _ = read_day(args.data)
    day = whole_day
    places = Places.of_day(day, RoadEstimate())
    for mode in Transport:
        places.matrix(mode)  # computed once, outside both timings
    runs = []
    for limit, run, name in itertools.product(
        args.time_limits, range(1, args.runs + 1), args.settings
    ):
        setting = SETTINGS[name]
        day = setting.day(whole_day)
        load_before = os.getloadavg()[0]
        console.print(f"{setting.title}: VROOM ({limit:g} s) ...")
        solve = (day, places, args.exploration, args.threads, limit)
        peer = run_vroom(*solve, continuity=False, rules=setting.rules)
        console.print(f"{setting.title}: VROOM keeping continuity ({limit:g} s) ...")
        same = run_vroom(*solve, continuity=True, rules=setting.rules)
        console.print(f"{setting.title}: kst-match ({limit:g} s) ...")
        ours = run_kst(day, limit, args.threads, setting.onboard_limit_min)
        runs.append(
            {
                "setting": name,
                "time_limit_s": limit,
                "run": run,
                "load_before": round(load_before, 2),
                "load_after": round(os.getloadavg()[0], 2),
                "kst_match": ours,
                "vroom": peer,
                "vroom_continuity": same,
                "ratios_kst_over_vroom": _ratios(ours, peer),
                "ratios_kst_over_vroom_continuity": _ratios(ours, same),
            }
        )
        _print(console, limit, ours, peer, _ratios(ours, peer), "VROOM", setting)
        _print(console, limit, ours, same, _ratios(ours, same), "VROOM keeping continuity", setting)
    result = {
        "command": "python benchmarks/bench_peers.py " + " ".join(sys.argv[1:]),
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or "?",
            "cpus": os.cpu_count(),
        },
        "day": {"needs": len(whole_day.needs), "volunteers": len(whole_day.volunteers)},
        "settings": {
            name: {
                "title": SETTINGS[name].title,
                "onboard_limit_min": SETTINGS[name].onboard_limit_min,
                "partner_places": SETTINGS[name].partner_places,
            }
            for name in args.settings
        },
        "summary": _summary(runs),
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.json").write_text(json.dumps(result, indent=2))
    console.print(f"written {args.out / 'peers.json'}")


def _summary(runs: list[dict]) -> list[dict]:
    """Per setting and time limit: min / median / max over the runs of the ratios and of the
    figures they come from."""
    figures = {
        "kst_travel_per_served_min": ("kst_match", "travel_per_served_min"),
        "kst_served": ("kst_match", "served"),
        "kst_continuity_kept": ("kst_match", "continuity_kept"),
        "vroom_travel_per_served_min": ("vroom", "travel_per_served_min"),
        "vroom_continuity_travel_per_served_min": ("vroom_continuity", "travel_per_served_min"),
        "ratio_vs_vroom": ("ratios_kst_over_vroom", "travel_per_served"),
        "ratio_vs_vroom_within_rules": (
            "ratios_kst_over_vroom",
            "travel_per_served_vs_vroom_within_rules",
        ),
        "ratio_vs_vroom_continuity": ("ratios_kst_over_vroom_continuity", "travel_per_served"),
        "ratio_vs_vroom_continuity_within_rules": (
            "ratios_kst_over_vroom_continuity",
            "travel_per_served_vs_vroom_within_rules",
        ),
    }
    out = []
    groups = sorted({(r["setting"], r["time_limit_s"]) for r in runs})
    for name, limit in groups:
        mine = [r for r in runs if (r["setting"], r["time_limit_s"]) == (name, limit)]
        row: dict = {"setting": name, "time_limit_s": limit, "runs": len(mine)}
        for name, (part, key) in figures.items():
            values = sorted(r[part][key] for r in mine)
            row[name] = {
                "min": values[0],
                "median": statistics.median(values),
                "max": values[-1],
            }
        row["load"] = [min(r["load_before"] for r in mine), max(r["load_after"] for r in mine)]
        out.append(row)
    return out


def _ratios(ours: dict, peer: dict) -> dict[str, float | None]:
    return {
        "served": _ratio(ours["served"], peer["served"]),
        "travel_per_served": _ratio(ours["travel_per_served_min"], peer["travel_per_served_min"]),
        "travel_per_served_vs_vroom_within_rules": _ratio(
            ours["travel_per_served_min"],
            peer["within_rules"]["travel_per_served_min"],
        ),
    }


def _print(
    console: Console,
    limit: float,
    ours: dict,
    peer: dict,
    ratios: dict,
    name: str,
    setting: Setting,
) -> None:
    table = Table(
        title=f"Default day under {setting.title}, deliveries and visits, {limit:g} s:"
        f" kst-match vs {name}"
    )
    table.add_column("")
    table.add_column("kst-match", justify="right")
    table.add_column("VROOM", justify="right")
    table.add_column("kst / VROOM", justify="right")
    table.add_row("servable (someone could alone)", "", str(peer["servable"]), "")
    table.add_row("served", str(ours["served"]), str(peer["served"]), str(ratios["served"]))
    table.add_row(
        "served by priority", str(ours["served_by_priority"]), str(peer["served_by_priority"]), ""
    )
    table.add_row(
        "travel total, min", str(ours["travel_total_min"]), str(peer["travel_total_min"]), ""
    )
    table.add_row(
        "travel per served need, min",
        str(ours["travel_per_served_min"]),
        str(peer["travel_per_served_min"]),
        str(ratios["travel_per_served"]),
    )
    fair = peer["within_rules"]
    table.add_row(
        "VROOM less needs breaking rules it lacks: served, per need",
        "",
        f"{fair['served']}, {fair['travel_per_served_min']}",
        str(ratios["travel_per_served_vs_vroom_within_rules"]),
    )
    table.add_row("continuity kept", str(ours["continuity_kept"]), str(peer["continuity_kept"]), "")
    table.add_row("volunteers used", str(ours["vehicles_used"]), str(peer["vehicles_used"]), "")
    table.add_row("whole plan / solve, s", str(ours["plan_s"]), str(peer["solve_s"]), "")
    table.add_row("VROOM rule violations", "", str(len(peer["violations"])), "")
    table.add_row("VROOM needs without a partner place", "", str(peer["without_partner_place"]), "")
    console.print(table)
    for v in peer["violations"][:20]:
        console.print(f"[red]VROOM violation[/red] {v}")


if __name__ == "__main__":
    main()
