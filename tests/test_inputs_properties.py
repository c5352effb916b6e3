"""Property-based tests of the input files: whatever the bytes or rows, reading a file or a day
ends in records (a ``Day``) and issues, each with its file, row, field and reason; never a
traceback. The rows are hostile on purpose: control characters, quotes, semicolons, huge
numbers, template and console markup, undecodable bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from kst_match.inputs import FILES, Issue, check_day, read_records
from kst_match.model import Plan
from kst_match.outputs.kpis import render_markdown
from kst_match.rejections import attach_rejected
from tests.test_inputs import NEEDS, PARTNERS, SITES, VOLUNTEERS

# Bounded so that the whole file runs in well under a minute on two busy cores.
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOOD: dict[str, str] = {"needs": NEEDS, "volunteers": VOLUNTEERS, "partners": PARTNERS,
                        "sites": SITES}  # fmt: skip

HOSTILE = [
    "{{ 7*7 }}", "{% for x in ().__class__.__base__.__subclasses__() %}{{x}}{% endfor %}",
    "{{2}", "${7*7}", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "[/yellow]", "[link=https://example.com]click[/link]", "[bold red]x", "\\[escaped]",
    '"', '""', '"a"b', "a\"b", ";", ";;", "a;;b;", ":", "food_parcel:", "food_parcel:-1",
    "food_parcel:99999999999999999999999", "99999999999999999999999", "-99999999999999999999",
    "1e400", "-1e400", "nan", "NaN", "inf", "-inf", "1_000", "0x10", "١٢", "24:00", "25:00",
    "9:5", "00:60", "-01:00", "2024-02-30", "2024-05-01", "true", "false", "yes", "\x00",
    "a\x00b", "\x07", "\x1b[31mred", "\r", "\n", "\r\n", "\t", "\ufeff", "\u202e", "\u2028",
    "😀", "x" * 5000, "9" * 5000, ",", ",,,,", "id", " ", "",
]  # fmt: skip


def _columns(stem: str) -> list[str]:
    return GOOD[stem].splitlines()[0].split(",")


def _values(stem: str) -> dict[str, list[str]]:
    """For each column of ``stem``, the values in the good file: rows are often nearly good."""
    rows = list(csv.DictReader(io.StringIO(GOOD[stem])))
    return {c: [r[c] for r in rows] for c in _columns(stem)}


def _ids() -> list[str]:
    """Every id of the good day's files: a row may reuse one from another file."""
    return sorted({v for stem in GOOD for v in _values(stem)["id"]})


REFERENCES = frozenset({"id", "partner", "shared_with", "site", "sites", "previous_volunteer"})


def cell(stem: str, column: str) -> st.SearchStrategy[str]:
    ids = [st.sampled_from(_ids())] if column in REFERENCES else []
    return st.one_of(
        *ids,
        st.sampled_from(_values(stem)[column]),
        st.sampled_from(HOSTILE),
        st.text(max_size=20),
        st.integers().map(str),
        st.floats().map(repr),
    )


@st.composite
def rows(draw: st.DrawFn, stem: str) -> list[list[str]]:
    """Rows for ``stem``'s file: a good row with a few cells made good, hostile or random,
    sometimes with too few or too many cells."""
    columns = _columns(stem)
    good = list(csv.reader(io.StringIO(GOOD[stem])))[1:]
    out = []
    for _ in range(draw(st.integers(0, 6))):
        row = list(draw(st.sampled_from(good)))
        if draw(st.booleans()):  # an id of this file or another: clashes across files
            row[columns.index("id")] = draw(st.sampled_from(_ids()))
        for index in draw(st.lists(st.integers(0, len(columns) - 1), max_size=4)):
            row[index] = draw(cell(stem, columns[index]))
        extra = draw(st.integers(-2, 2))
        row = row[:extra] if extra < 0 else row + [draw(st.sampled_from(HOSTILE))] * extra
        out.append(row)
    return out


def to_csv(header: list[str], body: list[list[str]], quoted: bool) -> bytes:
    """A CSV file: well quoted by the csv module, or cells joined with commas as a careless
    export would."""
    if quoted:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows([header, *body])
        text = out.getvalue()
    else:
        text = "".join(",".join(r) + "\n" for r in [header, *body])
    return text.encode("utf-8", "surrogatepass")


def to_geojson(header: list[str], body: list[list[str]], jsonish: list[Any]) -> bytes:
    """A FeatureCollection of ``body``'s rows as properties; ``jsonish`` values replace some
    of them (numbers, lists, objects, nulls: what JSON can say and CSV cannot)."""
    features = []
    for i, row in enumerate(body):
        properties: dict[str, Any] = dict(zip(header, row, strict=False))
        lon, lat = properties.pop("lon", None), properties.pop("lat", None)
        for j, value in enumerate(jsonish):
            if (i + j) % 3 == 0 and header:
                properties[header[(i + j) % len(header)]] = value
        geometry = {"type": "Point", "coordinates": [_number(lon), _number(lat)]}
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    document = {"type": "FeatureCollection", "features": features}
    return json.dumps(document).encode("utf-8", "surrogatepass")


def _number(text: str | None) -> object:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return text


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
    | st.sampled_from(HOSTILE),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip


def assert_well_formed(issues: list[Issue]) -> None:
    """Each issue says where (file, row, field) and why, in text that can be printed."""
    for issue in issues:
        assert issue.file and isinstance(issue.file, str)
        assert isinstance(issue.row, int) and issue.row >= 0
        assert issue.field and isinstance(issue.field, str)
        assert issue.reason and isinstance(issue.reason, str)
        str(issue).encode("utf-8")  # printable: no lone surrogates


def read_file(stem: str, suffix: str, data: bytes) -> tuple[list[Any], list[Issue]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{stem}{suffix}"
        path.write_bytes(data)
        return read_records(path, FILES[stem])


# ---------------------------------------------------------------------------------------------
# One file
# ---------------------------------------------------------------------------------------------
@SOME
@given(
    stem=st.sampled_from(list(FILES)),
    suffix=st.sampled_from([".csv", ".geojson"]),
    data=st.binary(max_size=600),
)
def test_arbitrary_bytes_give_records_and_issues(stem: str, suffix: str, data: bytes) -> None:
    records, issues = read_file(stem, suffix, data)
    assert_well_formed(issues)
    assert all(isinstance(r, FILES[stem]) for r in records)
    assert records or issues  # nothing read is always explained


@SOME
@given(stem=st.sampled_from(list(FILES)), tail=st.binary(max_size=400))
def test_arbitrary_bytes_below_a_good_header_give_records_and_issues(
    stem: str, tail: bytes
) -> None:
    header = GOOD[stem].splitlines()[0].encode()
    records, issues = read_file(stem, ".csv", header + b"\n" + tail)
    assert_well_formed(issues)
    assert all(isinstance(r, FILES[stem]) for r in records)


@SOME
@given(
    stem=st.sampled_from(list(FILES)),
    quoted=st.booleans(),
    data=st.data(),
)
def test_arbitrary_csv_rows_give_records_and_issues(
    stem: str, quoted: bool, data: st.DataObject
) -> None:
    body = data.draw(rows(stem))
    records, issues = read_file(stem, ".csv", to_csv(_columns(stem), body, quoted))
    assert_well_formed(issues)
    # Each row read is kept or explained: no row vanishes without an issue on it.
    kept_ids = {r.id for r in records}
    assert len(kept_ids) == len(records)
    if quoted and not any(c in cell for row in body for cell in row for c in '\r\n"'):
        # One line per row: row N of the file is body[N - 2].
        explained = {i.row for i in issues if i.rejects}
        id_column = _columns(stem).index("id")
        for number, row in enumerate(body, start=2):
            if any(c.strip() for c in row):
                row_id = row[id_column].strip() if len(row) > id_column else ""
                assert row_id in kept_ids or number in explained or 1 in explained, (number, row)


@FEW
@given(stem=st.sampled_from(list(FILES)), data=st.data(), jsonish=st.lists(JSONISH, max_size=3))
def test_arbitrary_geojson_features_give_records_and_issues(
    stem: str, data: st.DataObject, jsonish: list[Any]
) -> None:
    body = data.draw(rows(stem))
    records, issues = read_file(stem, ".geojson", to_geojson(_columns(stem), body, jsonish))
    assert_well_formed(issues)
    assert all(isinstance(r, FILES[stem]) for r in records)


@FEW
@given(stem=st.sampled_from(list(FILES)), depth=st.integers(1, 3000), opener=st.sampled_from("[{"))
def test_any_nesting_gives_an_issue_not_a_crash(stem: str, depth: int, opener: str) -> None:
    inner = '{"a":' * depth + "1" + "}" * depth if opener == "{" else "[" * depth + "]" * depth
    data = ('{"type": "FeatureCollection", "features": [' + inner + "]}").encode()
    records, issues = read_file(stem, ".geojson", data)
    assert_well_formed(issues)
    assert records == []


# ---------------------------------------------------------------------------------------------
# A day
# ---------------------------------------------------------------------------------------------
def write_folder(folder: Path, stem: str, suffix: str, data: bytes) -> None:
    for other, text in GOOD.items():
        if other != stem:
            (folder / f"{other}.csv").write_text(text, encoding="utf-8")
    (folder / f"{stem}{suffix}").write_bytes(data)


@st.composite
def day_file(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """One of the day's files, hostile: arbitrary bytes, or arbitrary rows as CSV or GeoJSON."""
    stem = draw(st.sampled_from(list(FILES)))
    how = draw(st.sampled_from(["bytes", "csv", "careless csv", "geojson"]))
    if how == "bytes":
        return stem, draw(st.sampled_from([".csv", ".geojson"])), draw(st.binary(max_size=400))
    header, body = _columns(stem), draw(rows(stem))
    good = [r for r in csv.reader(io.StringIO(GOOD[stem]))][1:]
    body = draw(st.permutations(good + body))  # good rows among the bad
    if how == "geojson":
        return stem, ".geojson", to_geojson(header, body, draw(st.lists(JSONISH, max_size=2)))
    return stem, ".csv", to_csv(header, body, quoted=how == "csv")


@FEW
@given(file=day_file(), date=st.sampled_from([None, dt.date(2024, 5, 1), dt.date(2024, 5, 2)]))
def test_any_day_folder_gives_a_day_and_issues_and_a_plan_that_lists_them(
    file: tuple[str, str, bytes], date: dt.date | None
) -> None:
    stem, suffix, data = file
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_folder(folder, stem, suffix, data)
        report = check_day(folder, date)
    assert_well_formed(report.issues)
    day = report.day
    assert all(isinstance(n, BaseModel) for n in day.needs + day.volunteers)
    # Ids are unique across the day's files.
    ids = [r.id for r in (*day.needs, *day.volunteers, *day.partners, *day.sites)]
    assert len(ids) == len(set(ids))
    for summary in report.files:
        assert summary.rows == summary.kept + summary.rejected + summary.left_out
        assert summary.rejected >= 0
        if summary.rejected:
            assert any(i.rejects and i.file == summary.file for i in report.issues)
    # Handed to the plan, every rejecting issue is listed, and the needs add up.
    plan = attach_rejected(
        Plan(date=day.date, travel_model="road-estimate", assignments=[], routes=[],
             unserved=[], kpis={"needs": len(day.needs)}),
        report,
    )  # fmt: skip
    assert len(plan.rejected) == sum(1 for i in report.issues if i.rejects)
    kpis = plan.kpis
    assert kpis["needs_in_files"] == (
        kpis["needs"] + kpis["needs_rejected"] + kpis["needs_other_dates"]  # type: ignore[operator]
    )
    assert Plan.model_validate_json(plan.model_dump_json()) == plan
    render_markdown(plan)
