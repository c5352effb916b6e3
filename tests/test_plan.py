"""The daily plan on small hand-made days whose best answer is worked out here."""

from __future__ import annotations

import datetime as dt

import pytest

from kst_match.check import check_plan
from kst_match.geo.travel import RoadEstimate
from kst_match.model import (
    Day,
    Need,
    Partner,
    Plan,
    Reason,
    ServiceKind,
    Site,
    StopKind,
    Volunteer,
)
from kst_match.plan import make_plan
from kst_match.solve.stop import MaxIterations

DATE = dt.date(2026, 11, 25)
# Small days are solved to the end well within this many iterations, on any machine.
SMALL_DAY_RULE = MaxIterations(300)
TRAVEL = RoadEstimate()
# Central Kingston; about 100 m per step in each direction.
LON, LAT = -0.3064, 51.4085
DLON, DLAT = 0.00144, 0.0009


def at(east: float, north: float) -> dict[str, float]:
    """A point ``east`` and ``north`` hundreds of metres from central Kingston."""
    return {"lon": LON + east * DLON, "lat": LAT + north * DLAT}


HUB = Partner(id="hub", name="Hub", services=list(ServiceKind))
FOODBANK = Site(
    id="fb", name="Foodbank", kind="food_bank", opens="08:00", closes="18:00", **at(0, 0)
)
PHARMACY = Site(
    id="ph", name="Pharmacy", kind="pharmacy", opens="08:00", closes="18:00", **at(2, 0)
)


def volunteer(vid: str, east: float, north: float, **kw: object) -> Volunteer:
    base = dict(partner="hub", transport="walk", capacity=4, shift_start="09:00", shift_end="17:00")
    return Volunteer(id=vid, **{**base, **kw}, **at(east, north))  # type: ignore[arg-type]


def need(nid: str, east: float, north: float, **kw: object) -> Need:
    base = dict(date=DATE, resident=f"r-{nid}", window_start="09:00", window_end="17:00")
    return Need(id=nid, **{**base, **kw}, **at(east, north))  # type: ignore[arg-type]


def plan_of(
    needs: list[Need], volunteers: list[Volunteer], partners=(HUB,), **options: float
) -> tuple[Day, Plan]:
    day = Day(
        date=DATE,
        needs=tuple(needs),
        volunteers=tuple(volunteers),
        partners=tuple(partners),
        sites=(FOODBANK, PHARMACY),
    )
    plan = make_plan(day, TRAVEL, SMALL_DAY_RULE, **options)  # type: ignore[arg-type]
    assert check_plan(day, plan, TRAVEL) == []
    return day, plan


def served_by(plan: Plan) -> dict[str, str]:
    return {a.need: a.volunteer for a in plan.assignments}


def test_prescription_goes_to_the_only_dbs_checked_volunteer() -> None:
    # "near" lives next door to the pharmacy; only "far" is DBS checked.
    _, plan = plan_of(
        [need("rx", 3, 0, kind="prescription", site="ph")],
        [volunteer("near", 2, 1), volunteer("far", -6, 0, skills="dbs_checked")],
    )
    assert served_by(plan) == {"rx": "far"}
    route = next(r for r in plan.routes if r.volunteer == "far")
    assert [(s.kind, s.need) for s in route.stops[1:-1]] == [
        (StopKind.collect, "rx"),
        (StopKind.deliver, "rx"),
    ]


def test_windows_force_the_order() -> None:
    # "b" is on the way out and nearer home, but "a" must be seen by 10:00 and "b" after 11:00.
    dbs = {"skills": "dbs_checked"}
    _, plan = plan_of(
        [
            need("a", 10, 0, kind="welfare_visit", window_start="09:30", window_end="10:00"),
            need("b", 3, 0, kind="welfare_visit", window_start="11:00", window_end="11:30"),
        ],
        [volunteer("v", 0, 0, **dbs)],
    )
    (route,) = plan.routes
    assert [s.need for s in route.stops[1:-1]] == ["a", "b"]
    starts = {a.need: a.start for a in plan.assignments}
    assert 9 * 60 + 30 <= starts["a"] <= 10 * 60
    assert starts["b"] == 11 * 60  # arrives early and waits for the window to open


def two_parcels() -> list[Need]:
    """Two parcels of 3 for neighbours 1.5 km north of the food bank, both due 10:00-10:10,
    5 minutes each at the door."""
    return [
        need(
            n,
            0,
            15,
            kind="food_parcel",
            site="fb",
            load=3,
            duration=5,
            window_start="10:00",
            window_end="10:10",
        )
        for n in ("p1", "p2")
    ]


def test_carrying_capacity_forces_a_second_volunteer() -> None:
    # Two parcels of 3 for neighbours 1.5 km from the food bank, both due 10:00-10:10; each
    # volunteer carries 4, and no one can walk back for the second parcel in time.
    parcels = two_parcels()
    _, plan = plan_of(parcels, [volunteer("v1", 0, 1), volunteer("v2", 0, -1)])
    assert set(served_by(plan)) == {"p1", "p2"}
    assert set(served_by(plan).values()) == {"v1", "v2"}
    for route in plan.routes:
        assert max(s.load for s in route.stops) == 3


def test_one_volunteer_carries_both_when_capacity_allows() -> None:
    # The same day with a car that carries 8: one trip does both, the second volunteer rests.
    parcels = two_parcels()
    _, plan = plan_of(parcels, [volunteer("car", 0, 1, transport="car", capacity=8)])
    assert served_by(plan) == {"p1": "car", "p2": "car"}
    (route,) = plan.routes
    assert [s.kind for s in route.stops[1:-1]] == [
        StopKind.collect,
        StopKind.collect,
        StopKind.deliver,
        StopKind.deliver,
    ]


@pytest.mark.parametrize(
    ("the_need", "partners", "reason"),
    [
        (need("x", 1, 1, kind="food_parcel", site="fb", load=9), (HUB,), Reason.no_capacity),
        (
            need("x", 1, 1, kind="befriending_call", language="tamil", language_required=True),
            (HUB,),
            Reason.no_language,
        ),
        (need("x", 1, 1, kind="benefits_advice"), (HUB,), Reason.no_skill),
        (
            need("x", 1, 1, kind="food_parcel", site="fb"),
            (Partner(id="hub", name="Hub", services="prescription"),),
            Reason.no_partner,
        ),
        (
            need(
                "x", 1, 1, kind="food_parcel", site="fb", window_start="07:00", window_end="08:30"
            ),
            (HUB,),
            Reason.no_time,
        ),
        (need("x", 150, 0, kind="welfare_visit"), (HUB,), Reason.too_far),
    ],
)
def test_impossible_need_has_the_right_reason(
    the_need: Need, partners: tuple, reason: Reason
) -> None:
    vols = [volunteer("v", 0, 0, skills="dbs_checked", max_travel=60)]
    _, plan = plan_of([the_need], vols, partners)
    assert plan.assignments == []
    (unserved,) = plan.unserved
    assert (unserved.need, unserved.reason) == ("x", reason)
    assert unserved.detail


def test_partner_capacity_binds_and_urgent_need_keeps_the_place() -> None:
    foodbank = Partner(id="hub", name="Hub", services="food_parcel", capacity="food_parcel:1")
    _, plan = plan_of(
        [
            need("normal", 1, 1, kind="food_parcel", site="fb"),
            need("urgent", 1, 2, kind="food_parcel", site="fb", priority="urgent"),
        ],
        [volunteer("v", 0, 0)],
        (foodbank,),
    )
    assert served_by(plan) == {"urgent": "v"}
    assert [(u.need, u.reason) for u in plan.unserved] == [("normal", Reason.partner_capacity)]


def two_at_once() -> list[Need]:
    """Two 30-minute visits that must both start by 10:05, 700 m east and 450 m south of the
    volunteer's home: each alone is possible, not both; "hi" has the higher priority."""
    visit = {"kind": "welfare_visit", "window_start": "10:00", "window_end": "10:35"}
    return [
        need("hi", 5, 0, priority="high", duration=30, **visit),
        need("lo", 0, -5, duration=30, **visit),
    ]


def test_crowded_out_need_is_told_apart_from_an_impossible_one() -> None:
    _, plan = plan_of(two_at_once(), [volunteer("v", 0, 0, skills="dbs_checked")])
    assert served_by(plan) == {"hi": "v"}
    assert [(u.need, u.reason) for u in plan.unserved] == [("lo", Reason.crowded_out)]


@pytest.mark.parametrize(("previous", "expected"), [(None, "near"), ("further", "further")])
def test_continuity_chosen_over_a_slightly_shorter_route(
    previous: str | None, expected: str
) -> None:
    # "further" lives 300 m further away than "near": about 4 minutes more walking each way.
    the_need = need("visit", 5, 0, kind="welfare_visit", previous_volunteer=previous)
    dbs = {"skills": "dbs_checked"}
    _, plan = plan_of(
        [the_need], [volunteer("near", 4, 0, **dbs), volunteer("further", 8, 0, **dbs)]
    )
    assert served_by(plan) == {"visit": expected}
    assert plan.assignments[0].continuity is (previous is not None)


def test_a_residents_call_goes_to_the_volunteer_visiting_them() -> None:
    dbs = {"skills": "dbs_checked;advice_trained"}
    _, plan = plan_of(
        [
            need(
                "visit",
                5,
                0,
                kind="welfare_visit",
                resident="r1",
                window_start="10:00",
                window_end="11:00",
            ),
            need("call", 5, 0, kind="benefits_advice", resident="r1", duration=20),
        ],
        [volunteer("a", 0, 0, **dbs), volunteer("b", 6, 0, **dbs)],
    )
    by = served_by(plan)
    assert by["call"] == by["visit"]


def test_calls_fit_between_stops_and_never_overlap_travel() -> None:
    vols = [
        volunteer("v", 0, 0, skills="dbs_checked;advice_trained", shift_end="12:00", max_tasks=10)
    ]
    needs = [
        need(
            "d1",
            0,
            10,
            kind="food_parcel",
            site="fb",
            load=1,
            window_start="09:30",
            window_end="10:00",
        ),
        need(
            "d2",
            0,
            -10,
            kind="food_parcel",
            site="fb",
            load=1,
            window_start="11:00",
            window_end="11:30",
        ),
        *[need(f"c{i}", 1, 1, kind="health_advice", duration=20) for i in range(3)],
    ]
    _, plan = plan_of(needs, vols)
    assert {a.need for a in plan.assignments} == {"d1", "d2", "c0", "c1", "c2"}
    (route,) = plan.routes
    calls = [s for s in route.stops if s.kind is StopKind.call]
    assert len(calls) == 3 and all(s.travel_s == 0 for s in calls)


def test_the_only_trained_volunteer_is_kept_for_the_need_only_they_can_serve() -> None:
    # "scarce" is the only wellbeing-trained volunteer, lives by the food bank and can do two
    # tasks; "other" lives further away. Giving "scarce" the parcels would crowd out the check.
    parcels = [
        need(
            n, 1, 3, kind="food_parcel", site="fb", load=1, window_start="09:30", window_end="12:00"
        )
        for n in ("p1", "p2")
    ]
    check = need("check", 2, 2, kind="wellbeing_check", window_start="10:00", window_end="12:00")
    _, plan = plan_of(
        [*parcels, check],
        [
            volunteer("scarce", 0, 1, skills="dbs_checked;wellbeing_trained", max_tasks=2),
            volunteer("other", 6, 6, capacity=2),
        ],
    )
    by = served_by(plan)
    assert by["check"] == "scarce"
    assert set(by) == {"p1", "p2", "check"}
