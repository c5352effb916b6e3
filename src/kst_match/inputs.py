"""Read and validate the day's input files (CSV / GeoJSON) into a ``Day``; write records back.

CSV conventions, the same for every file: one column per model field, lists ``;``-separated,
partner capacity as ``kind:amount;kind:amount``, booleans ``true``/``false``, times ``HH:MM``,
dates ``YYYY-MM-DD``, an empty cell for nothing. Files are UTF-8 (a byte-order mark is allowed).

GeoJSON conventions: a FeatureCollection of features whose ``properties`` are the same fields
as the CSV columns; a ``Point`` geometry gives ``lon`` and ``lat`` (WGS84 degrees).

Nothing is thrown away silently and nothing good is lost: every rejected row becomes an
``Issue`` (file, row, field, reason, the value read) and every other row is kept.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from kst_match import paths
from kst_match.model import (
    Day,
    Need,
    Partner,
    Priority,
    ServiceKind,
    Site,
    SiteKind,
    Skill,
    Transport,
    Volunteer,
)

# Columns computed from other columns, never read from or written to files.
DERIVED_FIELDS = {"ward"}

# ``Issue.field`` for a problem with the file as a whole, or with a row as a whole.
FILE = "(file)"
ROW = "(row)"

# The day's files, in the order they are read and reported; partners and sites are optional in
# a day's folder and default to the bundled ones.
FILES: dict[str, type[BaseModel]] = {
    "needs": Need,
    "volunteers": Volunteer,
    "partners": Partner,
    "sites": Site,
}
OPTIONAL_FILES = frozenset({"partners", "sites"})
SUFFIXES = (".csv", ".geojson")

# What each enumeration is called in messages.
_ENUM_LABELS: dict[frozenset[str], str] = {
    frozenset(e.value for e in enum): label
    for enum, label in (
        (ServiceKind, "service kind"),
        (Skill, "skill"),
        (Priority, "priority"),
        (Transport, "transport"),
        (SiteKind, "site kind"),
    )
}
_SURROGATE = re.compile("[\udc80-\udcff]")  # undecodable bytes, kept by "surrogateescape"
_FIELD_PREFIX = re.compile(r"(\w+): (.*)", re.DOTALL)

M = TypeVar("M", bound=BaseModel)


# ---------------------------------------------------------------------------------------------
# Issues
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Issue:
    """One problem found in an input file.

    ``row`` counts as a spreadsheet does: in a CSV file the header is row 1, so the first data
    row is row 2. In a GeoJSON file ``row`` is the feature's number, counting from 1. Row 0 means
    the file as a whole. ``field`` is a column name, or ``(file)`` / ``(row)`` for a problem with
    the whole file or row, ``lon/lat`` for a location. ``value`` is the text read, if any.
    """

    file: str
    row: int
    field: str
    reason: str
    value: str | None = None

    @property
    def where(self) -> str:
        """``needs.csv row 7`` (CSV, header = row 1), ``needs.geojson feature 3``, or the file."""
        if self.row == 0:
            return self.file
        unit = "feature" if self.file.endswith(".geojson") else "row"
        return f"{self.file} {unit} {self.row}"

    def __str__(self) -> str:
        text = f"{self.where}, {self.field}: {self.reason}"
        if self.value is not None and repr(self.value) not in self.reason:
            text += f" (got {self.value!r})"
        return text


@dataclass
class _Table(Generic[M]):
    """What was read from one file: the good records with their rows, and the issues."""

    file: str
    geojson: bool = False
    records: list[tuple[int, M]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    rows: int = 0  # data rows read (blank rows not counted)
    rejected_ids: dict[str, int] = field(default_factory=dict)  # id -> row, rows dropped

    def issue(self, row: int, field_: str, reason: str, value: object = None) -> None:
        self.issues.append(Issue(self.file, row, field_, reason, _show(value)))

    def drop(self, keep: Iterable[tuple[int, M]]) -> None:
        """Keep only ``keep`` (a subset of ``records``), remembering the ids of the others."""
        kept = list(keep)
        kept_rows = {row for row, _ in kept}
        for row, record in self.records:
            if row not in kept_rows:
                self.rejected_ids.setdefault(record.id, row)  # type: ignore[attr-defined]
        self.records = kept


def _show(value: object) -> str | None:
    """A value as the user wrote it, for messages; undecodable bytes as U+FFFD."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple):
        text = ";".join(str(v) for v in value)
    else:
        text = json.dumps(value) if isinstance(value, dict | bool) else str(value)
    if _SURROGATE.search(text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ";".join(f"{k}:{v}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return ";".join(sorted(str(v) for v in value))
    return str(value)


def write_records(path: Path, records: Iterable[BaseModel], model: type[BaseModel]) -> None:
    """Write records of one model type as CSV, in the model's field order."""
    columns = [name for name in model.model_fields if name not in DERIVED_FIELDS]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for record in records:
            data = record.model_dump(mode="json")
            writer.writerow([_cell(data[c]) for c in columns])


# ---------------------------------------------------------------------------------------------
# Reading one file
# ---------------------------------------------------------------------------------------------
def read_records(
    path: Path, model: type[M], *, name: str | None = None
) -> tuple[list[M], list[Issue]]:
    """Read one CSV (``.csv``) or GeoJSON (``.geojson``) file of ``model`` records.

    Returns the valid records, in file order, and an ``Issue`` for every problem found (see
    ``Issue`` for how rows are counted). A bad row is dropped; the rows around it are kept.
    ``name`` is how the file is called in issues (default: its file name).
    """
    table = _read_table(Path(path), model, name)
    return [record for _, record in table.records], table.issues


def _read_table(path: Path, model: type[M], name: str | None = None) -> _Table[M]:
    table: _Table[M] = _Table(name or path.name, path.suffix.lower() == ".geojson")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        table.issue(0, FILE, f"cannot be read: {exc.strerror or exc}")
        return table
    if path.suffix.lower() == ".geojson":
        _parse_geojson(raw, model, table)
    elif path.suffix.lower() == ".csv":
        _parse_csv(raw, model, table)
    else:
        table.issue(0, FILE, "is neither .csv nor .geojson")
    return table


def _decode(raw: bytes) -> tuple[str, int, int | None]:
    """UTF-8 text (undecodable bytes kept as surrogates), BOM length, first bad byte offset."""
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    body = raw[bom:]
    try:
        return body.decode("utf-8"), bom, None
    except UnicodeDecodeError as exc:
        return body.decode("utf-8", "surrogateescape"), bom, bom + exc.start


def _not_utf8(text: str, offset: int) -> str:
    """The reason for undecodable text whose first bad character starts at byte ``offset``."""
    bad = _SURROGATE.search(text)
    byte = ord(bad.group()) - 0xDC00 if bad else 0
    return f"not UTF-8 text: byte 0x{byte:02x} at byte offset {offset}; save the file as UTF-8"


def _columns(model: type[BaseModel]) -> tuple[list[str], list[str]]:
    """The input columns of ``model`` and the required ones, in field order."""
    columns = [n for n in model.model_fields if n not in DERIVED_FIELDS]
    required = [n for n in columns if model.model_fields[n].is_required()]
    return columns, required


def _parse_csv(raw: bytes, model: type[M], table: _Table[M]) -> None:
    columns, required = _columns(model)
    text, bom, bad_offset = _decode(raw)
    if not text.strip():
        table.issue(1, FILE, f"the file is empty; expected a header row ({', '.join(columns)})")
        return
    # Line start offsets in bytes, to say where an undecodable byte is; only needed then.
    line_starts: list[int] = []
    lines: list[str] = []
    if bad_offset is not None:
        position = bom
        for line in io.StringIO(text, newline=""):
            line_starts.append(position)
            lines.append(line)
            position += len(line.encode("utf-8", "surrogateescape"))

    def byte_offset(first_line: int, last_line: int) -> int:
        """Offset of the first undecodable byte in lines ``first_line..last_line`` (1-based)."""
        for number in range(first_line, last_line + 1):
            line = lines[number - 1]
            if m := _SURROGATE.search(line):
                return line_starts[number - 1] + len(
                    line[: m.start()].encode("utf-8", "surrogateescape")
                )
        return bad_offset or 0

    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip() for cell in next(reader)]
    if bad_offset is not None and any(_SURROGATE.search(cell) for cell in header):
        table.issue(1, FILE, _not_utf8(text, byte_offset(1, reader.line_num)))
        return

    # Which field each column feeds (None: ignored); unknown and repeated columns are issues on
    # the header, and their cells are ignored so that the rows below can still be used.
    targets: list[str | None] = []
    for number, name in enumerate(header, start=1):
        if not name:
            table.issue(1, f"column {number}", "the column has no name")
            targets.append(None)
        elif name in targets:
            table.issue(1, name, "the column appears more than once; only the first is read")
            targets.append(None)
        elif name in DERIVED_FIELDS:
            targets.append(None)  # computed when the day is read; a stale copy is ignored
        elif name not in columns:
            table.issue(1, name, f"unknown column (expected: {', '.join(columns)})")
            targets.append(None)
        else:
            targets.append(name)
    missing = [c for c in required if c not in targets]
    for name in missing:
        table.issue(1, name, "a required column is missing")

    seen: dict[str, int] = {}
    previous_line = reader.line_num
    for row, cells in enumerate(reader, start=2):
        first_line, previous_line = previous_line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank row
        table.rows += 1
        if missing:
            continue  # no row can be valid; the header issue says why, once
        if len(cells) > len(targets) and any(c.strip() for c in cells[len(targets) :]):
            table.issue(
                row, ROW, f"has {len(cells)} cells but the header has {len(targets)} columns"
            )
            continue
        data: dict[str, str] = {}
        undecodable = False
        for target, cell in zip(targets, cells, strict=False):
            if target is None or not cell.strip():
                continue  # an empty cell is no value: the field's default, or "required"
            if bad_offset is not None and _SURROGATE.search(cell):
                offset = byte_offset(first_line, reader.line_num)
                table.issue(row, target, _not_utf8(cell, offset), cell)
                undecodable = True
            data[target] = cell
        if undecodable:
            table.rejected_ids.setdefault(data.get("id", "").strip(), row)
            continue
        _add_record(model, data, row, table, seen)
    if table.rows == 0:
        table.issue(2, FILE, "no data rows below the header")


def _parse_geojson(raw: bytes, model: type[M], table: _Table[M]) -> None:
    columns, required = _columns(model)
    located = "lon" in model.model_fields
    text, _, bad_offset = _decode(raw)
    if bad_offset is not None:
        # JSON text must be UTF-8 (RFC 8259); its structure cannot be trusted otherwise.
        table.issue(0, FILE, _not_utf8(text, bad_offset))
        return
    if not text.strip():
        table.issue(0, FILE, "the file is empty; expected a GeoJSON FeatureCollection")
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        table.issue(0, FILE, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
        return
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        table.issue(0, FILE, "not a GeoJSON FeatureCollection")
        return
    features = document.get("features")
    if not isinstance(features, list) or not features:
        table.issue(0, FILE, "the FeatureCollection has no features")
        return

    rows: list[tuple[int, dict[str, Any]]] = []
    present: set[str] = set()
    unknown: set[str] = set()
    for number, feature in enumerate(features, start=1):
        table.rows += 1
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            table.issue(number, ROW, "not a GeoJSON Feature")
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            table.issue(number, "properties", "must be an object")
            continue
        data: dict[str, Any] = {}
        for key, value in properties.items():
            if key in DERIVED_FIELDS:
                continue
            if key not in columns:
                if key not in unknown:  # once per property, like an unknown CSV column
                    unknown.add(key)
                    table.issue(number, key, f"unknown property (expected: {', '.join(columns)})")
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            data[key] = value
        geometry = feature.get("geometry")
        if located and geometry is not None:
            kind = geometry.get("type") if isinstance(geometry, dict) else None
            coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
            if kind != "Point" or not isinstance(coordinates, list) or len(coordinates) < 2:
                table.issue(number, "geometry", f"expected a Point, got {kind or 'nothing'}")
                continue
            data["lon"], data["lat"] = coordinates[0], coordinates[1]  # GeoJSON is lon, lat
        present.update(data)
        rows.append((number, data))

    # A field no feature has is reported once for the file, like a missing CSV column.
    absent = [c for c in required if c not in present]
    for name in absent:
        table.issue(0, name, "a required property is missing from every feature")
    if absent:
        return
    seen: dict[str, int] = {}
    for number, data in rows:
        _add_record(model, data, number, table, seen)


def _add_record(
    model: type[M], data: dict[str, Any], row: int, table: _Table[M], seen: dict[str, int]
) -> None:
    """Validate one row; keep it, or record why not. ``seen`` maps ids read so far to rows."""
    record_id = str(data.get("id", "")).strip()
    if record_id:
        if record_id in seen:
            where = "feature" if table.geojson else "row"
            table.issue(row, "id", f"duplicate id (first on {where} {seen[record_id]})", record_id)
            return
        seen[record_id] = row
    try:
        table.records.append((row, model.model_validate(data)))
    except ValidationError as exc:
        table.rejected_ids.setdefault(record_id, row)
        for error in exc.errors(include_url=False):
            field_, reason = _explain(error, model)
            table.issue(row, field_, reason, data.get(field_))


def _explain(error: Mapping[str, Any], model: type[BaseModel]) -> tuple[str, str]:
    """A pydantic error as (field, plain-English reason)."""
    kind: str = error["type"]
    loc: tuple[int | str, ...] = error["loc"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    value = _show(error.get("input"))
    if kind in ("value_error", "assertion_error"):
        reason = str(ctx.get("error", error["msg"]))
        if not loc:
            # Checks across fields say which field is at fault: "window_end: the window ...".
            if (m := _FIELD_PREFIX.match(reason)) and m[1] in model.model_fields:
                return m[1], m[2]
            return ROW, reason
        return str(loc[0]), reason
    field_ = str(loc[0]) if loc else ROW
    if kind == "missing":
        reason = "required, but empty"
    elif kind in ("float_parsing", "float_type"):
        reason = f"{value!r} is not a number"
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        reason = f"{value!r} is not a whole number"
    elif kind == "finite_number":
        reason = f"{value!r} is not a finite number"
    elif kind == "greater_than_equal":
        reason = "must not be negative" if ctx["ge"] == 0 else f"must be at least {ctx['ge']}"
    elif kind == "greater_than":
        reason = f"must be more than {ctx['gt']}"
    elif kind == "less_than_equal":
        reason = f"must be at most {ctx['le']}"
    elif kind == "less_than":
        reason = f"must be less than {ctx['lt']}"
    elif kind == "enum":
        allowed = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        label = _ENUM_LABELS.get(frozenset(allowed), "value")
        reason = f"unknown {label} {value!r} (expected {', '.join(allowed)})"
    elif kind in ("bool_parsing", "bool_type"):
        reason = f"{value!r} is not true or false"
    elif kind.startswith("date"):
        reason = f"{value!r} is not a date (YYYY-MM-DD)"
    elif kind == "string_type":
        reason = f"{value!r} must be text"
    elif kind == "extra_forbidden":
        reason = "unknown field"
    else:
        message: str = error["msg"]
        reason = message[:1].lower() + message[1:]
    # Inside a mapping (partner capacity), say which entry: "food_parcel: must not be negative".
    if len(loc) > 1 and isinstance(loc[1], str) and loc[-1] != "[key]":
        reason = f"{loc[1]}: {reason}"
    return field_, reason


# ---------------------------------------------------------------------------------------------
# Reading a day
# ---------------------------------------------------------------------------------------------
class Locator(Protocol):
    """Places points in the borough's wards (``kst_match.geo.areas.Areas``)."""

    wards: Mapping[str, str]  # ward code -> ward name

    def locate_many(self, lon: Sequence[float], lat: Sequence[float]) -> Sequence[Any]:
        """For each point, its place (with ``ward_code``), or None outside the borough."""
        ...


@dataclass(frozen=True)
class FileSummary:
    """How one input file fared: data rows read, rows in the day, rows rejected."""

    file: str
    path: Path | None
    rows: int
    kept: int
    rejected: int


@dataclass(frozen=True)
class DayReport:
    """A day read from a folder, every issue found, and a summary per file."""

    day: Day
    issues: list[Issue]
    files: list[FileSummary]

    @property
    def ok(self) -> bool:
        return not self.issues


def read_day(
    directory: Path, date: dt.date | None = None, areas: Locator | None = None
) -> tuple[Day, list[Issue]]:
    """Read a day's files from ``directory`` into a ``Day``, with every issue found.

    See ``check_day``; this returns only the day and the issues.
    """
    report = check_day(directory, date, areas)
    return report.day, report.issues


def _find(directory: Path, stem: str) -> tuple[Path | None, str, list[Issue]]:
    """The file for ``stem`` in ``directory`` (``.csv`` or ``.geojson``), its display name."""
    found = [directory / f"{stem}{s}" for s in SUFFIXES if (directory / f"{stem}{s}").is_file()]
    if len(found) > 1:
        issue = Issue(
            found[0].name,
            0,
            FILE,
            f"both {found[0].name} and {found[1].name} exist; {found[0].name} is read, remove one",
        )
        return found[0], found[0].name, [issue]
    if found:
        return found[0], found[0].name, []
    if stem in OPTIONAL_FILES:
        bundled = paths.DATA_DIR / f"{stem}.csv"
        if bundled.is_file():
            return bundled, f"{stem}.csv (bundled)", []
    expected = " or ".join(f"{stem}{s}" for s in SUFFIXES)
    return (
        None,
        f"{stem}.csv",
        [Issue(f"{stem}.csv", 0, FILE, f"not found in {directory} (expected {expected})")],
    )


def check_day(
    directory: Path, date: dt.date | None = None, areas: Locator | None = None
) -> DayReport:
    """Read and check a day's files: ``needs`` and ``volunteers`` (required), ``partners`` and
    ``sites`` (default: the bundled ones), each ``.csv`` or ``.geojson``.

    Beyond each file's own checks (``read_records``), rows are dropped, each with an issue, when:
    a need's site, a volunteer's partner (or ``shared_with``) or a partner's site is unknown (or
    was itself rejected); a partner covers an unknown ward code; a need, a volunteer's home or a
    site lies outside the borough. Each need gets its ``ward``. With ``date``, needs of other
    dates are left out (not an error); without it, all needs must share one date.
    ``previous_volunteer`` may name anyone (they need not be available today).
    ``areas`` places points in wards (default: ``kst_match.geo.areas.Areas.default()``).
    """
    directory = Path(directory)
    tables: dict[str, _Table[Any]] = {}
    paths: dict[str, Path | None] = {}
    issues: list[Issue] = []
    for stem, model in FILES.items():
        path, name, found_issues = _find(directory, stem)
        issues.extend(found_issues)
        paths[stem] = path
        tables[stem] = _read_table(path, model, name) if path else _Table(name)
    needs: _Table[Need] = tables["needs"]
    volunteers: _Table[Volunteer] = tables["volunteers"]
    partners: _Table[Partner] = tables["partners"]
    sites: _Table[Site] = tables["sites"]

    day_date = _choose_date(needs, date)

    if areas is None:
        # Imported here: geography is the step after validation, needed only to read a day.
        from kst_match.geo.areas import Areas

        areas = Areas.default()
    _check_locations(areas, needs, volunteers, sites)
    _check_references(areas, needs, volunteers, partners, sites)

    for table in tables.values():
        issues.extend(sorted(table.issues, key=lambda i: i.row))
    day = Day(
        date=day_date,
        needs=tuple(r for _, r in needs.records),
        volunteers=tuple(r for _, r in volunteers.records),
        partners=tuple(r for _, r in partners.records),
        sites=tuple(r for _, r in sites.records),
    )
    files = [
        FileSummary(
            table.file,
            paths[stem],
            table.rows,
            len(table.records),
            len({i.row for i in table.issues if i.row > (0 if table.geojson else 1)}),
        )
        for stem, table in tables.items()
    ]
    return DayReport(day, issues, files)


def _choose_date(needs: _Table[Need], date: dt.date | None) -> dt.date:
    """Keep the needs of one date and return it; with no date given, the needs must agree."""
    dates = Counter(need.date for _, need in needs.records)
    if date is not None:
        if needs.records and date not in dates:
            found = ", ".join(str(d) for d in sorted(dates))
            needs.issue(0, "date", f"no needs on {date} (the file has needs on {found})")
        needs.records = [(row, need) for row, need in needs.records if need.date == date]
        return date
    if not dates:
        return dt.date.today()  # no needs at all: the issues say why
    chosen = dates.most_common(1)[0][0]
    if len(dates) > 1:
        counts = ", ".join(f"{d}: {n}" for d, n in sorted(dates.items()))
        first_other = next(row for row, need in needs.records if need.date != chosen)
        needs.issue(
            first_other,
            "date",
            f"the needs span several dates ({counts}); pass --date to choose one "
            f"(only {chosen} is read)",
            next(str(n.date) for row, n in needs.records if row == first_other),
        )
        needs.records = [(row, need) for row, need in needs.records if need.date == chosen]
    return chosen


def _check_locations(
    areas: Locator, needs: _Table[Need], volunteers: _Table[Volunteer], sites: _Table[Site]
) -> None:
    """Drop rows outside the borough; set each need's ward. One ``locate_many`` call for all."""
    tables: list[_Table[Any]] = [sites, volunteers, needs]
    records = [record for table in tables for _, record in table.records]
    if not records:
        return
    places = list(areas.locate_many([r.lon for r in records], [r.lat for r in records]))
    start = 0
    for table in tables:
        located = places[start : start + len(table.records)]
        start += len(table.records)
        kept = []
        for (row, record), place in zip(table.records, located, strict=True):
            if place is None:
                where = "home" if table is volunteers else "location"
                table.issue(
                    row,
                    "lon/lat",
                    f"the {where} is outside the Royal Borough of Kingston upon Thames",
                    f"{record.lon}, {record.lat}",
                )
            elif table is needs:
                kept.append((row, record.model_copy(update={"ward": place.ward_code})))
            else:
                kept.append((row, record))
        table.drop(kept)


def _unknown(kind: str, key: str, table: _Table[Any]) -> str:
    """Why a reference to ``key`` in ``table`` fails: never there, or rejected on some row."""
    if key in table.rejected_ids:
        row = table.rejected_ids[key]
        where = f"{table.file} {'feature' if table.geojson else 'row'} {row}" if row else table.file
        return f"{kind} {key!r} was rejected (see {where})"
    return f"unknown {kind} {key!r} (not in {table.file})"


def _check_references(
    areas: Locator,
    needs: _Table[Need],
    volunteers: _Table[Volunteer],
    partners: _Table[Partner],
    sites: _Table[Site],
) -> None:
    """Drop rows that refer to a site, partner or ward that is not there, each with an issue."""
    site_ids = {site.id for _, site in sites.records}
    ward_codes = set(areas.wards)
    kept_partners = []
    for row, partner in partners.records:
        bad = False
        for site_id in sorted(partner.sites - site_ids):
            partners.issue(
                row, "sites", _unknown("site", site_id, sites), ";".join(sorted(partner.sites))
            )
            bad = True
        for code in sorted(partner.wards - ward_codes):
            partners.issue(
                row,
                "wards",
                f"unknown ward code {code!r} (not one of the borough's {len(ward_codes)} wards)",
                ";".join(sorted(partner.wards)),
            )
            bad = True
        if not bad:
            kept_partners.append((row, partner))
    partners.drop(kept_partners)

    partner_ids = {partner.id for _, partner in partners.records}
    kept_volunteers = []
    for row, volunteer in volunteers.records:
        bad = False
        if volunteer.partner not in partner_ids:
            volunteers.issue(
                row, "partner", _unknown("partner", volunteer.partner, partners), volunteer.partner
            )
            bad = True
        for other in sorted(volunteer.shared_with - partner_ids):
            volunteers.issue(
                row,
                "shared_with",
                _unknown("partner", other, partners),
                ";".join(sorted(volunteer.shared_with)),
            )
            bad = True
        if not bad:
            kept_volunteers.append((row, volunteer))
    volunteers.drop(kept_volunteers)

    kept_needs = []
    for row, need in needs.records:
        if need.site is not None and need.site not in site_ids:
            needs.issue(row, "site", _unknown("site", need.site, sites), need.site)
        else:
            kept_needs.append((row, need))
    needs.drop(kept_needs)


def print_report(report: DayReport, console: Any = None) -> None:
    """Print a report as tables: every issue (file, row, field, reason), then rows per file."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    if report.issues:
        issues = Table(title=f"{len(report.issues)} issue(s)", title_justify="left")
        for column in ("file", "row", "field", "reason"):
            issues.add_column(column, overflow="fold")
        for issue in report.issues:
            reason = issue.reason
            if issue.value is not None and repr(issue.value) not in reason:
                reason += f" (got {issue.value!r})"
            cells = (issue.file, str(issue.row) if issue.row else "", issue.field, reason)
            # Text, not markup: the values are the input files' own, "[/yellow]" included.
            issues.add_row(*(Text(cell) for cell in cells))
        console.print(issues)
    summary = Table(title=f"Day {report.day.date}", title_justify="left")
    for column, justify in (
        ("file", "left"),
        ("rows read", "right"),
        ("kept", "right"),
        ("rejected", "right"),
    ):
        summary.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in report.files:
        summary.add_row(Text(f.file), str(f.rows), str(f.kept), str(f.rejected))
    console.print(summary)
    if report.ok:
        console.print("[green]No issues.[/green]")
    else:
        console.print(
            f"[red]{len(report.issues)} issue(s).[/red] Rows are counted as in a spreadsheet: "
            "the header is row 1, the first data row is row 2 (GeoJSON: feature number)."
        )
