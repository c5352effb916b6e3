"""Re-planning the rest of a day after stops are done, a need fails and a volunteer drops out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kst_match.check import check_plan
from kst_match.model import Day, Plan, Reason, Route, Stop, StopKind
from kst_match.outputs.plan_json import write_plan
from kst_match.plan import make_plan
from kst_match.replan import Events, ReplanError, read_events, replan, unreported
from tests.test_plan import (
    DATE,
    FOODBANK,
    HUB,
    PHARMACY,
    SMALL_DAY_RULE,
    TRAVEL,
    need,
    volunteer,
)

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
    return day, make_plan(day, TRAVEL, SMALL_DAY_RULE)


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

    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)

    assert new.version == plan.version + 1
    assert check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
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
    events = Events(now="08:00")
    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)
    assert check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
    assert {(a.need, a.volunteer) for a in new.assignments} == {
        (a.need, a.volunteer) for a in plan.assignments
    }


# ---------------------------------------------------------------------------------------------
# Goods collected, volunteers dropped, failures reported
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planned() -> tuple[Day, Plan]:
    """The morning above, made once; in it "cat" collects f1, f2 and p1 from 09:00 to 09:10."""
    day, plan = morning()
    cat = next(r for r in plan.routes if r.volunteer == "cat")
    collects = [s for s in cat.stops if s.kind is StopKind.collect]
    assert {s.need for s in collects} >= {"f1", "f2"}, "the tests below assume cat collects these"
    assert all(s.start <= 9 * 60 + 10 for s in collects if s.need in ("f1", "f2"))
    return day, plan


def _stops(plan: Plan, volunteer: str) -> list[tuple[StopKind, str | None]]:
    route = next((r for r in plan.routes if r.volunteer == volunteer), None)
    return [(s.kind, s.need) for s in route.stops] if route else []


def test_goods_collected_are_delivered_by_their_volunteer(planned: tuple[Day, Plan]) -> None:
    day, plan = planned
    events = Events(now="09:10", collected=frozenset({"f1", "f2"}))
    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)
    assert check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
    served = {a.need: a.volunteer for a in new.assignments}
    assert served["f1"] == served["f2"] == "cat"
    # The collections stay where and when they were made, before anything new.
    before = {s.need: s for r in plan.routes for s in r.stops if s.kind is StopKind.collect}
    cat = next(r for r in new.routes if r.volunteer == "cat")
    made = [s for s in cat.stops if s.kind is StopKind.collect and s.need in ("f1", "f2")]
    # (one visit to the food bank: both at the same time, in either order)
    assert sorted((s.start, s.need) for s in made) == sorted(
        (before[n].start, n) for n in ("f1", "f2")
    )
    assert {(e.kind, e.need, e.volunteer) for e in new.events} == {
        ("collected", "f1", "cat"),
        ("collected", "f2", "cat"),
    }


def test_goods_that_can_no_longer_be_delivered_go_back_to_their_site(
    planned: tuple[Day, Plan],
) -> None:
    day, plan = planned
    # f1's window closed at 11:00; f2's is open until 12:00.
    events = Events(now="11:30", collected=frozenset({"f1", "f2"}))
    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)
    assert (
        check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
    )  # nobody comes home carrying f1's parcel
    unserved = {u.need: u for u in new.unserved}
    assert unserved["f1"].reason is Reason.no_time
    assert "go back to fb" in unserved["f1"].detail
    assert (StopKind.collect, "f1") not in _stops(new, "cat")
    assert {a.need: a.volunteer for a in new.assignments}["f2"] == "cat"
    (returned,) = [e for e in new.events if e.kind == "returned"]
    assert (returned.need, returned.volunteer) == ("f1", "cat")
    assert "cannot deliver it in time" in returned.note


def test_a_dropped_volunteer_s_needs_are_placed_or_explained(planned: tuple[Day, Plan]) -> None:
    day, plan = planned
    theirs = {s.need for s in next(r for r in plan.routes if r.volunteer == "cat").stops if s.need}
    events = Events(now="09:10", collected=frozenset({"f1", "f2"}), dropped=frozenset({"cat"}))
    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)
    assert check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
    assert _stops(new, "cat") == []  # nothing done: no route, and no goods left with them
    served = {a.need: a for a in new.assignments}
    unserved = {u.need: u for u in new.unserved}
    for n in theirs:
        assert (n in served) != (n in unserved)
        if n in served:
            assert served[n].volunteer != "cat"
            assert "Was cat's, who dropped out." in served[n].note
        else:
            assert "Was cat's, who dropped out." in unserved[n].detail
    # Only cat is wellbeing trained: w1 cannot be placed, and says why.
    assert unserved["w1"].reason is Reason.volunteer_unavailable
    returned = {e.need: e.note for e in new.events if e.kind == "returned"}
    assert set(returned) == {"f1", "f2"}
    assert all(
        note.startswith("cat dropped out: the goods go back to fb") for note in returned.values()
    )


def test_goods_still_on_board_when_the_shift_ends_go_back(planned: tuple[Day, Plan]) -> None:
    day, plan = planned
    # At 17:00 cat's shift is over, with f2 collected (at the food bank, away from home).
    events = Events(now="17:00", collected=frozenset({"f2"}))
    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)
    assert check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
    assert {e.need: e.note for e in new.events if e.kind == "returned"} == {
        "f2": "cat's shift is over: the goods go back to fb, and the need is planned again with"
        " a fresh collection"
    }
    assert "f2" in {u.need for u in new.unserved}


@pytest.mark.parametrize(
    "events",
    [Events(now="24:00"), Events(now="09:00", dropped=frozenset({"ann", "bob", "cat"}))],
    ids=["day over", "everyone dropped"],
)
def test_nobody_left_leaves_every_need_unserved(planned: tuple[Day, Plan], events: Events) -> None:
    day, plan = planned
    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)
    assert check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
    assert new.routes == [] and new.assignments == []
    assert len(new.unserved) == len(day.needs)


def test_the_failed_reason_is_in_the_plan_file(planned: tuple[Day, Plan], tmp_path: Path) -> None:
    day, plan = planned
    events = Events(now="09:30", failed={"p1": "not at home"})
    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)
    assert check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
    written = json.loads(write_plan(new, tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert {"kind": "failed", "need": "p1", "volunteer": "cat", "note": "not at home"} in written[
        "events"
    ]
    entry = [a["note"] for a in written["assignments"] if a["need"] == "p1"]
    entry += [u["detail"] for u in written["unserved"] if u["need"] == "p1"]
    assert len(entry) == 1 and "Failed earlier today (not at home)." in entry[0]


# ---------------------------------------------------------------------------------------------
# Events checked like input files
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def with_unserved() -> tuple[Day, Plan]:
    """The morning with one more need nobody can serve (its window closes before any shift)."""
    day, _ = morning()
    early = need("x1", 1, 1, kind="welfare_visit", window_start="06:00", window_end="07:00")
    day = day.model_copy(update={"needs": (*day.needs, early)})
    plan = make_plan(day, TRAVEL, SMALL_DAY_RULE)
    assert [u.need for u in plan.unserved] == ["x1"]
    return day, plan


BAD_EVENTS = [
    ({"now": "12:00", "done": ["N00077"]}, "events.json, done.N00077: unknown need"),
    ({"now": "12:00", "collected": ["zz"]}, "events.json, collected.zz: unknown need"),
    ({"now": "12:00", "failed": {"N00077": "x"}}, "events.json, failed.N00077: unknown need"),
    ({"now": "12:00", "dropped": ["V9"]}, "events.json, dropped.V9: unknown volunteer"),
    (
        {"now": "12:00", "done": ["f1"], "failed": {"f1": "not at home"}},
        "events.json, done.f1: also reported failed",
    ),
    ({"now": "12:00", "done": ["x1"]}, "events.json, done.x1: not served in version 1"),
    ({"now": "12:00", "failed": {"x1": "out"}}, "events.json, failed.x1: not served in version 1"),
    ({"now": "08:30", "done": ["f1"]}, "events.json, done.f1: planned for"),
    (
        {"now": "12:00", "collected": ["w1"]},
        "events.json, collected.w1: a wellbeing_check, nothing",
    ),
    ({"now": "25:00"}, "events.json, now: '25:00' falls outside the day"),
    ({"now": "noon"}, "events.json, now: 'noon' is not a time of day"),
    ({"now": 750}, "events.json, now: must be a time of day as text"),
    ({"done": []}, "events.json, now: missing"),
    ({"now": "12:00", "late": []}, "events.json, late: unknown key"),
    ({"now": "12:00", "done": "f1"}, "events.json, done: must be a list of ids"),
    ({"now": "12:00", "done": [3]}, "events.json, done[0]: not an id"),
    ({"now": "12:00", "done": ["f1", "f1"]}, "events.json, done.f1: listed twice"),
    ({"now": "12:00", "failed": ["f1"]}, "events.json, failed: must be an object"),
    ({"now": "12:00", "failed": {"f1": ""}}, "events.json, failed.f1: the reason must be text"),
    (["12:00"], "events.json: must be a JSON object"),
]


@pytest.mark.parametrize(("content", "message"), BAD_EVENTS)
def test_bad_events_are_refused_naming_the_file_and_the_event(
    with_unserved: tuple[Day, Plan], content: object, message: str
) -> None:
    day, plan = with_unserved
    with pytest.raises(ReplanError) as caught:
        read_events(json.dumps(content).encode(), day, plan, "events.json")
    assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"now": "12:00", "done": [', "events.json: not valid JSON (Expecting value at line 1"),
        (b"\xff\xfe{}", "events.json: not UTF-8 text (byte 0)"),
        (b'{"now": "12:00", "now": "13:00"}', "events.json: not valid events (the key now appears"),
        (b"[" * 100_000, "events.json: not valid"),
        (b"", "events.json: not valid JSON"),
    ],
)
def test_unreadable_events_are_refused_naming_the_file(
    with_unserved: tuple[Day, Plan], raw: bytes, message: str
) -> None:
    day, plan = with_unserved
    with pytest.raises(ReplanError) as caught:
        read_events(raw, day, plan, "events.json")
    assert caught.value.problems[0].startswith(message), caught.value.problems


# ---------------------------------------------------------------------------------------------
# Whatever the events file holds: a plan or a clear error, never a traceback
# ---------------------------------------------------------------------------------------------
NEED_IDS = ["f1", "f2", "f3", "p1", "p2", "w1", "v1", "c1", "x1", "N404", ""]
VOLUNTEER_IDS = ["ann", "bob", "cat", "V404"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
times = st.sampled_from(
    ["08:00", "09:10", "10:30", "12:00", "13:45", "16:00", "24:00", "25:00", "9"]
)
events_like = st.fixed_dictionaries(
    {"now": times},
    optional={
        "done": st.lists(st.sampled_from(NEED_IDS), max_size=4),
        "collected": st.lists(st.sampled_from(NEED_IDS), max_size=4),
        "failed": st.dictionaries(st.sampled_from(NEED_IDS), st.sampled_from(["not at home", ""])),
        "dropped": st.lists(st.sampled_from(VOLUNTEER_IDS), max_size=2),
    },
)


def _read_or_refuse(raw: bytes, day: Day, plan: Plan) -> Events | None:
    try:
        return read_events(raw, day, plan, "events.json")
    except ReplanError as exc:
        assert exc.problems and all(p.startswith("events.json") for p in exc.problems)
        return None


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_give_events_or_a_clear_error(
    with_unserved: tuple[Day, Plan], raw: bytes
) -> None:
    day, plan = with_unserved
    _read_or_refuse(raw, day, plan)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=events_like)
def test_any_events_give_a_checked_plan_or_a_clear_error(
    with_unserved: tuple[Day, Plan], content: dict[str, object]
) -> None:
    day, plan = with_unserved
    events = _read_or_refuse(json.dumps(content).encode(), day, plan)
    if events is None:
        return
    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)
    assert check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
    for n in events.done:  # what was done stays done, by whoever did it
        assert {a.need: a.volunteer for a in new.assignments}[n] == {
            a.need: a.volunteer for a in plan.assignments
        }[n]


def test_stops_before_now_not_reported_are_listed() -> None:
    def stop(kind: str, need: str | None, start: str) -> Stop:
        return Stop(kind=kind, need=need, lon=0, lat=0, arrival=start, start=start, departure=start)

    plan = Plan(
        date=DATE,
        travel_model="test",
        assignments=[],
        unserved=[],
        routes=[
            Route(
                volunteer="ann",
                transport="walk",
                stops=[
                    stop("start", None, "09:00"),
                    stop("collect", "f1", "09:05"),  # a collection is not a task
                    stop("deliver", "f1", "09:20"),
                    stop("call", "c1", "09:40"),
                    stop("visit", "v1", "10:00"),  # not before 10:00
                    stop("end", None, "10:30"),
                ],
            ),
            Route(volunteer="bob", transport="walk", stops=[stop("visit", "v2", "09:30")]),
        ],
    )
    events = Events(now="10:00", done=frozenset({"c1"}), failed={"f1": "not at home"})
    assert unreported(plan, events) == ["v2"]
    assert unreported(plan, Events(now="10:00", dropped=frozenset({"bob"}))) == ["c1", "f1"]


def test_a_visit_cut_by_the_replan_is_over_and_the_next_collect_is_its_own(
    with_unserved: tuple[Day, Plan],
) -> None:
    # cat collects f2 then f1 on one visit to the food bank from 09:00; by 09:10 only f1 is
    # reported collected. The visit stands as made (one parcel reported), and f2, planned
    # again, is collected on a visit of its own from 09:10, with its own handling.
    day, plan = with_unserved
    events = read_events(
        json.dumps({"now": "09:10", "collected": ["f1"]}).encode(), day, plan, "events.json"
    )
    new = replan(day, plan, events, TRAVEL, SMALL_DAY_RULE)
    assert check_plan(day, new, TRAVEL, absent=events.dropped, now=events.now) == []
    cat = next(r for r in new.routes if r.volunteer == "cat")
    collects = [(s.need, s.arrival) for s in cat.stops if s.kind == StopKind.collect]
    assert collects[:2] == [("f1", 540), ("f2", 550)]
