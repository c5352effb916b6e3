"""What keeps a large day's plan linear in its size: triage shared between needs asking the
same, volunteers tried alone only until enough are found, the final insertion by rings of the
nearest days, and a day planned whole on request."""

from __future__ import annotations

import pytest

import kst_match.solve.alone as alone_module
import kst_match.solve.decompose as decompose
import kst_match.solve.finish as finish_module
from kst_match.check import check_plan
from kst_match.geo.travel import RoadEstimate
from kst_match.model import Day, Partner, Reason
from kst_match.plan import make_plan
from kst_match.solve.alone import alone_verdicts
from kst_match.solve.day import DaySolution
from kst_match.solve.finish import finish
from kst_match.solve.stop import MaxIterations, MaxRuntime
from kst_match.solve.vehicles import Vehicle, fresh_vehicles
from kst_match.triage import triage
from tests.test_plan import DATE, FOODBANK, HUB, PHARMACY, need, volunteer

TRAVEL = RoadEstimate()
TALK = Partner(id="talk", name="Talk", services="befriending_call;welfare_visit")


def day_of(needs, volunteers, partners=(HUB,)) -> Day:  # type: ignore[no-untyped-def]
    return Day(
        date=DATE,
        needs=tuple(needs),
        volunteers=tuple(volunteers),
        partners=tuple(partners),
        sites=(FOODBANK, PHARMACY),
    )


def test_triage_answers_by_the_rules_and_needs_asking_the_same_share_one_answer() -> None:
    day = day_of(
        [
            need("visit1", 1, 0, kind="welfare_visit"),  # dbs_checked, of hub or talk
            need("visit2", 5, 5, kind="welfare_visit"),
            need("tamil", 2, 0, kind="welfare_visit", language="tamil", language_required=True),
            need("polish", 2, 0, kind="welfare_visit", language="polish", language_required=True),
            need("parcel", 3, 0, kind="food_parcel", site="fb"),  # no skill; hub only
            need("advice", 4, 0, kind="benefits_advice"),  # advice_trained: nobody
        ],
        [
            volunteer("a", 0, 0, skills="dbs_checked", languages="tamil"),
            volunteer("b", 0, 0),
            volunteer("c", 0, 0, partner="talk", skills="dbs_checked"),
            volunteer("d", 0, 0, partner="talk", shared_with="hub", skills="dbs_checked"),
        ],
        (HUB, TALK),
    )
    tri = triage(day)
    assert tri.volunteers["visit1"] == ("a", "c", "d")
    assert tri.partners["visit1"] == ("hub", "talk")
    assert tri.volunteers["tamil"] == ("a",)
    assert tri.volunteers["parcel"] == ("a", "b", "d")
    assert tri.partners["parcel"] == ("hub",)
    assert tri.rejected == {"polish": Reason.no_language, "advice": Reason.no_skill}
    assert tri.volunteers["polish"] == () and tri.volunteers["advice"] == ()
    # One answer for the two visits, and cut once for a part of the day.
    assert tri.volunteers["visit1"] is tri.volunteers["visit2"]
    part = tri.restricted(["visit1", "visit2", "tamil"], ["a", "d"])
    assert part.volunteers == {"visit1": ("a", "d"), "visit2": ("a", "d"), "tamil": ("a",)}


def test_volunteers_are_tried_alone_only_until_enough_are_able(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(alone_module, "ALONE_CHUNK", 2)
    visit = need("visit", 0, 0, kind="wellbeing_check")
    skills = "dbs_checked;wellbeing_trained"
    # Five able volunteers, from 100 m to 500 m away, given in no order.
    vehicles = [Vehicle.fresh(volunteer(f"v{k}", k, 0, skills=skills)) for k in (3, 1, 5, 2, 4)]
    everyone = alone_verdicts(visit, vehicles, TRAVEL, None)
    assert list(everyone) == ["v1", "v2", "v3", "v4", "v5"]  # nearest first
    assert all(r is None for r in everyone.values())
    # Chunks of two: one able is known after the first chunk, three after the second.
    assert list(alone_verdicts(visit, vehicles, TRAVEL, None, enough=1)) == ["v1", "v2"]
    assert list(alone_verdicts(visit, vehicles, TRAVEL, None, enough=3)) == [
        "v1",
        "v2",
        "v3",
        "v4",
    ]
    assert list(alone_verdicts(visit, vehicles, TRAVEL, None, first_able=True)) == ["v1", "v2"]


def _finish_one(day: Day, need_id: str) -> DaySolution:
    """The final pass over an empty plan with one need left crowded out."""
    vehicles = fresh_vehicles(day)
    solution = DaySolution(
        routes={}, served_by={}, unserved={need_id: Reason.crowded_out}, triage=triage(day)
    )
    return finish(day, vehicles, TRAVEL, solution)


def test_final_insertion_tries_the_next_ring_when_the_nearest_cannot_take_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(finish_module, "INSERTION_RING", 1)
    day = day_of(
        [need("visit", 0, 0, kind="welfare_visit")],
        [
            volunteer("near", 1, 0, skills="dbs_checked", max_tasks=0),  # no task left
            volunteer("far", 20, 0, skills="dbs_checked"),
        ],
    )
    solution = _finish_one(day, "visit")
    assert solution.served_by == {"visit": "far"}


def test_final_insertion_tries_the_nearest_day_in_seconds_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both can take it. The walker lives 200 m away (150 s at walking speed), the driver
    # 600 m (90 s by car): rings of one try the driver's day first, which is also the
    # cheapest (about 240 s of travel added against 375 s).
    monkeypatch.setattr(finish_module, "INSERTION_RING", 1)
    day = day_of(
        [need("visit", 0, 0, kind="welfare_visit")],
        [
            volunteer("a_walker", 2, 0, skills="dbs_checked"),
            volunteer("b_driver", 6, 0, skills="dbs_checked;driver", transport="car"),
        ],
    )
    assert _finish_one(day, "visit").served_by == {"visit": "b_driver"}


def test_final_insertion_gives_a_call_the_same_volunteer_whatever_the_rings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A call adds no travel: every able volunteer costs the same and the first by id takes
    # it, however far their day is and however small the rings.
    call = need("call", 0, 0, kind="befriending_call")
    day = day_of(
        [call],
        [
            volunteer("b_near", 1, 0, skills="dbs_checked"),
            volunteer("a_far", 30, 0, skills="dbs_checked"),
        ],
    )
    assert _finish_one(day, "call").served_by == {"call": "a_far"}
    monkeypatch.setattr(finish_module, "INSERTION_RING", 1)
    assert _finish_one(day, "call").served_by == {"call": "a_far"}


def test_a_large_day_is_planned_whole_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # Twelve visits across central Kingston, cut into areas of at most four from six needs up.
    monkeypatch.setattr(decompose, "DECOMPOSE_FROM", 6)
    monkeypatch.setattr(decompose, "AREA_NEEDS", 4)
    needs = [
        need(f"n{i}", 4 * (i % 4), 4 * (i // 4), kind="welfare_visit", duration=5)
        for i in range(12)
    ]
    from kst_match.geo.areas import Areas

    wards = Areas.default().locate_many([n.lon for n in needs], [n.lat for n in needs])
    needs = [
        n.model_copy(update={"ward": w.ward_code if w else None})
        for n, w in zip(needs, wards, strict=True)
    ]
    day = day_of(needs, [volunteer(f"v{k}", 4 * k, 4, skills="dbs_checked") for k in range(4)])
    by_area = make_plan(day, TRAVEL, MaxIterations(30), workers=1)
    whole = make_plan(day, TRAVEL, MaxIterations(30), workers=1, areas=False)
    assert by_area.kpis["solver"]["areas"] >= 2
    assert "areas" not in whole.kpis["solver"]
    for plan in (by_area, whole):
        assert check_plan(day, plan, TRAVEL) == []
        assert len(plan.assignments) == 12


def test_time_left_for_the_areas() -> None:
    assert decompose._left(MaxIterations(10), clock=0.0) == 1.0
    # A plan whose clock started long before: nothing of a 5 s limit is left.
    assert decompose._left(MaxRuntime(5.0), clock=-1e9) == 0.0


def test_travel_total_may_differ_by_the_rounding_of_every_leg() -> None:
    """The plan's total travel is summed over legs each rounded to 0.1 s: on a day of
    hundreds of legs it may honestly differ from the exact travel by more than its own
    rounding, and not by more than half of 0.1 s per leg."""
    from kst_match.check import check_plan as check
    from kst_match.inputs import read_day
    from kst_match.paths import DEFAULT_DAY_DIR
    from kst_match.solve.stop import FirstFeasible

    day, _ = read_day(DEFAULT_DAY_DIR)
    plan = make_plan(day, TRAVEL, FirstFeasible())
    legs = sum(len(r.stops) - 1 for r in plan.routes if any(s.need for s in r.stops))
    assert legs > 600  # so up to 0.5 min of rounding over the day
    stated = float(plan.kpis["travel_total_min"])  # type: ignore[arg-type]
    plan.kpis["travel_total_min"] = round(stated + 0.3, 1)
    assert check(day, plan, TRAVEL) == []
    plan.kpis["travel_total_min"] = round(stated + 0.05 + legs * 0.05 / 60 + 0.3, 1)
    assert {v.code for v in check(day, plan, TRAVEL)} == {"kpi_mismatch"}
