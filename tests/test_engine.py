"""The plan engine's rules, each on a small day built so that breaking the rule changes the
answer: stopping rules, partner capacity over the plan, the final insertion pass, windows that
bound the end of a service, one handling per site visit, goods' time on board, travel limits,
site hours, priorities, travel rounded up, and the re-plan's wish to keep routes."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

import numpy as np
import pytest

from kst_match.check import check_plan
from kst_match.model import Day, Need, Partner, Plan, Reason, StopKind, Transport
from kst_match.plan import make_plan
from kst_match.replan import Events, replan
from kst_match.solve import weights
from kst_match.solve.day import solve_day
from kst_match.solve.decompose import FRESH_FROM_S, _within_places
from kst_match.solve.finish import finish
from kst_match.solve.partners import assign_partners
from kst_match.solve.places import Places
from kst_match.solve.schedule import DEFAULT_RULES
from kst_match.solve.stop import (
    AnyOf,
    FirstFeasible,
    MaxIterations,
    MaxRuntime,
    NoImprovement,
    Progress,
    fired_rule,
)
from kst_match.solve.vehicles import fresh_vehicles
from kst_match.triage import triage
from tests.test_plan import (
    DATE,
    FOODBANK,
    HUB,
    PHARMACY,
    SMALL_DAY_RULE,
    TRAVEL,
    at,
    need,
    plan_of,
    served_by,
    two_at_once,
    volunteer,
)

DBS = {"skills": "dbs_checked"}


# --- stopping rules --------------------------------------------------------------------------
def test_stopping_rules_fire_on_their_own_measure() -> None:
    early = Progress(iterations=5, since_best=2, elapsed_s=0.5)
    late = Progress(iterations=500, since_best=300, elapsed_s=9.0)
    assert not MaxIterations(100).fired(early) and MaxIterations(100).fired(late)
    assert not NoImprovement(100).fired(early) and NoImprovement(100).fired(late)
    assert not MaxRuntime(1.0).fired(early) and MaxRuntime(1.0).fired(late)
    assert FirstFeasible().fired(early)
    rule = AnyOf((MaxRuntime(60.0), NoImprovement(100)))
    assert fired_rule(rule, late) == "100 iterations without improvement"
    assert MaxIterations(1).deterministic and not rule.deterministic
    assert rule.share(0.5).seconds == 30.0


def test_two_searches_in_turn_divide_a_count_and_end_a_time_limit_at_the_whole() -> None:
    # 60% of 20 accepted solutions is 12, leaving 8; a time limit counts from the plan's
    # start, so the first search ends at 6 of 10 s and the second at 10.
    assert MaxIterations(20).split(0.6) == (MaxIterations(12), MaxIterations(8))
    assert NoImprovement(5).split(0.6) == (NoImprovement(3), NoImprovement(2))
    assert MaxRuntime(10.0).split(0.6) == (MaxRuntime(6.0), MaxRuntime(10.0))
    assert AnyOf((MaxRuntime(10.0), MaxIterations(20))).split(0.6) == (
        AnyOf((MaxRuntime(6.0), MaxIterations(12))),
        AnyOf((MaxRuntime(10.0), MaxIterations(8))),
    )
    assert FirstFeasible().split(0.6) == (FirstFeasible(), FirstFeasible())


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_a_time_limit_must_be_a_positive_number(bad: float) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        MaxRuntime(bad)


def test_the_plan_records_which_rule_stopped_the_search() -> None:
    _, plan = plan_of([need("v", 3, 0, kind="welfare_visit")], [volunteer("a", 0, 0, **DBS)])
    solver = plan.kpis["solver"]
    assert solver["stopping_rule"] == str(SMALL_DAY_RULE)
    assert plan.timings["routing_first_solution_s"] >= 0
    assert "solve_time_s" in plan.timings and "solve_time_s" not in plan.model_dump_json()
    assert solver["routing_stopped_by"] in (str(SMALL_DAY_RULE), "no improving move found")


# --- partner capacity over the plan ------------------------------------------------------------
def test_a_busy_partners_need_goes_to_another_partner_with_room() -> None:
    # "small" has one place and the nearer volunteer (a, 100 m from n1, 141 m from n2); "big"
    # has room and a volunteer further off (b, 600 m from n1, 608 m from n2). Both needs are
    # served, small holds at most its one, and the need small cannot take goes to big. (The
    # least travel would not use small at all, b walking 1,308 m against 1,416 for one each;
    # under an iteration rule the search does not know partners' places, and the count then
    # moves one need, so either plan may come.)
    small = Partner(id="small", name="S", services="welfare_visit", capacity="welfare_visit:1")
    big = Partner(id="big", name="B", services="welfare_visit", capacity="welfare_visit:5")
    _, plan = plan_of(
        [need("n1", 2, 0, kind="welfare_visit"), need("n2", 2, 1, kind="welfare_visit")],
        [volunteer("a", 1, 0, partner="small", **DBS), volunteer("b", 8, 0, partner="big", **DBS)],
        (small, big),
    )
    assert set(served_by(plan)) == {"n1", "n2"}
    partners = [a.partner for a in plan.assignments]
    assert partners.count("small") <= 1 and "big" in partners


@pytest.mark.parametrize(
    "again",
    [MaxIterations(50), MaxRuntime(FRESH_FROM_S)],
    ids=["from the probe's routes", "from scratch"],
)
def test_under_a_time_limit_a_scarce_day_is_routed_within_partners_places(
    again: MaxIterations | MaxRuntime,
) -> None:
    # The day of the test above (100 m steps; a at (1, 0), b at (8, 0), n1 at (2, 0), n2 at
    # (2, 1)). Free of places both needs go to a, 341 m: the probe breaks small's one place.
    # Its count moves one to b (a 200 m and b 1,216 m, or 282 m and 1,200 m). Routed again
    # bound to places, a may keep one need and b take either: b alone walks 1,308 m, less than
    # 1,416 m for one each, so b serves both. Without the binding both go to a again. Routed
    # again from the probe's routes (a limit under FRESH_FROM_S) or from scratch, alike.
    small = Partner(id="small", name="S", services="welfare_visit", capacity="welfare_visit:1")
    big = Partner(id="big", name="B", services="welfare_visit", capacity="welfare_visit:5")
    day = Day(
        date=DATE,
        needs=(need("n1", 2, 0, kind="welfare_visit"), need("n2", 2, 1, kind="welfare_visit")),
        volunteers=(
            volunteer("a", 1, 0, partner="small", **DBS),
            volunteer("b", 8, 0, partner="big", **DBS),
        ),
        partners=(small, big),
        sites=(FOODBANK, PHARMACY),
    )
    vehicles = fresh_vehicles(day)
    tri = triage(day)
    places = Places.of(TRAVEL, day, day.needs, vehicles)
    probe = solve_day(day, vehicles, places, MaxIterations(50), tri=tri)
    assert sorted(probe.served_by.values()) == ["a", "a"]  # the free plan breaks the place
    probe = finish(day, vehicles, TRAVEL, probe, weigh_moves=True)
    assert sorted(probe.served_by.values()) == ["a", "b"]
    clock = time.monotonic()
    bound = _within_places(day, vehicles, places, probe, again, clock, None, tri, 1, DEFAULT_RULES)
    assert sorted(bound.served_by.values()) == ["b", "b"]
    assert assign_partners(day, tri, bound.served_by)[1] == []  # nobody left without a place
    # The whole plan under a time limit takes that path and keeps the better plan: b's.
    plan = make_plan(day, TRAVEL, MaxRuntime(2.0))
    assert check_plan(day, plan, TRAVEL) == []
    assert served_by(plan) == {"n1": "b", "n2": "b"}


def test_a_scarce_place_is_not_taken_by_an_urgent_need_nobody_can_reach() -> None:
    # One place; the urgent need's window closes before any shift starts, so it cannot be
    # served; the normal need takes the place.
    hub = Partner(id="hub", name="Hub", services="welfare_visit", capacity="welfare_visit:1")
    _, plan = plan_of(
        [
            need(
                "urgent",
                2,
                0,
                kind="welfare_visit",
                priority="urgent",
                window_start="07:00",
                window_end="08:00",
            ),
            need("normal", 2, 1, kind="welfare_visit"),
        ],
        [volunteer("a", 0, 0, **DBS)],
        (hub,),
    )
    assert served_by(plan) == {"normal": "a"}
    assert [(u.need, u.reason) for u in plan.unserved] == [("urgent", Reason.no_time)]


def test_partner_capacity_is_the_reason_only_when_every_partner_is_full() -> None:
    hub = Partner(id="hub", name="Hub", services="welfare_visit", capacity="welfare_visit:1")
    _, plan = plan_of(
        [need("n1", 2, 0, kind="welfare_visit"), need("n2", 2, 1, kind="welfare_visit")],
        [volunteer("a", 0, 0, **DBS), volunteer("b", 0, 1, **DBS)],
        (hub,),
    )
    assert len(plan.assignments) == 1
    assert [u.reason for u in plan.unserved] == [Reason.partner_capacity]


# --- the final insertion pass ------------------------------------------------------------------
def test_a_need_that_fits_into_the_final_plan_is_inserted() -> None:
    day = Day(
        date=DATE,
        needs=(need("a", 2, 0, kind="welfare_visit"), need("b", 3, 0, kind="welfare_visit")),
        volunteers=(volunteer("v", 0, 0, **DBS),),
        partners=(HUB,),
        sites=(FOODBANK, PHARMACY),
    )
    vehicles = fresh_vehicles(day)
    places = Places.of(TRAVEL, day, day.needs, vehicles)
    # "b" kept out of the search, as if the search had not reached it.
    solution = solve_day(day, vehicles, places, SMALL_DAY_RULE, exclude={"b": Reason.crowded_out})
    assert solution.served_by == {"a": "v"}
    done = finish(day, vehicles, TRAVEL, solution)
    assert done.served_by == {"a": "v", "b": "v"}
    assert done.unserved == {}
    assert done.stats["inserted_after_search"] == 1


def test_a_need_that_fits_nowhere_is_crowded_out_or_not_planned_in_time() -> None:
    day = Day(
        date=DATE,
        needs=tuple(two_at_once()),
        volunteers=(volunteer("v", 0, 0, **DBS),),
        partners=(HUB,),
        sites=(FOODBANK, PHARMACY),
    )
    vehicles = fresh_vehicles(day)
    places = Places.of(TRAVEL, day, day.needs, vehicles)
    for starved, reason in ((False, Reason.crowded_out), (True, Reason.not_planned_in_time)):
        solution = solve_day(day, vehicles, places, SMALL_DAY_RULE)
        done = finish(day, vehicles, TRAVEL, solution, starved=starved)
        assert done.served_by == {"hi": "v"}
        assert done.unserved == {"lo": reason}


# --- times: windows, site handling, goods on board ---------------------------------------------
def test_a_visit_ends_inside_its_window() -> None:
    # A 45-minute visit in a window of 10:00-10:30 cannot be made.
    _, plan = plan_of(
        [
            need(
                "x",
                2,
                0,
                kind="welfare_visit",
                window_start="10:00",
                window_end="10:30",
                duration=45,
            )
        ],
        [volunteer("a", 0, 0, **DBS)],
    )
    assert [(u.need, u.reason) for u in plan.unserved] == [("x", Reason.no_time)]


def test_several_parcels_at_one_site_take_one_handling() -> None:
    parcels = [
        need(f"p{i}", 0, 5, kind="food_parcel", site="fb", load=1, duration=2) for i in range(3)
    ]
    # By default a visit takes 30 s per parcel, one after another, then 180 s of handling.
    day, plan = plan_of(parcels, [volunteer("v", 0, 1, capacity=4)])
    (route,) = plan.routes
    collects = [s for s in route.stops if s.kind is StopKind.collect]
    assert len(collects) == 3
    t = collects[0].start_s
    assert [s.start_s for s in collects] == [t, t + 30, t + 60]
    assert {s.arrival_s for s in collects} == {collects[0].arrival_s}
    assert {s.departure_s for s in collects} == {t + 3 * 30 + 180}
    # The validator judges the visit by the figures the plan records: with no time per parcel
    # the staggered starts are three visits that should have been one.
    wrong = plan.model_copy(update={"per_item_s": 0.0})
    assert "collect_visit_split" in {v.code for v in check_plan(day, wrong, TRAVEL)}


def test_handling_and_time_per_parcel_are_parameters() -> None:
    parcels = [
        need(f"p{i}", 0, 5, kind="food_parcel", site="fb", load=1, duration=2) for i in range(2)
    ]
    _, plan = plan_of(parcels, [volunteer("v", 0, 1, capacity=4)], handling_s=240, per_item_s=0)
    assert (plan.handling_s, plan.per_item_s) == (240, 0)
    collects = [s for s in plan.routes[0].stops if s.kind is StopKind.collect]
    t = collects[0].start_s
    assert [s.start_s for s in collects] == [t, t]
    assert {s.departure_s for s in collects} == {t + 240}
    # With neither, collecting takes no time.
    _, plan = plan_of(parcels, [volunteer("v", 0, 1, capacity=4)], handling_s=0, per_item_s=0)
    collects = [s for s in plan.routes[0].stops if s.kind is StopKind.collect]
    assert {s.departure_s for s in collects} == {collects[0].start_s}


def test_goods_are_not_carried_longer_than_the_limit() -> None:
    # The pharmacy opens 08:00 and closes 09:30; the resident can only take delivery from
    # 11:30. Two hours on board at most: 09:27 to 11:30 is too long, so it is not served.
    early = PHARMACY.model_copy(update={"closes": 9 * 60 + 30})
    day = Day(
        date=DATE,
        needs=(
            need(
                "rx",
                2,
                1,
                kind="prescription",
                site="ph",
                load=1,
                window_start="11:30",
                window_end="12:30",
            ),
        ),
        volunteers=(volunteer("v", 1, 0, shift_start="08:00", **DBS),),
        partners=(HUB,),
        sites=(FOODBANK, early),
    )
    plan = make_plan(day, TRAVEL, SMALL_DAY_RULE)
    assert plan.assignments == []
    assert plan.onboard_limit_min == 120
    # Allowed four hours on board, the same delivery is made, collected as late as possible.
    longer = make_plan(day, TRAVEL, SMALL_DAY_RULE, onboard_limit_min=240)
    (route,) = longer.routes
    collect = next(s for s in route.stops if s.kind is StopKind.collect)
    deliver = next(s for s in route.stops if s.kind is StopKind.deliver)
    # The visit (30 s for the parcel, then 180 s of handling) ends as the pharmacy closes.
    assert collect.start_s == 9 * 3600 + 30 * 60 - 210
    assert deliver.start_s == 11.5 * 3600
    assert deliver.start_s - collect.start_s <= 240 * 60


# --- rules the search must keep ---------------------------------------------------------------
def test_the_travel_limit_holds() -> None:
    # Two visits 1 km east and 1 km west: each is a 2 km walk there and back (about 31
    # minutes), both together 4 km. A 40-minute travel limit allows one.
    _, plan = plan_of(
        [need("e", 10, 0, kind="welfare_visit"), need("w", -10, 0, kind="welfare_visit")],
        [volunteer("v", 0, 0, max_travel=40, **DBS)],
    )
    assert len(plan.assignments) == 1
    (route,) = plan.routes
    assert route.travel_s <= 40 * 60


def test_site_hours_hold() -> None:
    # Cheapest in travel is the visit 200 m north first, then the pharmacy 400 m north, then
    # the resident 200 m east of home (about 1,050 m against 1,080 m for the pharmacy first).
    # The pharmacy closes at 09:14: only the pharmacy first collects in time.
    pharmacy = PHARMACY.model_copy(update={"closes": 9 * 60 + 14, **at(0, 4)})
    day = Day(
        date=DATE,
        needs=(
            need("rx", 2, 0, kind="prescription", site="ph", load=1),
            need("visit", 0, 2, kind="welfare_visit"),
        ),
        volunteers=(volunteer("v", 0, 0, **DBS),),
        partners=(HUB,),
        sites=(FOODBANK, pharmacy),
    )
    plan = make_plan(day, TRAVEL, SMALL_DAY_RULE)
    assert set(served_by(plan)) == {"rx", "visit"}
    (route,) = plan.routes
    assert next(s.kind for s in route.stops[1:-1]) is StopKind.collect
    collect = next(s for s in route.stops if s.kind is StopKind.collect)
    assert collect.start_s + 30 + 180 <= 9 * 3600 + 14 * 60


def test_an_urgent_need_outweighs_a_nearer_normal_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # One task left in the volunteer's day; the normal need is next door, the urgent one 800 m.
    needs = [
        need("near", 1, 0, kind="welfare_visit"),
        need("far", 8, 0, kind="welfare_visit", priority="urgent"),
    ]
    _, plan = plan_of(needs, [volunteer("v", 0, 0, max_tasks=1, **DBS)])
    assert served_by(plan) == {"far": "v"}
    # With equal weights the nearer one would win: the weights are what decides.
    monkeypatch.setitem(weights.PRIORITY_WEIGHT, weights.Priority.urgent, 1)
    _, equal = plan_of(needs, [volunteer("v", 0, 0, max_tasks=1, **DBS)])
    assert served_by(equal) == {"near": "v"}


def _a_then_b(whole_s: int, fractions_ok: Callable[[float, float], bool]) -> tuple[Need, Need]:
    """Visits "a" and "b" east of home in a line, "a" within 2 steps (under 4 minutes' walk):
    "a" takes 10 minutes and must start by 09:05; "b"'s last start is 09:10 plus the walks'
    whole seconds plus ``whole_s``, a whole minute, for walks (home to "a", "a" to "b",
    seconds) whose fractions pass ``fractions_ok(t1, t2)``."""
    home = tuple(at(0, 0).values())
    for step, gap in itertools.product(range(50, 200, 7), range(300, 500)):
        e1, e2 = step / 100, step / 100 + gap / 100
        secs = TRAVEL.matrix(
            np.array([home, tuple(at(e1, 0).values()), tuple(at(e2, 0).values())]),
            Transport.walk,
        ).seconds
        t1, t2 = float(secs[0, 1]), float(secs[1, 2])
        whole = math.floor(t1) + math.floor(t2) + whole_s
        if whole % 60 == 0 and fractions_ok(t1 % 1, t2 % 1):
            latest = 9 * 60 + 10 + whole // 60  # b's last start, minutes
            a = need("a", e1, 0, kind="welfare_visit", window_start="09:00", window_end="09:15")
            b = need(
                "b",
                e2,
                0,
                kind="welfare_visit",
                window_start="09:00",
                window_end=f"{(latest + 10) // 60:02d}:{(latest + 10) % 60:02d}",
            )
            return a, b
    raise AssertionError("no such walks")


def test_solver_travel_is_rounded_up_so_real_times_hold() -> None:
    """Two visits east of home in a line, "a" first (its window closes at 09:15), then "b",
    whose last start is the whole minutes of both walks after "a"'s 10 minutes: the walks'
    fractions of a second make both impossible. Travel rounded down would let the solver plan
    both, and the real times would break "b"'s window."""
    a, b = _a_then_b(0, lambda f1, f2: f1 + f2 > 0.05)
    _, plan = plan_of([a, b], [volunteer("v", 0, 0, **DBS)])
    assert len(plan.assignments) == 1


def test_given_routes_that_hold_only_on_exact_times_lose_a_need_not_the_whole_start() -> None:
    """A route given to the solver (a re-plan's, or the probe's finished routes) is timed on
    exact travel; the solver's travel is whole seconds, rounded up. Home 09:00, "a" (10
    minutes, must start by 09:05), then "b", whose last start is 09:10 plus the walks' whole
    seconds plus one: exact, the walks' fractions sum to at most 1 s and both fit; rounded up,
    "b" starts 1 s too late. The given route loses "b" (its latest need) and the rest is
    started from as given; refused whole, the start would be the solver's own."""
    a, b = _a_then_b(1, lambda f1, f2: 0.05 < f1 + f2 <= 0.95)
    day = Day(
        date=DATE,
        needs=(a, b),
        volunteers=(volunteer("v", 0, 0, **DBS),),
        partners=(HUB,),
        sites=(),
    )
    vehicles = fresh_vehicles(day)
    places = Places.of(TRAVEL, day, day.needs, vehicles)
    # Exact times keep both: the route as given holds on the plan's own timetable.
    route = [(StopKind.visit, "a"), (StopKind.visit, "b")]
    solved = solve_day(day, vehicles, places, FirstFeasible(), hint={"v": route})
    assert solved.stats["routing_first_solution"] == "the given routes"
    assert solved.served_by == {"a": "v"}
    assert solved.unserved == {"b": Reason.crowded_out}


def test_a_replan_keeps_each_need_with_its_volunteer(monkeypatch: pytest.MonkeyPatch) -> None:
    # This morning "far" was given the visit (its previous volunteer); continuity is dropped at
    # noon, but the re-plan keeps the visit where it was rather than move it to "near".
    x = need("x", 5, 0, kind="welfare_visit", previous_volunteer="far", window_start="13:00")
    day, morning = plan_of([x], [volunteer("near", 4, 0, **DBS), volunteer("far", 9, 0, **DBS)])
    assert served_by(morning) == {"x": "far"}
    monkeypatch.setattr(weights, "CONTINUITY", 0)
    again = replan(day, morning, Events(now="12:00"), TRAVEL, SMALL_DAY_RULE)
    assert served_by(again) == {"x": "far"}
    monkeypatch.setattr(weights, "KEEP_ASSIGNED", 0)
    moved = replan(day, morning, Events(now="12:00"), TRAVEL, SMALL_DAY_RULE)
    assert served_by(moved) == {"x": "near"}


def test_identical_runs_with_a_deterministic_rule_give_identical_plans() -> None:
    needs = [need(f"n{i}", i % 5, i // 5, kind="welfare_visit") for i in range(12)]
    needs += [need(f"f{i}", i, 3, kind="food_parcel", site="fb", load=1) for i in range(6)]
    vols = [volunteer(f"v{i}", i, 0, **DBS) for i in range(4)]
    _, one = plan_of(needs, vols)
    _, two = plan_of(needs, vols)
    assert one.model_dump_json() == two.model_dump_json()


def test_the_command_gives_byte_identical_plan_files_in_deterministic_mode(tmp_path) -> None:
    from typer.testing import CliRunner

    from kst_match.cli import app

    runner = CliRunner()
    files = []
    for name in ("one", "two"):
        out = tmp_path / name
        result = runner.invoke(app, ["plan", "--iterations", "20", "--out", str(out)])
        assert result.exit_code == 0, result.output
        files.append((out / "plan.json").read_bytes())
    assert files[0] == files[1]


def test_a_collection_waits_so_that_goods_are_not_carried_too_long() -> None:
    # Cheapest is: the food bank (at home), the visit 500 m on, the parcel 500 m further. The
    # parcel is due from 11:00 and the visit by 10:30, so collecting at 08:00 would carry it
    # for three hours: the collection waits until 09:00 at the earliest, the visit follows.
    _day, plan = plan_of(
        [
            need("v", 0, 5, kind="welfare_visit", window_start="08:00", window_end="10:30"),
            need(
                "d",
                0,
                10,
                kind="food_parcel",
                site="fb",
                load=1,
                duration=5,
                window_start="11:00",
                window_end="12:00",
            ),
        ],
        [volunteer("a", 0, 0, shift_start="08:00", **DBS)],
    )
    assert set(served_by(plan)) == {"v", "d"}
    (route,) = plan.routes
    assert [s.need for s in route.stops[1:-1]] == ["d", "v", "d"]
    collect, deliver = route.stops[1], route.stops[3]
    assert deliver.start_s == 11 * 3600
    assert deliver.start_s - collect.start_s <= 2 * 3600


def test_the_command_warns_and_exits_3_when_the_clock_stops_the_search(tmp_path) -> None:
    """A day where one need fits nowhere, planned with a limit far shorter than building the
    first solution takes: the search is starved, so that need is not_planned_in_time (not
    crowded_out), the plan is still published, and the command says so and exits 3."""
    from typer.testing import CliRunner

    from kst_match.cli import app
    from kst_match.dataset.generate import write_day

    day = Day(
        date=DATE,
        needs=tuple(two_at_once()),
        volunteers=(volunteer("v", 0, 0, **DBS),),
        partners=(HUB,),
        sites=(FOODBANK, PHARMACY),
    )
    write_day(day, tmp_path / "day")
    out = tmp_path / "out"
    args = ["plan", "--data", str(tmp_path / "day"), "--out", str(out), "--time-limit", "0.001"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "lo" in result.output and "longer --time-limit" in " ".join(result.output.split())
    plan = Plan.model_validate_json((out / "plan.json").read_text(encoding="utf-8"))
    assert [(u.need, u.reason) for u in plan.unserved] == [("lo", Reason.not_planned_in_time)]
    # With iterations instead, the same need is crowded out and the command succeeds.
    again = CliRunner().invoke(app, [*args[:5], "--iterations", "50"])
    assert again.exit_code == 0, again.output
