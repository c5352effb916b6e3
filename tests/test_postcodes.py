"""Postcodes in the day's files: a row may give a postcode instead of lon/lat and is placed at
its centroid; a postcode that is not one of Kingston's rejects its row; coordinates far from
their postcode's centroid get a warning that keeps the row.

Centroids below are copied by hand from ``data/geo/postcodes.csv`` (OS Code-Point Open).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kst_match.cli import app
from kst_match.geo.postcodes import NEAR_M, Postcodes, distance_m
from kst_match.inputs import check_day, read_day, read_records
from kst_match.model import Need, Plan, Site, Volunteer, normalise_postcode
from kst_match.rejections import rejected_rows
from tests.test_inputs import NEEDS, VOLUNTEERS, assert_issue, make_day, only_issue

KT1_1EU = (-0.305939, 51.40772)  # Kingston Town ward
KT6_4LJ = (-0.303189, 51.393832)  # St. Mark's & Seething Wells
KT3_4TA = (-0.252963, 51.399559)  # New Malden Village

# Needs with postcodes and no lon/lat columns at all, written as people write them.
POSTCODE_NEEDS = """id,date,resident,kind,priority,window_start,window_end,load,site,postcode
n1,2024-05-01,r1,food_parcel,urgent,09:00,12:00,2,s1,kt11eu
n2,2024-05-01,r2,prescription,high,10:00,14:00,1,s2,KT6 4LJ
n3,2024-05-01,r3,welfare_visit,normal,11:00,15:00,0,,KT3  4TA
n4,2024-05-01,r4,food_parcel,normal,09:00,13:00,1,s1, KT1 1EU
"""
NEED_HEADER = NEEDS.splitlines()[0] + ",postcode"


def need_line(need_id: str, lon: str, lat: str, postcode: str) -> str:
    """A befriending call (no site) at ``lon``/``lat`` with ``postcode``, both maybe empty."""
    call = "befriending_call,normal,13:00,15:00,0,"
    return f"{need_id},2024-05-01,r{need_id},{call},{lon},{lat},{postcode}"


def needs_file(*lines: str) -> str:
    return "\n".join([NEED_HEADER, *lines]) + "\n"


# ---------------------------------------------------------------------------------------------
# Planned end to end from postcodes alone
# ---------------------------------------------------------------------------------------------
def test_needs_of_postcodes_only_are_planned_at_their_centroids(tmp_path: Path) -> None:
    folder = make_day(tmp_path / "day", needs=POSTCODE_NEEDS)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["plan", "--data", str(folder), "--iterations", "30", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    plan = Plan.model_validate_json((out / "plan.json").read_text(encoding="utf-8"))
    assert plan.rejected == []
    assert sorted(a.need for a in plan.assignments) == ["n1", "n2", "n3", "n4"]
    places = {
        stop.need: (stop.lon, stop.lat)
        for route in plan.routes
        for stop in route.stops
        if stop.kind.value in ("deliver", "visit")
    }
    # n1 and n4 share one postcode, so one centroid: kept as they are.
    assert places == {"n1": KT1_1EU, "n2": KT6_4LJ, "n3": KT3_4TA, "n4": KT1_1EU}


def test_postcodes_are_normalised_and_rows_placed_in_their_wards(tmp_path: Path) -> None:
    day, issues = read_day(make_day(tmp_path, needs=POSTCODE_NEEDS))
    assert issues == []
    assert [n.postcode for n in day.needs] == ["KT1 1EU", "KT6 4LJ", "KT3 4TA", "KT1 1EU"]
    assert [(n.lon, n.lat) for n in day.needs] == [KT1_1EU, KT6_4LJ, KT3_4TA, KT1_1EU]
    assert [n.ward for n in day.needs] == ["E05013938", "E05013943", "E05013940", "E05013938"]


@pytest.mark.parametrize("written", ["kt11eu", "KT1 1EU", " kt1  1eu ", "Kt11Eu"])
def test_normalise_spaces_and_case(written: str) -> None:
    assert normalise_postcode(written) == "KT1 1EU"
    assert Postcodes.default().find(written) == KT1_1EU


def test_a_volunteer_home_and_a_site_by_postcode(tmp_path: Path) -> None:
    volunteers = VOLUNTEERS.replace(",lon,lat\n", ",lon,lat,postcode\n", 1)
    volunteers = volunteers.replace("-0.2560,51.4010\n", ",,KT3 4TA\n", 1)  # v1: postcode only
    sites = "id,name,kind,opens,closes,postcode\ns1,Foodbank,food_bank,09:00,17:00,kt1 1eu\n"
    sites += "s2,Surbiton pharmacy,pharmacy,08:30,18:00,KT6 4LJ\n"
    day, issues = read_day(make_day(tmp_path, volunteers=volunteers, sites=sites))
    assert issues == []
    assert (day.volunteer("v1").lon, day.volunteer("v1").lat) == KT3_4TA
    assert day.volunteer("v1").postcode == "KT3 4TA"
    assert [(s.lon, s.lat) for s in day.sites] == [KT1_1EU, KT6_4LJ]


def test_a_geojson_feature_with_no_geometry_is_at_its_postcode(tmp_path: Path) -> None:
    feature = {
        "type": "Feature",
        "geometry": None,
        "properties": {"id": "s9", "name": "Shop", "kind": "supermarket", "postcode": "KT6 4LJ"},
    }
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    sites, issues = read_records(path, Site)
    assert issues == []
    assert [(s.lon, s.lat) for s in sites] == [KT6_4LJ]


# ---------------------------------------------------------------------------------------------
# Wrong, foreign and non-existent postcodes
# ---------------------------------------------------------------------------------------------
def test_coordinates_far_from_their_postcode_warn_and_keep_the_row(tmp_path: Path) -> None:
    lon, lat = KT1_1EU
    # 0.01 degrees of latitude north of the centroid: 6,371,008.8 m x 0.01 x pi / 180 = 1,112 m.
    far = need_line("n9", str(lon), f"{lat + 0.01:.6f}", "KT1 1EU")
    report = check_day(make_day(tmp_path, needs=needs_file(far)))
    issue = only_issue(report.issues)
    assert_issue(issue, "needs.csv", 2, "postcode", "lie 1.1 km from the centre of KT1 1EU")
    assert issue.rejects is False and issue.id == "n9"
    assert [n.id for n in report.day.needs] == ["n9"]
    assert (report.day.need("n9").lon, report.day.need("n9").lat) == (lon, 51.41772)
    assert rejected_rows(report.issues) == []


@pytest.mark.parametrize(("north", "warned"), [(0.0026, False), (0.0028, True)])
def test_the_warning_starts_at_300_m(tmp_path: Path, north: float, warned: bool) -> None:
    # 0.0026 degrees of latitude is 289 m, 0.0028 is 311 m.
    lon, lat = KT1_1EU
    assert abs(distance_m(lon, lat, lon, lat + north) - north * 111_195) < 1
    line = need_line("n9", str(lon), f"{lat + north:.6f}", "KT1 1EU")
    _, issues = read_day(make_day(tmp_path, needs=needs_file(line)))
    assert [i.field for i in issues] == (["postcode"] if warned else [])
    assert NEAR_M == 300


def test_a_postcode_outside_kingston_rejects_its_row(tmp_path: Path) -> None:
    lon, lat = KT1_1EU  # Kingston coordinates, a Westminster postcode
    lines = [need_line("n8", str(lon), str(lat), "SW1A 1AA"), need_line("n9", "", "", "sw1a1aa")]
    day, issues = read_day(make_day(tmp_path, needs=needs_file(*lines)))
    assert len(issues) == 2, [str(i) for i in issues]  # no "lon: required" beside it
    for row, issue in zip((2, 3), issues, strict=True):
        assert_issue(issue, "needs.csv", row, "postcode", "'SW1A 1AA' is outside the Royal Borough")
        assert issue.rejects
    assert day.needs == ()


def test_a_postcode_that_does_not_exist_rejects_its_row(tmp_path: Path) -> None:
    lon, lat = KT1_1EU
    lines = [
        need_line("n7", str(lon), str(lat), "KT99 9ZZ"),  # no KT99 district
        need_line("n8", str(lon), str(lat), "KT2 9ZZ"),  # KT2 is Kingston's; KT2 9ZZ is not
        need_line("n9", "", "", "KT1 1ZZ"),
    ]
    day, issues = read_day(make_day(tmp_path, needs=needs_file(*lines)))
    assert [(i.row, i.field, i.rejects) for i in issues] == [
        (2, "postcode", True), (3, "postcode", True), (4, "postcode", True),
    ]  # fmt: skip
    assert "none of the borough's postcodes is in KT99" in issues[0].reason
    assert "or it does not exist" in issues[0].reason
    assert (
        "the borough has postcodes in KT2, but not this one (of 3,497 in all)" in issues[1].reason
    )
    assert "'KT1 1ZZ' is not a postcode of the Royal Borough" in issues[2].reason
    assert day.needs == ()


@pytest.mark.parametrize("written", ["KT1", "hello", "KT1 1E", "12345"])
def test_text_that_is_no_postcode_is_named(tmp_path: Path, written: str) -> None:
    line = need_line("n9", "", "", written)
    _, issues = read_day(make_day(tmp_path, needs=needs_file(line)))
    assert_issue(only_issue(issues), "needs.csv", 2, "postcode", "is not a UK postcode")


def test_no_place_at_all_says_either_will_do(tmp_path: Path) -> None:
    _, issues = read_day(make_day(tmp_path, needs=needs_file(need_line("n9", "", "", ""))))
    assert [(i.field, i.reason) for i in issues] == [
        ("lon", "required, but empty (give lon and lat, or a postcode)"),
        ("lat", "required, but empty (give lon and lat, or a postcode)"),
    ]


def test_a_file_with_neither_column_names_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "needs.csv"
    path.write_text(
        "id,date,resident,kind,window_start,window_end\n"
        "n1,2024-05-01,r1,befriending_call,13:00,15:00\n",
        encoding="utf-8",
    )
    needs, issues = read_records(path, Need)
    assert needs == []
    assert [(i.field, i.reason) for i in issues] == [
        ("lon", "a required column is missing (give lon and lat, or postcode)"),
        ("lat", "a required column is missing (give lon and lat, or postcode)"),
    ]


def test_bundled_postcodes_are_3497_and_all_found() -> None:
    postcodes = Postcodes.default()
    assert len(postcodes.centroids) == 3497
    assert postcodes.find("KT1 1EU") == KT1_1EU
    assert postcodes.find("SW1A 1AA") is None
    assert {"KT1", "KT9", "SW15", "SW20", "TW10"} <= postcodes.districts


def test_a_volunteer_postcode_is_checked_too(tmp_path: Path) -> None:
    volunteers = VOLUNTEERS.replace(",lon,lat\n", ",lon,lat,postcode\n", 1)
    volunteers = volunteers.replace("-0.2560,51.4010\n", "-0.2560,51.4010,SW1A 1AA\n", 1)
    day, issues = read_day(make_day(tmp_path, volunteers=volunteers))
    assert_issue(only_issue(issues), "volunteers.csv", 2, "postcode", "outside the Royal Borough")
    assert [v.id for v in day.volunteers] == ["v2"]
    assert isinstance(day.volunteers[0], Volunteer)
