"""Large days by area: the split, and a whole plan made by areas and repaired across borders."""

from __future__ import annotations

import pytest

import kst_match.solve.decompose as decompose
from kst_match.check import check_plan
from kst_match.geo.travel import RoadEstimate
from kst_match.inputs import read_day
from kst_match.model import Day, Reason
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.plan import make_plan
from kst_match.solve.day import solve_day
from kst_match.solve.places import Places
from kst_match.solve.schedule import TimeRules
from kst_match.solve.stop import MaxIterations, MaxRuntime
from kst_match.solve.vehicles import Vehicle, fresh_vehicles
from kst_match.triage import triage
from tests.test_plan import DATE, FOODBANK, HUB, PHARMACY, need, volunteer

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
    plan = make_plan(day, TRAVEL, MaxRuntime(1.0))
    assert plan.kpis["solver"]["areas"] >= 6
    assert check_plan(day, plan, TRAVEL) == []
    assert len(plan.assignments) + len(plan.unserved) == len(day.needs)
    # The whole-day solve serves 398 (the other 2 no one can serve); areas with a repair across
    # borders come close, even when a busy machine leaves the areas little more than their
    # first solutions.
    assert len(plan.assignments) >= 390


def test_repair_moves_a_scarce_volunteers_work_to_make_room() -> None:
    parcels = [
        need(
            n, 1, 3, kind="food_parcel", site="fb", load=1, window_start="09:30", window_end="12:00"
        )
        for n in ("p1", "p2")
    ]
    check = need("check", 2, 2, kind="wellbeing_check", window_start="10:00", window_end="12:00")
    day = Day(
        date=DATE,
        needs=(*parcels, check),
        volunteers=(
            volunteer("scarce", 0, 1, skills="dbs_checked;wellbeing_trained", max_tasks=2),
            volunteer("other", 6, 6, capacity=2),
        ),
        partners=(HUB,),
        sites=(FOODBANK, PHARMACY),
    )
    vehicles = fresh_vehicles(day)
    tri = triage(day)
    places = Places.of(TRAVEL, day, day.needs, vehicles)
    # A day planned as if the check had come last: the nearest volunteer took both parcels.
    rule = MaxIterations(100)
    first = solve_day(day, vehicles, places, rule, exclude={"check": Reason.crowded_out}, tri=tri)
    assert first.served_by == {"p1": "scarce", "p2": "scarce"}

    repaired = decompose._repair(day, vehicles, TRAVEL, first, tri, rule, 0.0, None, TimeRules())
    assert repaired.served_by["check"] == "scarce"
    assert set(repaired.served_by) == {"p1", "p2", "check"}
    assert repaired.unserved == {}


def test_areas_side_by_side_on_a_street_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Areas are solved in two worker processes with the street network's travel computed in
    this one (the worker receives matrices, not the network): the plan holds on the network's
    own travel times."""
    from pathlib import Path

    from kst_match.geo.areas import Areas
    from kst_match.geo.network import StreetNetwork

    network = StreetNetwork.load(Path(__file__).parent / "data" / "mini.osm", workers=1)
    monkeypatch.setattr(decompose, "DECOMPOSE_FROM", 6)
    monkeypatch.setattr(decompose, "AREA_NEEDS", 4)
    # The grid spans about 600 m x 300 m from (-0.3050, 51.3927) east and south.
    points = [(-0.3048 + 0.0005 * (i % 6), 51.3925 - 0.0004 * (i // 6)) for i in range(12)]
    wards = Areas.default().locate_many([p[0] for p in points], [p[1] for p in points])
    needs = [
        need(f"n{i}", 0, 0, kind="welfare_visit", duration=5).model_copy(
            update={"lon": lon, "lat": lat, "ward": w.ward_code if w else None}
        )
        for i, ((lon, lat), w) in enumerate(zip(points, wards, strict=True))
    ]
    vols = [
        volunteer(f"v{i}", 0, 0, skills="dbs_checked").model_copy(
            update={"lon": -0.3049 + 0.0009 * i, "lat": 51.3920}
        )
        for i in range(3)
    ]
    day = Day(
        date=DATE,
        needs=tuple(needs),
        volunteers=tuple(vols),
        partners=(HUB,),
        sites=(FOODBANK.model_copy(update={"lon": -0.3030, "lat": 51.3920}),),
    )
    plan = make_plan(day, network, MaxIterations(50), workers=2)
    assert plan.kpis["solver"]["areas"] >= 2
    assert plan.travel_model == network.name
    assert check_plan(day, plan, network) == []
    assert len(plan.assignments) == 12
