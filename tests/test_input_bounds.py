"""Bounds on input and rejected rows carried into the plan.

Every bound of the README's "Input files" table is exceeded once here, and each time the result
is an issue naming the file, the row and the field, never a traceback; and every rejected need
is listed in the plan, so the KPIs count as many needs as the file has rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from kst_match import inputs
from kst_match.cli import app
from kst_match.dataset.generate import generate_day, write_day
from kst_match.inputs import FILE, ROW, Issue, check_day, print_issues, read_day, read_records
from kst_match.model import Assignment, Need, Partner, Plan, Volunteer
from kst_match.outputs.kpis import render_markdown
from kst_match.rejections import attach_rejected
from tests.test_inputs import (
    KINGSTON,
    NEEDS,
    PARTNERS,
    VOLUNTEERS,
    assert_issue,
    make_day,
    only_issue,
    replace_line,
)

runner = CliRunner()

NEED_HEADER = NEEDS.splitlines()[0] + ",duration,access_notes"
VOLUNTEER_HEADER = VOLUNTEERS.splitlines()[0]


def need_row(need_id: str, **cells: str) -> str:
    """A good befriending call as a needs.csv row (NEEDS' columns), with ``cells`` replaced."""
    values = dict.fromkeys(NEED_HEADER.split(","), "")
    values.update(
        id=need_id, date="2024-05-01", resident=f"r-{need_id}", kind="befriending_call",
        priority="normal", window_start="09:00", window_end="12:00", load="0",
        lon=KINGSTON.split(",")[0], lat=KINGSTON.split(",")[1], duration="10",
    )  # fmt: skip
    assert set(cells) <= set(values), cells
    values.update(cells)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values.values())
    return out.getvalue().removesuffix("\n")


def needs_file(*rows: str, header: str = NEED_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


# ---------------------------------------------------------------------------------------------
# Numbers within documented ranges
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("capacity", "99999999999999999999999", "must be at most 10000"),
        ("capacity", "10001", "must be at most 10000"),
        ("max_tasks", "1001", "must be at most 1000"),
        ("max_travel", "1441", "must be at most 1440"),
        ("max_travel", "-1", "must not be negative"),
    ],
)
def test_volunteer_numbers_out_of_range_are_rejected(
    tmp_path: Path, column: str, value: str, reason: str
) -> None:
    header = VOLUNTEER_HEADER + f",{column}"
    lines = VOLUNTEERS.splitlines()
    text = "\n".join([header, lines[1] + f",{value}", lines[2] + ",1"]) + "\n"
    volunteers, issues = read_records(make_day(tmp_path, volunteers=text) / "volunteers.csv",
                                      Volunteer)  # fmt: skip
    assert [v.id for v in volunteers] == ["v2"]
    assert_issue(only_issue(issues), "volunteers.csv", 2, column, reason)
    assert only_issue(issues).id == "v1"


def test_bounds_are_inclusive(tmp_path: Path) -> None:
    header = VOLUNTEER_HEADER + ",capacity,max_tasks,max_travel"
    text = "\n".join([header, VOLUNTEERS.splitlines()[1] + ",10000,1000,1440"]) + "\n"
    volunteers, issues = read_records(make_day(tmp_path, volunteers=text) / "volunteers.csv",
                                      Volunteer)  # fmt: skip
    assert issues == []
    assert (volunteers[0].capacity, volunteers[0].max_tasks, volunteers[0].max_travel) == (
        10000, 1000, 1440,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("cells", "field", "reason"),
    [
        ({"duration": "1441"}, "duration", "must be at most 1440"),
        ({"load": "10001"}, "load", "must be at most 10000"),
        ({"load": "1e400"}, "load", "is not a whole number"),
        ({"duration": "nan"}, "duration", "is not a whole number"),
    ],
)
def test_need_numbers_out_of_range_are_rejected(
    tmp_path: Path, cells: dict[str, str], field: str, reason: str
) -> None:
    text = needs_file(need_row("n1", **cells), need_row("n2"))
    needs, issues = read_records(make_day(tmp_path, needs=text) / "needs.csv", Need)
    assert [n.id for n in needs] == ["n2"]
    assert_issue(only_issue(issues), "needs.csv", 2, field, reason)


def test_partner_capacity_out_of_range_is_rejected(tmp_path: Path) -> None:
    partners = replace_line(
        PARTNERS, 2, "p1,Kingston Foodbank,food_parcel,,food_parcel:99999999999999999999999,"
    )
    records, issues = read_records(make_day(tmp_path, partners=partners) / "partners.csv", Partner)
    assert [p.id for p in records] == ["p2"]
    assert_issue(only_issue(issues), "partners.csv", 2, "capacity", "food_parcel: must be at most")


def test_overlong_id_is_rejected(tmp_path: Path) -> None:
    text = needs_file(need_row("n" * 101), need_row("n2"))
    needs, issues = read_records(make_day(tmp_path, needs=text) / "needs.csv", Need)
    assert [n.id for n in needs] == ["n2"]
    assert_issue(only_issue(issues), "needs.csv", 2, "id", "longer than 100 characters")


# ---------------------------------------------------------------------------------------------
# --time-limit
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "86401", "1e400"])
@pytest.mark.parametrize("command", ["plan", "replan"])
def test_time_limit_must_be_finite_and_positive(tmp_path: Path, command: str, value: str) -> None:
    args = [command, "--time-limit", value, "--out", str(tmp_path / "out")]
    if command == "replan":
        (tmp_path / "p.json").write_text("{}")
        (tmp_path / "e.json").write_text("{}")
        args += ["--plan", str(tmp_path / "p.json"), "--events", str(tmp_path / "e.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "is not a time limit" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# Oversized cells, control characters, nesting
# ---------------------------------------------------------------------------------------------
def test_cell_over_the_csv_limit_names_its_row(tmp_path: Path) -> None:
    huge = "x" * (200 * 1024)
    text = needs_file(need_row("n1"), need_row("n2", access_notes=huge), need_row("n3"))
    needs, issues = read_records(make_day(tmp_path, needs=text) / "needs.csv", Need)
    assert [n.id for n in needs] == ["n1", "n3"]
    assert_issue(only_issue(issues), "needs.csv", 3, ROW, "a cell is longer than 131,072")


def test_cell_over_4_kib_names_its_row_and_field(tmp_path: Path) -> None:
    text = needs_file(need_row("n1", resident="r" * 4097), need_row("n2", resident="r" * 4096))
    needs, issues = read_records(make_day(tmp_path, needs=text) / "needs.csv", Need)
    assert [n.id for n in needs] == ["n2"]
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 2, "resident", "is 4,097 characters long")
    assert issue.id == "n1"
    assert len(issue.value or "") <= inputs.SHOWN  # the message quotes a bounded excerpt


@pytest.mark.parametrize(
    ("text", "reason"),
    [("Ada\x00Lovelace", "contains a NUL byte"), ("bell\x07", "control character U+0007")],
)
def test_nul_and_control_characters_are_rejected(tmp_path: Path, text: str, reason: str) -> None:
    needs = needs_file(need_row("n1"), need_row("n2", resident=text))
    records, issues = read_records(make_day(tmp_path, needs=needs) / "needs.csv", Need)
    assert [n.id for n in records] == ["n1"]
    assert_issue(only_issue(issues), "needs.csv", 3, "resident", reason)


def test_line_break_only_in_access_notes(tmp_path: Path) -> None:
    needs = needs_file(
        need_row("n1", access_notes="ring twice\nthen wait"),
        need_row("n2", resident="Ada\nLovelace"),
    )
    records, issues = read_records(make_day(tmp_path, needs=needs) / "needs.csv", Need)
    assert [(n.id, n.access_notes) for n in records] == [("n1", "ring twice\nthen wait")]
    assert_issue(only_issue(issues), "needs.csv", 3, "resident", "contains a line break")


def test_nul_byte_in_geojson_property_is_rejected(tmp_path: Path) -> None:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-0.3064, 51.4085]},
        "properties": {"id": "n1", "date": "2024-05-01", "resident": "r\x001",
                       "kind": "befriending_call", "window_start": "09:00",
                       "window_end": "12:00"},
    }  # fmt: skip
    path = tmp_path / "needs.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    records, issues = read_records(path, Need)
    assert records == []
    assert_issue(only_issue(issues), "needs.geojson", 1, "resident", "contains a NUL byte")


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_geojson_is_refused(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "needs.geojson"
    nested = "[" * depth + "]" * depth
    path.write_text('{"type": "FeatureCollection", "features": [' + nested + "]}")
    records, issues = read_records(path, Need)
    assert records == []
    assert_issue(only_issue(issues), "needs.geojson", 0, FILE, f"nest {depth + 2} deep")


def test_nesting_inside_strings_does_not_count(tmp_path: Path) -> None:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-0.3064, 51.4085]},
        "properties": {"id": "n1", "date": "2024-05-01", "resident": "[[[[" * 20 + '\\"{',
                       "kind": "befriending_call", "window_start": "09:00",
                       "window_end": "12:00"},
    }  # fmt: skip
    path = tmp_path / "needs.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    records, issues = read_records(path, Need)
    assert issues == []
    assert [n.id for n in records] == ["n1"]


def test_geojson_number_too_long_to_read_is_a_clear_issue(tmp_path: Path) -> None:
    path = tmp_path / "needs.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [' + "9" * 5000 + "]}")
    records, issues = read_records(path, Need)
    assert records == []
    assert_issue(only_issue(issues), "needs.geojson", 0, FILE, "not valid JSON")


# ---------------------------------------------------------------------------------------------
# Size of a file
# ---------------------------------------------------------------------------------------------
def test_file_over_64_mib_is_refused_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "needs.csv"
    with path.open("wb") as f:
        f.write(NEEDS.encode())
        f.truncate(inputs.MAX_FILE_BYTES + 1)  # sparse: the size is what is judged
    records, issues = read_records(path, Need)
    assert records == []
    assert_issue(only_issue(issues), "needs.csv", 0, FILE, "at most 64 MiB and 200,000 rows")


def test_file_over_200000_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "needs.csv"
    path.write_text("id\n" + "x\n" * (inputs.MAX_ROWS + 1))
    records, issues = read_records(path, Need)
    assert records == []
    assert_issue(issues[0], "needs.csv", 0, FILE, "has more than 200,000 data rows")
    assert all(i.row <= 1 for i in issues)  # the refusal, then the header's issues


def test_file_with_too_many_issues_is_refused_with_examples(tmp_path: Path) -> None:
    path = tmp_path / "needs.csv"
    bad = "n{},2024-05-01,r,parcel,soon,09:00,12:00,0,,x,y,10,\n"  # 4 issues a row
    path.write_text(NEED_HEADER + "\n" + "".join(bad.format(i) for i in range(25_001)))
    records, issues = read_records(path, Need)
    assert records == []
    assert_issue(issues[0], "needs.csv", 0, FILE, "more than 100,000 issues, the first 100")
    assert len(issues) == 1 + inputs.EXAMPLES
    assert [i.row for i in issues[1:5]] == [2, 2, 2, 2]


def test_file_of_25000_rows_with_100000_issues_is_read(tmp_path: Path) -> None:
    path = tmp_path / "needs.csv"
    bad = "n{},2024-05-01,r,parcel,soon,09:00,12:00,0,,x,y,10,\n"
    path.write_text(NEED_HEADER + "\n" + "".join(bad.format(i) for i in range(25_000)))
    _, issues = read_records(path, Need)
    assert len(issues) == inputs.MAX_ISSUES
    assert issues[-1].row == 25_001


def test_file_of_200000_rows_is_read(tmp_path: Path) -> None:
    path = tmp_path / "needs.csv"
    path.write_text("id\n" + "x\n" * inputs.MAX_ROWS)
    _, issues = read_records(path, Need)
    assert not any("data rows" in i.reason for i in issues)


# ---------------------------------------------------------------------------------------------
# Ids unique across files
# ---------------------------------------------------------------------------------------------
def test_need_id_reused_as_volunteer_id_is_rejected_naming_both(tmp_path: Path) -> None:
    needs = NEEDS.replace("\nn3,", "\nv2,")
    day, issues = read_day(make_day(tmp_path, needs=needs))
    assert [n.id for n in day.needs] == ["n1", "n2"]
    assert [v.id for v in day.volunteers] == ["v1", "v2"]
    issue = only_issue(issues)
    assert_issue(issue, "needs.csv", 4, "id", "'v2' is already used in volunteers.csv row 3")


def test_volunteer_id_reused_as_partner_id_drops_the_volunteer(tmp_path: Path) -> None:
    volunteers = VOLUNTEERS.replace("\nv2,", "\np2,")
    day, issues = read_day(make_day(tmp_path, volunteers=volunteers))
    assert [p.id for p in day.partners] == ["p1", "p2"]
    assert [v.id for v in day.volunteers] == ["v1"]
    assert_issue(
        only_issue(issues), "volunteers.csv", 3, "id", "already used in partners.csv row 3"
    )


def test_partner_id_reused_as_site_id_drops_the_partner(tmp_path: Path) -> None:
    partners = PARTNERS.replace("\np2,", "\ns1,")
    day, issues = read_day(make_day(tmp_path, partners=partners))
    assert [p.id for p in day.partners] == ["p1"]
    issue = next(i for i in issues if i.file == "partners.csv")
    assert_issue(issue, "partners.csv", 3, "id", "already used in sites.csv row 2")
    # v1 shares work with p2, now gone: the volunteer is dropped too, saying why.
    assert_issue(issues[0], "volunteers.csv", 2, "shared_with", "unknown partner 'p2'")


# ---------------------------------------------------------------------------------------------
# An unterminated quote
# ---------------------------------------------------------------------------------------------
def test_unterminated_quote_rejects_its_row_and_reads_the_rows_below(tmp_path: Path) -> None:
    rows = [need_row(f"n{i}") for i in range(1, 12)]
    rows[1] = rows[1] + '"Flat 3, ring'  # row 3: access_notes opens a quote, never closed
    text = needs_file(*rows)
    needs, issues = read_records(make_day(tmp_path, needs=text) / "needs.csv", Need)
    assert [n.id for n in needs] == [f"n{i}" for i in range(1, 12) if i != 2]
    issue = only_issue(issues)
    assert (issue.file, issue.row, issue.field, issue.id) == ("needs.csv", 3, "access_notes", "n2")
    assert "never closed: it would swallow rows 4 to 12" in issue.reason


def test_unterminated_quote_in_a_named_field_names_it(tmp_path: Path) -> None:
    rows = [need_row(f"n{i}") for i in range(1, 6)]
    rows[0] = rows[0].replace("r-n1", '"r-n1')
    text = needs_file(*rows)  # the quote swallows every row below: the row counts differ
    needs, issues = read_records(make_day(tmp_path, needs=text) / "needs.csv", Need)
    assert [n.id for n in needs] == ["n2", "n3", "n4", "n5"]
    assert_issue(only_issue(issues), "needs.csv", 2, "resident", "swallow rows 3 to 6")


def test_a_closed_multiline_note_is_one_row(tmp_path: Path) -> None:
    text = needs_file(need_row("n1", access_notes="gate code 4\nback door"), need_row("n2"))
    needs, issues = read_records(make_day(tmp_path, needs=text) / "needs.csv", Need)
    assert issues == []
    assert [n.id for n in needs] == ["n1", "n2"]


def test_a_multiline_note_in_a_short_row_is_one_row(tmp_path: Path) -> None:
    """A row may stop before its last, optional columns, even after a note over two lines."""
    header = NEED_HEADER.replace(",duration,access_notes", ",access_notes,duration")
    short = need_row("n1").rsplit(",", 2)[0]  # no access_notes nor duration cell
    text = needs_file(short + ',"gate code 4\nback door, then left"', need_row("n2"), header=header)
    needs, issues = read_records(make_day(tmp_path, needs=text) / "needs.csv", Need)
    assert issues == []
    assert [n.id for n in needs] == ["n1", "n2"]
    assert needs[0].access_notes == "gate code 4\nback door, then left"


def test_a_quote_open_in_the_last_but_one_row_swallows_the_last(tmp_path: Path) -> None:
    rows = [need_row(f"n{i}") for i in range(1, 4)]
    rows[1] += '"Flat 3'  # row 3: swallows row 4, the last, and the file ends
    needs, issues = read_records(make_day(tmp_path, needs=needs_file(*rows)) / "needs.csv", Need)
    assert [n.id for n in needs] == ["n1", "n3"]
    assert_issue(only_issue(issues), "needs.csv", 3, "access_notes", "swallow rows 4 to 4")


def test_quote_open_to_the_end_of_a_long_file_is_bounded(tmp_path: Path) -> None:
    rows = [need_row(f"n{i}") for i in range(1, 202)]
    rows[0] = rows[0].replace("r-n1", '"r-n1')
    needs, issues = read_records(make_day(tmp_path, needs=needs_file(*rows)) / "needs.csv", Need)
    assert len(needs) == 200
    issue = only_issue(issues)
    assert issue.row == 2
    assert f"swallow rows 3 to {2 + inputs.MAX_RECORD_LINES - 1} or more" in issue.reason


# ---------------------------------------------------------------------------------------------
# Rejected rows in the plan
# ---------------------------------------------------------------------------------------------
def _plan(day_date: dt.date, served: list[str]) -> Plan:
    """A plan serving ``served``, as the planner would hand it over (no solve needed)."""
    return Plan(
        date=day_date, travel_model="road-estimate", routes=[], unserved=[],
        assignments=[Assignment(need=n, partner="p", volunteer="v", start=600) for n in served],
        kpis={"needs": len(served), "served": len(served)},
    )  # fmt: skip


def test_attach_rejected_counts_every_row_of_the_needs_file(tmp_path: Path) -> None:
    needs = NEEDS + f"n4,2024-05-01,r4,befriending_call,urgent,09:00,12:00,0,,{KINGSTON}\n"
    needs = replace_line(needs, 3, needs.splitlines()[2].replace("high", "soon"))
    needs += f"n5,2024-05-02,r5,befriending_call,normal,09:00,12:00,0,,{KINGSTON}\n"
    report = check_day(make_day(tmp_path, needs=needs), dt.date(2024, 5, 1))
    plan = attach_rejected(_plan(report.day.date, [n.id for n in report.day.needs]), report)
    assert plan.kpis["needs_in_files"] == 5
    assert (plan.kpis["needs"], plan.kpis["needs_rejected"], plan.kpis["needs_other_dates"]) == (
        3, 1, 1,
    )  # fmt: skip
    assert plan.kpis["rejected_rows"] == {"needs.csv": 1}
    assert [(r.file, r.row, r.field, r.id) for r in plan.rejected] == [
        ("needs.csv", 3, "priority", "n2")
    ]
    assert list(plan.kpis)[:4] == ["needs", "needs_in_files", "needs_rejected", "needs_other_dates"]
    markdown = render_markdown(plan)
    assert "## Rejected input rows (1)" in markdown
    assert "| needs.csv | 3 | priority | n2 | unknown priority 'soon'" in markdown


def test_warnings_are_not_rejections(tmp_path: Path) -> None:
    needs = NEEDS.replace("lon,lat\n", "lon,lat,colour\n", 1)
    report = check_day(make_day(tmp_path, needs=needs))
    assert [i.field for i in report.issues] == ["colour"]
    plan = attach_rejected(_plan(report.day.date, []), report)
    assert plan.rejected == []
    assert plan.kpis["needs_rejected"] == 0


def test_plan_of_30_rows_with_2_bad_lists_both(tmp_path: Path) -> None:
    day = generate_day(30, 8, 3, dt.date(2026, 11, 25))
    folder = tmp_path / "day"
    write_day(day, folder)
    path = folder / "needs.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    bad_priority = lines[4].split(",")
    bad_priority[header.index("priority")] = "soon"
    lines[4] = ",".join(bad_priority)  # row 5
    assert lines[11].endswith(",")  # access_notes, the last column, is empty
    lines[11] += '"Flat 3, ring'  # row 12: an unterminated quote
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "--data", str(folder), "--iterations", "50",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = Plan.model_validate_json((out / "plan.json").read_text(encoding="utf-8"))
    assert plan.kpis["needs_in_files"] == 30
    assert plan.kpis["needs"] == 28
    assert plan.kpis["needs_rejected"] == 2
    assert len(plan.assignments) + len(plan.unserved) == 28
    ids = [line.split(",")[header.index("id")] for line in (lines[4], lines[11])]
    assert [(r.row, r.id) for r in plan.rejected] == [(5, ids[0]), (12, ids[1])]
    planned = {a.need for a in plan.assignments} | {u.need for u in plan.unserved}
    assert not planned & set(ids)
    kpis_md = (out / "kpis.md").read_text(encoding="utf-8")
    assert f"| needs.csv | 12 | access_notes | {ids[1]} | a quote opened" in kpis_md


def test_many_issues_print_the_first_50_then_counts(tmp_path: Path) -> None:
    # Each value differs: identical issues of several rows would be one line.
    rows = [need_row(f"n{i}", priority=f"soon{i}") for i in range(300)]
    folder = make_day(tmp_path, needs=needs_file(*rows, need_row("ok")))
    result = runner.invoke(app, ["data", "check", str(folder)], terminal_width=200)
    assert result.exit_code == 1
    assert "300 issue(s), the first 50" in result.output
    assert "needs.csv │ 51 " in result.output and "needs.csv │ 52 " not in result.output
    kinds = [line for line in result.output.splitlines() if "unknown priority …" in line]
    assert len(kinds) == 1 and kinds[0].rstrip(" │").endswith("300"), kinds


def test_issue_carries_the_row_id() -> None:
    assert Issue("needs.csv", 3, "id", "x", id="n1").id == "n1"


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------
def _traced_bytes_per_row(path: Path, rows: int) -> float:
    tracemalloc.start()
    try:
        needs, issues = read_records(path, Need)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (len(needs), issues) == (rows, [])
    return held / rows


def test_memory_per_need_is_small_and_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """A need held after reading takes well under 1.2 kB (pydantic's own copy of each repeated
    value would take about 1.7 kB), and no more per row in a file four times as long."""
    per_row = {}
    for rows in (2000, 8000):
        body = [need_row(f"n{i}", duration=str(5 + i % 20)) for i in range(rows)]
        path = tmp_path / f"needs{rows}.csv"
        path.write_text(needs_file(*body), encoding="utf-8")
        per_row[rows] = _traced_bytes_per_row(path, rows)
    assert per_row[2000] < 1200, per_row
    assert per_row[8000] < per_row[2000] * 1.1, per_row


def test_shared_values_stay_with_their_record(tmp_path: Path) -> None:
    text = needs_file(need_row("n1"), need_row("n2"))
    first, second = read_records(make_day(tmp_path, needs=text) / "needs.csv", Need)[0]
    assert first.date is second.date  # one copy of a repeated value
    changed = first.model_copy(update={"language": "tamil", "duration": 30})
    assert (changed.language, changed.duration) == ("tamil", 30)
    assert (first.language, first.duration, second.language, second.duration) == (
        None, 10, None, 10,
    )  # fmt: skip
    assert second.model_fields_set == first.model_fields_set
    assert "language" not in second.model_fields_set


def test_plan_prints_the_first_50_issues_then_counts_and_escapes_markup() -> None:
    issues = [Issue("needs.csv", n, "priority", f"unknown priority '[/yellow]{n}'") for n in
              range(2, 122)]  # fmt: skip
    console = Console(file=io.StringIO(), width=200)
    print_issues(issues, console)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "skipped needs.csv row 2, priority: unknown priority '[/yellow]2'"
    assert lines[49].startswith("skipped needs.csv row 51,")
    assert lines[50] == "… and 70 more issue(s); all 120 by kind:"
    assert lines[51:] == ["        120  needs.csv, priority: unknown priority …"]


def test_data_check_shows_markup_in_a_cell_as_text(tmp_path: Path) -> None:
    needs = NEEDS.replace(",r1,", ",[/yellow][link=https://example.com]r1[/link],")
    needs = needs.replace(",urgent,", ",[bold]urgent,")
    result = runner.invoke(app, ["data", "check", str(make_day(tmp_path, needs=needs))],
                           terminal_width=200)  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "unknown priority '[bold]urgent'" in result.output
