"""Reading and validating a day's input files: every bad row reported with file, row, field and
reason; good rows kept. Rows count as in a spreadsheet: the header is row 1."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kst_match.cli import app
from kst_match.geo.areas import Areas
from kst_match.inputs import FILE, Issue, check_day, read_day, read_records, write_records
from kst_match.model import (
    Need,
    Partner,
    Plan,
    Priority,
    ServiceKind,
    Site,
    Skill,
    Transport,
    Volunteer,
)
from kst_match.rejections import rejected_rows

# Real Kingston places (lon, lat) and their 2022 wards.
KINGSTON = "-0.3064,51.4085"  # Kingston town centre: Kingston Town ward
SURBITON = "-0.3037,51.3937"  # St. Mark's & Seething Wells
NEW_MALDEN = "-0.2560,51.4010"  # New Malden Village
WESTMINSTER = "-0.1276,51.5072"  # outside the borough

SITES = f"""id,name,kind,opens,closes,lon,lat
s1,Kingston Foodbank,food_bank,09:00,17:00,{KINGSTON}
s2,Surbiton pharmacy,pharmacy,08:30,18:00,{SURBITON}
"""
PARTNERS = """id,name,services,wards,capacity,sites
p1,Kingston Foodbank,food_parcel;prescription,,food_parcel:40;prescription:20,s1;s2
p2,Kingston Voluntary Action,befriending_call;welfare_visit,E05013938;E05013940,,
"""
VOLUNTEERS = f"""\
id,name,partner,shared_with,skills,languages,transport,shift_start,shift_end,lon,lat
v1,Ada,p1,p2,dbs_checked;driver,tamil,car,09:00,13:00,{NEW_MALDEN}
v2,Ben,p2,,dbs_checked,,walk,10:00,16:00,{SURBITON}
"""
NEEDS = f"""id,date,resident,kind,priority,window_start,window_end,load,site,lon,lat
n1,2024-05-01,r1,food_parcel,urgent,09:00,12:00,2,s1,{KINGSTON}
n2,2024-05-01,r2,prescription,high,10:00,14:00,1,s2,{SURBITON}
n3,2024-05-01,r3,befriending_call,normal,13:00,15:00,0,,{NEW_MALDEN}
"""


def make_day(folder: Path, **files: str | bytes) -> Path:
    """A clean day in ``folder``; ``needs=...`` etc. replace a file's text (or bytes)."""
    texts: dict[str, str | bytes] = {
        "needs.csv": NEEDS,
        "volunteers.csv": VOLUNTEERS,
        "partners.csv": PARTNERS,
        "sites.csv": SITES,
    }
    texts.update({f"{stem}.csv": text for stem, text in files.items()})
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        if isinstance(text, bytes):
            (folder / name).write_bytes(text)
        else:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def replace_line(text: str, row: int, new: str) -> str:
    """``text`` with spreadsheet row ``row`` (header = 1) replaced by ``new``."""
    lines = text.splitlines()
    lines[row - 1] = new
    return "\n".join(lines) + "\n"


def only_issue(issues: list[Issue]) -> Issue:
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def assert_issue(issue: Issue, file: str, row: int, field: str, reason: str) -> None:
    assert (issue.file, issue.row, issue.field) == (file, row, field), str(issue)
    assert reason in issue.reason, str(issue)


# ---------------------------------------------------------------------------------------------
# A clean day
# ---------------------------------------------------------------------------------------------
def test_clean_day_is_read_whole_with_wards(tmp_path: Path) -> None:
    day, issues = read_day(make_day(tmp_path))
    assert issues == []
    assert day.date == dt.date(2024, 5, 1)
    assert [n.id for n in day.needs] == ["n1", "n2", "n3"]
    assert [n.ward for n in day.needs] == ["E05013938", "E05013943", "E05013940"]
    assert day.need("n1").priority is Priority.urgent
    assert day.need("n1").window_start == 9 * 60
    assert day.need("n2").site == "s2"
    assert day.volunteer("v1").skills == {Skill.dbs_checked, Skill.driver}
    assert day.volunteer("v1").shared_with == {"p2"}
    assert day.volunteer("v1").transport is Transport.car
    assert day.partner("p1").capacity == {ServiceKind.food_parcel: 40, ServiceKind.prescription: 20}
    assert day.partner("p2").wards == {"E05013938", "E05013940"}
    assert day.site("s2").opens == 8 * 60 + 30


# ---------------------------------------------------------------------------------------------
# One test per bad input
# ---------------------------------------------------------------------------------------------
def test_location_outside_the_borough(tmp_path: Path) -> None:
    needs = replace_line(
        NEEDS, 3, f"n2,2024-05-01,r2,prescription,high,10:00,14:00,1,s2,{WESTMINSTER}"
    )
    day, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 3, "lon/lat", "outside the Royal Borough of Kingston")
    assert issue.value == "-0.1276, 51.5072"
    assert [n.id for n in day.needs] == ["n1", "n3"]


def test_volunteer_home_outside_the_borough(tmp_path: Path) -> None:
    volunteers = replace_line(
        VOLUNTEERS, 2, f"v1,Ada,p1,,dbs_checked,,car,09:00,13:00,{WESTMINSTER}"
    )
    day, issues = read_day(make_day(tmp_path, volunteers=volunteers))
    assert_issue(only_issue(issues), "volunteers.csv", 2, "lon/lat", "the home is outside")
    assert [v.id for v in day.volunteers] == ["v2"]


def test_location_not_a_number(tmp_path: Path) -> None:
    needs = replace_line(
        NEEDS, 2, "n1,2024-05-01,r1,food_parcel,urgent,09:00,12:00,2,s1,abc,51.4085"
    )
    day, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 2, "lon", "'abc' is not a number")
    assert str(issue) == "needs.csv row 2, lon: 'abc' is not a number"
    assert [n.id for n in day.needs] == ["n2", "n3"]


def test_unknown_service_kind(tmp_path: Path) -> None:
    needs = replace_line(NEEDS, 2, f"n1,2024-05-01,r1,food,urgent,09:00,12:00,2,s1,{KINGSTON}")
    _, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 2, "kind", "unknown service kind 'food'")
    assert "food_parcel" in issue.reason  # the allowed kinds are listed


def test_unknown_skill(tmp_path: Path) -> None:
    volunteers = replace_line(
        VOLUNTEERS, 3, f"v2,Ben,p2,,dbs_checked;driving,,walk,10:00,16:00,{SURBITON}"
    )
    day, issues = read_day(make_day(tmp_path, volunteers=volunteers))
    issue = only_issue(issues)
    assert_issue(issue, "volunteers.csv", 3, "skills", "unknown skill 'driving'")
    assert issue.value == "dbs_checked;driving"
    assert [v.id for v in day.volunteers] == ["v1"]


def test_window_ends_before_it_starts(tmp_path: Path) -> None:
    needs = replace_line(NEEDS, 4, f"n3,2024-05-01,r3,befriending_call,,13:00,08:00,0,,{KINGSTON}")
    _, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 4, "window_end", "the time window ends before it starts")
    assert str(issue) == (
        "needs.csv row 4, window_end: the time window ends before it starts (got '08:00')"
    )


def test_window_outside_the_day(tmp_path: Path) -> None:
    needs = replace_line(NEEDS, 4, f"n3,2024-05-01,r3,befriending_call,,13:00,25:00,0,,{KINGSTON}")
    _, issues = read_day(make_day(tmp_path, needs=needs))
    assert_issue(only_issue(issues), "needs.csv", 4, "window_end", "'25:00' falls outside the day")


def test_negative_load(tmp_path: Path) -> None:
    needs = replace_line(
        NEEDS, 2, f"n1,2024-05-01,r1,food_parcel,urgent,09:00,12:00,-2,s1,{KINGSTON}"
    )
    _, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 2, "load", "must not be negative")
    assert issue.value == "-2"


def test_negative_partner_capacity(tmp_path: Path) -> None:
    partners = replace_line(
        PARTNERS, 2, "p1,Kingston Foodbank,food_parcel;prescription,,food_parcel:-5,s1;s2"
    )
    day, issues = read_day(make_day(tmp_path, partners=partners))
    # The partner is dropped, and so is its volunteer, whose partner is now unknown.
    assert_issue(issues[0], "volunteers.csv", 2, "partner", "partner 'p1' was rejected")
    assert "partners.csv row 2" in issues[0].reason
    assert_issue(issues[1], "partners.csv", 2, "capacity", "food_parcel: must not be negative")
    assert len(issues) == 2
    assert [p.id for p in day.partners] == ["p2"]


def test_negative_volunteer_capacity(tmp_path: Path) -> None:
    volunteers = (
        "id,partner,capacity,shift_start,shift_end,lon,lat\n"
        f"v1,p1,-1,09:00,13:00,{NEW_MALDEN}\n"
        f"v2,p2,3,10:00,16:00,{SURBITON}\n"
    )
    day, issues = read_day(make_day(tmp_path, volunteers=volunteers))
    assert_issue(only_issue(issues), "volunteers.csv", 2, "capacity", "must not be negative")
    assert [v.capacity for v in day.volunteers] == [3]


def test_duplicate_id(tmp_path: Path) -> None:
    needs = replace_line(NEEDS, 4, f"n1,2024-05-01,r3,befriending_call,,13:00,15:00,0,,{KINGSTON}")
    day, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 4, "id", "duplicate id (first on row 2)")
    assert issue.value == "n1"
    assert [(n.id, n.resident) for n in day.needs] == [("n1", "r1"), ("n2", "r2")]


def test_need_whose_site_does_not_exist(tmp_path: Path) -> None:
    needs = replace_line(
        NEEDS, 3, f"n2,2024-05-01,r2,prescription,high,10:00,14:00,1,s9,{SURBITON}"
    )
    day, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 3, "site", "unknown site 's9' (not in sites.csv)")
    assert [n.id for n in day.needs] == ["n1", "n3"]


def test_volunteer_whose_partner_does_not_exist(tmp_path: Path) -> None:
    volunteers = replace_line(VOLUNTEERS, 3, f"v2,Ben,p9,,dbs_checked,,walk,10:00,16:00,{SURBITON}")
    day, issues = read_day(make_day(tmp_path, volunteers=volunteers))
    assert_issue(only_issue(issues), "volunteers.csv", 3, "partner", "unknown partner 'p9'")
    assert [v.id for v in day.volunteers] == ["v1"]


def test_partner_with_unknown_ward_code(tmp_path: Path) -> None:
    partners = replace_line(PARTNERS, 3, "p2,KVA,befriending_call,E05013938;E05999999,,")
    _, issues = read_day(make_day(tmp_path, partners=partners))
    assert_issue(issues[-1], "partners.csv", 3, "wards", "unknown ward code 'E05999999'")


def test_missing_required_column(tmp_path: Path) -> None:
    needs = "\n".join(",".join(line.split(",")[:-1]) for line in NEEDS.splitlines()) + "\n"
    assert needs.startswith(
        "id,date,resident,kind,priority,window_start,window_end,load,site,lon\n"
    )
    day, issues = read_day(make_day(tmp_path, needs=needs))
    assert_issue(only_issue(issues), "needs.csv", 1, "lat", "a required column is missing")
    assert day.needs == ()


def test_unknown_column_is_reported_on_the_header_and_rows_are_kept(tmp_path: Path) -> None:
    sites = SITES.replace("lon,lat\n", "lon,lat,colour\n", 1)
    day, issues = read_day(make_day(tmp_path, sites=sites))
    assert_issue(only_issue(issues), "sites.csv", 1, "colour", "unknown column")
    assert [s.id for s in day.sites] == ["s1", "s2"]


def test_empty_file(tmp_path: Path) -> None:
    day, issues = read_day(make_day(tmp_path, volunteers=""))
    assert_issue(only_issue(issues), "volunteers.csv", 1, FILE, "the file is empty")
    assert day.volunteers == ()
    assert len(day.needs) == 3


def test_header_only_file(tmp_path: Path) -> None:
    header = NEEDS.splitlines()[0] + "\n"
    _, issues = read_day(make_day(tmp_path, needs=header))
    assert_issue(only_issue(issues), "needs.csv", 2, FILE, "no data rows")


def test_file_not_utf8(tmp_path: Path) -> None:
    needs = NEEDS.replace("n2,2024-05-01,r2,", "n2,2024-05-01,Zoë,", 1).encode("latin-1")
    offset = needs.index(b"\xeb")
    day, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 3, "resident", "not UTF-8 text")
    assert f"byte 0xeb at byte offset {offset}" in issue.reason
    assert issue.value == "Zo\ufffd"  # the undecodable byte, shown as a replacement character
    assert [n.id for n in day.needs] == ["n1", "n3"]  # the other rows are kept


def test_several_dates_need_a_date(tmp_path: Path) -> None:
    needs = NEEDS.replace("n3,2024-05-01", "n3,2024-05-02")
    day, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 4, "date", "pass --date")
    assert [n.id for n in day.needs] == ["n1", "n2"]
    day, issues = read_day(tmp_path, date=dt.date(2024, 5, 2))  # other dates are no error
    assert issues == []
    assert (day.date, [n.id for n in day.needs]) == (dt.date(2024, 5, 2), ["n3"])


# ---------------------------------------------------------------------------------------------
# Good rows survive bad ones; round trips; GeoJSON
# ---------------------------------------------------------------------------------------------
def test_good_rows_survive_next_to_bad_ones(tmp_path: Path) -> None:
    needs = NEEDS + (
        f"n4,2024-05-01,r4,shopping,,09:00,12:00,1,s1,{WESTMINSTER}\n"  # outside
        f"n5,2024-05-01,r5,welfare_visit,,11:00,12:00,0,,{NEW_MALDEN}\n"  # good
        f"n6,2024-05-01,r6,welfare_visit,soon,11:00,10:00,0,,{NEW_MALDEN}\n"  # two problems
        f"n7,2024-05-01,r7,food_parcel,,09:00,12:00,1,,{KINGSTON}\n"  # delivery with no site
        "\n"  # a blank row is skipped, not an error
        f"n8,2024-05-01,r8,shopping,,09:00,12:00,1,s2,{SURBITON}\n"  # good
    )
    day, issues = read_day(make_day(tmp_path, needs=needs))
    assert [n.id for n in day.needs] == ["n1", "n2", "n3", "n5", "n8"]
    assert [(i.row, i.field) for i in issues] == [
        (5, "lon/lat"),
        (7, "priority"),
        (8, "site"),
    ]
    assert "unknown priority 'soon'" in issues[1].reason
    assert "a food_parcel delivery needs a collection site" in issues[2].reason
    report = check_day(tmp_path)
    needs_summary = report.files[0]
    assert (needs_summary.rows, needs_summary.kept, needs_summary.rejected) == (8, 5, 3)


def test_write_then_read_is_exact_for_every_model(tmp_path: Path) -> None:
    need = Need(
        id="n1", date=dt.date(2024, 5, 1), resident="r1", kind=ServiceKind.prescription,
        priority=Priority.high, window_start=9 * 60, window_end=24 * 60, duration=15, load=2,
        skills=frozenset({Skill.dbs_checked, Skill.driver}), language="tamil",
        language_required=True, previous_volunteer="v7", site="s1", postcode="KT1 1EU",
        access_notes="ring twice, side door; dog", lon=-0.306412, lat=51.408531,
        name="Ada Quillfeather", address="12 Brindlemere Road, flat 2", phone="07700 900123",
    )  # fmt: skip
    bare = Need(
        id="n2", date=dt.date(2024, 5, 1), resident="r2", kind=ServiceKind.befriending_call,
        window_start=0, window_end=30, lon=-0.25, lat=51.4,
    )  # fmt: skip
    volunteer = Volunteer(
        id="v1", name="Ada, Lovelace", partner="p1", shared_with=frozenset({"p2", "p3"}),
        skills=frozenset(Skill), languages=frozenset({"korean", "urdu"}),
        transport=Transport.cycle, capacity=4, shift_start=8 * 60 + 15, shift_end=17 * 60,
        max_tasks=5, max_travel=90, lon=-0.30, lat=51.39, phone="+44 (0)7700 900-456",
    )  # fmt: skip
    partner = Partner(
        id="p1", name="Kingston Foodbank", services=frozenset(ServiceKind),
        wards=frozenset({"E05013938"}), capacity={ServiceKind.food_parcel: 40}, sites={"s1"},
    )  # fmt: skip
    open_all_day = Partner(id="p2", name="Council hub", services={ServiceKind.shopping})
    site = Site(
        id="s1", name="Foodbank", kind="food_bank", postcode="KT1 2AB", opens=9 * 60,
        closes=17 * 60 + 30, address_assumed=True, lon=-0.3058, lat=51.40565,
    )  # fmt: skip
    for model, records in (
        (Need, [need, bare]),
        (Volunteer, [volunteer]),
        (Partner, [partner, open_all_day]),
        (Site, [site, Site(id="s2", name="Shop", kind="supermarket", lon=-0.3, lat=51.4)]),
    ):
        path = tmp_path / f"{model.__name__}.csv"
        write_records(path, records, model)
        read, issues = read_records(path, model)
        assert issues == []
        assert read == records


def test_geojson_features_are_read_with_coordinates(tmp_path: Path) -> None:
    make_day(tmp_path)
    (tmp_path / "needs.csv").unlink()
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-0.3064, 51.4085]},
        "properties": {
            "id": "g1", "date": "2024-05-01", "resident": "r1", "kind": "shopping",
            "window_start": "09:00", "window_end": "11:00", "load": 1, "site": "s1",
        },
    }  # fmt: skip
    bad = json.loads(json.dumps(feature))
    bad["properties"].update(id="g2", kind="gardening")
    document = {"type": "FeatureCollection", "features": [feature, bad]}
    (tmp_path / "needs.geojson").write_text(json.dumps(document), encoding="utf-8")
    day, issues = read_day(tmp_path)
    issue = only_issue(issues)
    assert_issue(issue, "needs.geojson", 2, "kind", "unknown service kind 'gardening'")
    assert str(issue).startswith("needs.geojson feature 2, kind:")
    assert [(n.id, n.lon, n.lat, n.ward) for n in day.needs] == [
        ("g1", -0.3064, 51.4085, "E05013938")
    ]


def test_partners_and_sites_default_to_the_bundled_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = make_day(tmp_path / "bundled")
    monkeypatch.setattr("kst_match.paths.DATA_DIR", bundled)
    folder = tmp_path / "day"
    folder.mkdir()
    (folder / "needs.csv").write_text(NEEDS, encoding="utf-8")
    day, issues = read_day(folder)
    # No volunteers file: an issue for the file; partners and sites come from the bundled data.
    assert_issue(only_issue(issues), "volunteers.csv", 0, FILE, "not found in")
    assert [p.id for p in day.partners] == ["p1", "p2"]
    assert [n.id for n in day.needs] == ["n1", "n2", "n3"]
    (bundled / "sites.csv").write_text(SITES.replace("s2,", "s3,"), encoding="utf-8")
    (folder / "volunteers.csv").write_text(VOLUNTEERS, encoding="utf-8")
    _, issues = read_day(folder)
    assert_issue(
        issues[0], "needs.csv", 3, "site", "unknown site 's2' (not in sites.csv (bundled))"
    )
    # The partner whose site is gone is dropped, and so is its volunteer.
    assert_issue(issues[1], "volunteers.csv", 2, "partner", "partner 'p1' was rejected")
    assert_issue(issues[2], "partners.csv (bundled)", 2, "sites", "unknown site 's2'")
    assert len(issues) == 3


def test_explicit_areas_are_used(tmp_path: Path) -> None:
    _, issues = read_day(make_day(tmp_path), areas=Areas.default())
    assert issues == []


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_data_check_exits_1_and_lists_the_bad_row(tmp_path: Path, runner: CliRunner) -> None:
    needs = replace_line(
        NEEDS, 3, f"n2,2024-05-01,r2,prescription,high,10:00,14:00,-1,s2,{SURBITON}"
    )
    make_day(tmp_path, needs=needs)
    result = runner.invoke(app, ["data", "check", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if "must not be negative" in line]
    assert len(lines) == 1
    assert "needs.csv" in lines[0]
    assert " 3 " in lines[0]
    assert "load" in lines[0]
    assert "1 issue(s)" in result.output


def test_data_check_exits_0_on_a_clean_folder(tmp_path: Path, runner: CliRunner) -> None:
    make_day(tmp_path)
    result = runner.invoke(
        app, ["data", "check", str(tmp_path), "--date", "2024-05-01"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "No issues." in result.output
    summary = [line for line in result.output.splitlines() if "needs.csv" in line]
    cells = [cell.strip() for cell in summary[0].split("│") if cell.strip()]
    assert cells == ["needs.csv", "3", "3", "0"]  # rows read, kept, rejected


# ---------------------------------------------------------------------------------------------
# Files as spreadsheets write them
# ---------------------------------------------------------------------------------------------
def test_uk_dates_are_read_day_first(tmp_path: Path) -> None:
    needs = NEEDS.replace("2024-05-01", "01/05/2024", 2)  # n1, n2 UK; n3 ISO
    day, issues = read_day(make_day(tmp_path, needs=needs))
    assert issues == []
    assert day.date == dt.date(2024, 5, 1)  # 1 May, not 5 January
    assert len(day.needs) == 3


def test_a_date_month_first_is_refused_with_the_way_to_write_it(tmp_path: Path) -> None:
    needs = NEEDS.replace("2024-05-01", "05/13/2024", 1)
    _, issues = read_day(make_day(tmp_path, needs=needs))
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 2, "date", "'05/13/2024' reads month first")
    assert "DD/MM/YYYY, such as 25/11/2026" in issue.reason


def test_a_month_first_file_that_reads_day_first_gets_one_hint(tmp_path: Path) -> None:
    needs = NEEDS.replace("2024-05-01", "05/01/2024")  # meant as 1 May, read as 5 January
    report = check_day(make_day(tmp_path, needs=needs), dt.date(2024, 5, 1))
    issue = only_issue(report.issues)
    assert_issue(issue, "needs.csv", 0, "date", "no needs on 2024-05-01 (the file has needs on"
                 " 2024-01-05); dates written with / are read day first (DD/MM/YYYY)")  # fmt: skip
    assert report.day.needs == ()


def test_400_identical_date_errors_print_as_one_line(tmp_path: Path) -> None:
    bad = NEEDS.splitlines()[3].replace("2024-05-01", "11/25/2026")
    rows = [bad.replace("n3,", f"x{i},", 1) for i in range(400)]
    needs = "\n".join([*NEEDS.splitlines(), *rows]) + "\n"  # rows 5 to 404 bad
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["plan", "--data", str(make_day(tmp_path / "day", needs=needs)), "--iterations", "30",
         "--out", str(out)],
        env={"COLUMNS": "300"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "11/25/2026" in line]
    assert lines == [
        "skipped needs.csv rows 5 to 404, date: '11/25/2026' reads month first; dates are read"
        " day first (DD/MM/YYYY, such as 25/11/2026) or as YYYY-MM-DD"
    ]
    assert len(Plan.model_validate_json((out / "plan.json").read_text()).rejected) == 400


def test_data_check_groups_identical_issues_in_one_table_row(tmp_path: Path) -> None:
    rows = [f"x{i},2024-05-01,r1,befriending_call,normal,13:00,15:00,0,,{NEW_MALDEN}" for i in
            range(6)]  # fmt: skip
    rows[3] = rows[3].replace("normal", "soon")  # row 5 differs
    needs = "\n".join([NEEDS.splitlines()[0], *[r.replace("normal", "later") for r in rows]])
    result = CliRunner().invoke(
        app, ["data", "check", str(make_day(tmp_path, needs=needs + "\n"))], terminal_width=200
    )
    assert result.exit_code == 1
    assert "6 issue(s) on 2 line(s)" in result.output
    later = [line for line in result.output.splitlines() if "'later'" in line]
    assert len(later) == 1 and " 2 to 4 and 6 to 7 " in later[0], later


def test_a_semicolon_file_is_read_with_one_warning(tmp_path: Path) -> None:
    volunteers = io.StringIO()
    csv.writer(volunteers, delimiter=";").writerows(csv.reader(io.StringIO(VOLUNTEERS)))
    needs = NEEDS.replace(",", ";")
    report = check_day(make_day(tmp_path, needs=needs, volunteers=volunteers.getvalue()))
    assert [(i.file, i.row, i.field, i.rejects) for i in report.issues] == [
        ("needs.csv", 1, FILE, False), ("volunteers.csv", 1, FILE, False),
    ]  # fmt: skip
    assert "separated by semicolons, not commas" in report.issues[0].reason
    assert [n.id for n in report.day.needs] == ["n1", "n2", "n3"]
    # A list in a quoted cell keeps its own semicolons.
    assert report.day.volunteer("v1").skills == {Skill.dbs_checked, Skill.driver}
    assert rejected_rows(report.issues) == []


def test_a_tab_file_is_read_with_one_warning(tmp_path: Path) -> None:
    day, issues = read_day(make_day(tmp_path, needs=NEEDS.replace(",", "\t")))
    assert_issue(only_issue(issues), "needs.csv", 1, FILE, "separated by tabs, not commas")
    assert day.need("n2").window_start == 10 * 60


def test_a_comma_file_with_semicolon_lists_is_not_taken_for_semicolons(tmp_path: Path) -> None:
    volunteers = VOLUNTEERS.replace(
        "dbs_checked;driver,tamil", "dbs_checked;driver;advice_trained,tamil"
    )
    day, issues = read_day(make_day(tmp_path, volunteers=volunteers))
    assert issues == []
    assert day.volunteer("v1").skills == {Skill.dbs_checked, Skill.driver, Skill.advice_trained}


def test_times_with_seconds(tmp_path: Path) -> None:
    needs = NEEDS.replace("09:00,12:00", "09:00:00,12:00:00", 1)
    needs = needs.replace("10:00,14:00", "10:00:30,14:00", 1)
    day, issues = read_day(make_day(tmp_path, needs=needs))
    assert (day.need("n1").window_start, day.need("n1").window_end) == (9 * 60, 12 * 60)
    assert_issue(only_issue(issues), "needs.csv", 3, "window_start", "'10:00:30' has seconds")


def test_an_unknown_column_is_one_warning_and_rejects_no_row(tmp_path: Path) -> None:
    needs = NEEDS.replace("lon,lat\n", "lon,lat,mobile\n", 1)
    needs = needs.replace(f"{KINGSTON}\n", f"{KINGSTON},07700 900001\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["plan", "--data", str(make_day(tmp_path / "day", needs=needs)), "--iterations", "30",
         "--out", str(out)],
        env={"COLUMNS": "300"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    mentions = [line for line in result.output.splitlines() if "mobile" in line]
    assert len(mentions) == 1, mentions
    assert mentions[0].startswith("warning needs.csv row 1, mobile: unknown column, its cells")
    assert "skipped" not in result.output
    plan = Plan.model_validate_json((out / "plan.json").read_text(encoding="utf-8"))
    assert plan.rejected == [] and plan.kpis["needs_rejected"] == 0


# ---------------------------------------------------------------------------------------------
# Contacts
# ---------------------------------------------------------------------------------------------
def test_contacts_are_read(tmp_path: Path) -> None:
    needs = NEEDS.replace("lon,lat\n", "lon,lat,name,address,phone\n", 1)
    needs = needs.replace(f"{KINGSTON}\n", f'{KINGSTON},Ada Quillfeather,"4 Larkmoor Road, flat 2",'
                          "+44 (0)7700 900-001\n")  # fmt: skip
    volunteers = VOLUNTEERS.replace(",lon,lat\n", ",lon,lat,phone\n", 1)
    volunteers = volunteers.replace(f"{SURBITON}\n", f"{SURBITON},07700 900002\n")
    day, issues = read_day(make_day(tmp_path, needs=needs, volunteers=volunteers))
    assert issues == []
    n1 = day.need("n1")
    assert (n1.name, n1.address, n1.phone) == (
        "Ada Quillfeather", "4 Larkmoor Road, flat 2", "+44 (0)7700 900-001",
    )  # fmt: skip
    assert (day.need("n2").name, day.need("n2").phone) == ("", "")
    assert (day.volunteer("v2").phone, day.volunteer("v1").phone) == ("07700 900002", "")


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("call me", "use digits, spaces, hyphens, parentheses and a leading +"),
        ("07700+900001", "use digits, spaces, hyphens, parentheses and a leading +"),
        ("12345", "it has 5 digits, a number has 6 to 20"),
        ("0" * 21, "it has 21 digits"),
    ],
)
def test_a_bad_phone_number_is_named(tmp_path: Path, phone: str, reason: str) -> None:
    needs = NEEDS.replace("lon,lat\n", "lon,lat,phone\n", 1).replace(
        f"{KINGSTON}\n", f"{KINGSTON},{phone}\n"
    )
    day, issues = read_day(make_day(tmp_path, needs=needs))
    assert_issue(only_issue(issues), "needs.csv", 2, "phone", reason)
    assert [n.id for n in day.needs] == ["n2", "n3"]


def test_contact_lengths_are_bounded(tmp_path: Path) -> None:
    needs = NEEDS.replace("lon,lat\n", "lon,lat,name,address\n", 1)
    needs = needs.replace(f"{KINGSTON}\n", f"{KINGSTON},{'x' * 201},ok\n")
    needs = needs.replace(f"{SURBITON}\n", f"{SURBITON},ok,{'y' * 301}\n")
    _, issues = read_day(make_day(tmp_path, needs=needs))
    assert [(i.row, i.field, i.reason) for i in issues] == [
        (2, "name", "is longer than 200 characters"),
        (3, "address", "is longer than 300 characters"),
    ]


# ---------------------------------------------------------------------------------------------
# Help
# ---------------------------------------------------------------------------------------------
COMMANDS = [[], ["plan"], ["replan"], ["data"], ["data", "generate"], ["data", "check"],
            ["network"], ["network", "fetch"], ["network", "info"]]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_labels_no_flag_with_a_value(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help  " in result.output  # the flag, then its text: no value


def test_plan_help_names_what_each_option_takes() -> None:
    result = CliRunner().invoke(app, ["plan", "--help"], terminal_width=200)
    options = {
        line.split()[0]: line.split()[1]
        for line in result.output.splitlines()
        if line.strip().startswith("--")
    }
    assert options == {
        "--data": "<path>", "--date": "DATE", "--time-limit": "<float>",
        "--iterations": "<int", "--onboard-limit": "<int", "--handling-s": "<float",
        "--per-item-s": "<float", "--out": "<path>",
        "--network": "<path>", "--hub-name": "<str>", "--hub-phone": "<str>",
        "--pdf": "Also", "--equity": "When", "--help": "Show",
    }  # fmt: skip


def test_network_fetch_default_is_the_readme_path() -> None:
    result = CliRunner().invoke(app, ["network", "fetch", "--help"], terminal_width=200)
    assert "[default: data/kingston.graphml]" in result.output
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "kst-match network fetch --out data/kingston.graphml" in readme
    assert "kingston_drive" not in readme
