"""Re-planning the rest of a day after stops are done, a need fails and a volunteer drops out."""

from __future__ import annotations

from kst_match.check import check_plan
from kst_match.model import Day, Plan, StopKind
from kst_match.plan import make_plan
from kst_match.replan import Events, replan
from kst_match.solve.stop import MaxIterations
from tests.test_plan import DATE, FOODBANK, HUB, PHARMACY, TRAVEL, need, volunteer

TASKS = (StopKind.deliver, StopKind.visit, StopKind.call)


def morning() -> tuple[Day, Plan]:
    vols = [
        volunteer("ann", 0, 2, transport="car", capacity=8, skills="dbs_checked;advice_trained"),
        volunteer("bob", 3, -2, transport="cycle", capacity=4, skills="dbs_checked"),
        volunteer(
            "cat", -3, 0, transport="car", capacity=8, skills="dbs_checked;wellbeing_trained"
        ),
    ]
    needs = [
        need(
            "f1",
            8,
            4,
            kind="food_parcel",
            site="fb",
            load=2,
            window_start="09:00",
            window_end="11:00",
        ),
        need(
            "f2",
            -6,
            5,
            kind="food_parcel",
            site="fb",
            load=1,
            window_start="09:30",
            window_end="12:00",
        ),
        need(
            "f3",
            4,
            -8,
            kind="food_parcel",
            site="fb",
            load=2,
            window_start="10:00",
            window_end="13:00",
        ),
        need("p1", 6, 1, kind="prescription", site="ph", window_start="09:00", window_end="12:00"),
        need(
            "p2", -2, -6, kind="prescription", site="ph", window_start="11:00", window_end="14:00"
        ),
        need(
            "w1",
            1,
            9,
            kind="wellbeing_check",
            window_start="10:00",
            window_end="15:00",
            duration=30,
        ),
        need(
            "v1",
            -7,
            -2,
            kind="welfare_visit",
            window_start="13:00",
            window_end="16:00",
            duration=20,
        ),
        need(
            "c1",
            0,
            0,
            kind="benefits_advice",
            window_start="09:00",
            window_end="16:00",
            duration=20,
        ),
    ]
    day = Day(
        date=DATE,
        needs=tuple(needs),
        volunteers=tuple(vols),
        partners=(HUB,),
        sites=(FOODBANK, PHARMACY),
    )
    return day, make_plan(day, TRAVEL, MaxIterations(100))


def test_replan_keeps_done_stops_and_moves_the_dropped_volunteers_needs() -> None:
    day, plan = morning()
    assert check_plan(day, plan, TRAVEL) == []
    assert not plan.unserved
    # Each volunteer has done the first half of their tasks; one more stop failed.
    done: set[str] = set()
    for route in plan.routes:
        tasks = [s.need for s in route.stops if s.kind in TASKS]
        done.update(tasks[: len(tasks) // 2])
    assert done, "the morning plan should give someone at least two tasks"
    busiest = max(plan.routes, key=lambda r: r.tasks)
    failed = next(s.need for s in busiest.stops if s.kind in TASKS and s.need not in done)
    dropped = next(r.volunteer for r in plan.routes if r.volunteer != busiest.volunteer)
    now = max(
        s.departure for r in plan.routes for s in r.stops if s.need in done and s.kind in TASKS
    )
    # Goods picked up on the way to a done stop are reported collected.
    collected = set()
    for route in plan.routes:
        last = max((i for i, s in enumerate(route.stops) if s.need in done), default=-1)
        collected |= {s.need for s in route.stops[:last] if s.kind is StopKind.collect}
    events = Events(
        now=now,
        done=frozenset(done),
        collected=frozenset(collected - done),
        failed={failed: "not at home"},
        dropped={dropped},
    )

    new = replan(day, plan, events, TRAVEL, MaxIterations(100))

    assert new.version == plan.version + 1
    assert check_plan(day, new, TRAVEL) == []
    # Every done stop is still there, unchanged in time and place.
    before = {
        (r.volunteer, s.need, s.kind): s for r in plan.routes for s in r.stops if s.need in done
    }
    after = {
        (r.volunteer, s.need, s.kind): s for r in new.routes for s in r.stops if s.need in done
    }
    assert set(after) >= {k for k in before if k[2] in TASKS}
    for key, stop in after.items():
        assert (stop.arrival, stop.start) == (before[key].arrival, before[key].start)
        if stop.kind is not StopKind.call:  # a call is placed where the volunteer was
            assert (stop.lon, stop.lat) == (before[key].lon, before[key].lat)
    # The failed need is served again, or says why not.
    assigned = {a.need: a.volunteer for a in new.assignments}
    unserved = {u.need: u.reason for u in new.unserved}
    assert failed in assigned or failed in unserved
    # The dropped volunteer keeps only what they had done: their other needs went elsewhere.
    theirs = {
        s.need
        for r in plan.routes
        if r.volunteer == dropped
        for s in r.stops
        if s.kind in TASKS and s.need not in done
    }
    for n in theirs:
        assert assigned.get(n, dropped) != dropped or n in unserved
        assert n in assigned or n in unserved
    dropped_route = next((r for r in new.routes if r.volunteer == dropped), None)
    if dropped_route is not None:
        assert {s.need for s in dropped_route.stops if s.kind in TASKS} <= done
    # Nothing new is planned before now.
    for route in new.routes:
        for s in route.stops:
            if s.need and s.need not in done and s.kind in TASKS:
                assert s.start >= now


def test_replan_with_nothing_happened_keeps_the_plan() -> None:
    day, plan = morning()
    new = replan(day, plan, Events(now="08:00"), TRAVEL, MaxIterations(100))
    assert check_plan(day, new, TRAVEL) == []
    assert {(a.need, a.volunteer) for a in new.assignments} == {
        (a.need, a.volunteer) for a in plan.assignments
    }
