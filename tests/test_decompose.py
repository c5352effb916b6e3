"""Large days by area: the split, and a whole plan made by areas and repaired across borders."""

from __future__ import annotations

import pytest

import kst_match.solve.decompose as decompose
from kst_match.check import check_plan
from kst_match.geo.travel import RoadEstimate
from kst_match.inputs import read_day
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.plan import make_plan
from kst_match.solve.vehicles import Vehicle
from tests.test_plan import need, volunteer

TRAVEL = RoadEstimate()


def test_split_cuts_along_the_longer_side_and_sends_volunteers_to_the_nearest_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(decompose, "AREA_NEEDS", 3)
    needs = [need(f"n{i}", 2 * i, 0, kind="welfare_visit") for i in range(10)]  # west to east
    west = Vehicle.fresh(volunteer("west", 0, 1))
    east = Vehicle.fresh(volunteer("east", 18, 1))
    parts = decompose._split(needs, [west, east])
    assert all(len(p) <= 3 for p, _ in parts)
    assert sorted(n.id for p, _ in parts for n in p) == sorted(n.id for n in needs)
    for part, fleet in parts:
        ids = [n.id for n in part]
        assert ids == sorted(ids, key=lambda i: int(i[1:]))  # contiguous from west to east
        if fleet:
            (v,) = fleet
            assert ("n0" in ids) == (v.id == "west") and ("n9" in ids) == (v.id == "east")


def test_default_day_by_areas_is_valid_and_serves_nearly_as_much(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small areas so that the bundled day is cut into many, as a day ten times larger would be.
    monkeypatch.setattr(decompose, "DECOMPOSE_FROM", 100)
    monkeypatch.setattr(decompose, "AREA_NEEDS", 60)
    day, _ = read_day(DEFAULT_DAY_DIR)
    plan = make_plan(day, TRAVEL, time_limit_s=6.0)
    assert plan.kpis["solver"]["areas"] >= 6
    assert check_plan(day, plan, TRAVEL) == []
    assert len(plan.assignments) + len(plan.unserved) == len(day.needs)
    # The whole-day solve serves 388; areas with a repair across borders come close.
    assert len(plan.assignments) >= 375
