"""Read and validate the day's input files (CSV / GeoJSON) into a ``Day``; write records back.

CSV conventions, the same for every file: one column per model field, lists ``;``-separated,
partner capacity as ``kind:amount;kind:amount``, booleans ``true``/``false``, times ``HH:MM``
(or ``HH:MM:00``), dates ``YYYY-MM-DD`` or ``DD/MM/YYYY``, an empty cell for nothing. Files are
UTF-8 (a byte-order mark is allowed), comma-separated; a file separated by semicolons or tabs
(a spreadsheet's export in many locales) is read as such, with a warning.

Places: a need, a volunteer's home or a site is at its ``lon``/``lat``, or, when both are
empty, at the centroid of its ``postcode`` (``kst_match.geo.postcodes``). A postcode that is
not one of the borough's rejects its row; coordinates far from their postcode get a warning.

GeoJSON conventions: a FeatureCollection of features whose ``properties`` are the same fields
as the CSV columns; a ``Point`` geometry gives ``lon`` and ``lat`` (WGS84 degrees).

Nothing is thrown away silently and nothing good is lost: every rejected row becomes an
``Issue`` (file, row, field, reason, the value read) and every other row is kept.

Bounds (the README's "Input files" lists them): a file of at most ``MAX_FILE_BYTES`` and
``MAX_ROWS`` data rows; a cell of at most ``MAX_TEXT`` characters, with no NUL or other control
character, and no line break outside ``access_notes``; GeoJSON nested at most
``MAX_JSON_DEPTH`` deep; an id used once across all the day's files. Numbers are bounded by the
model's fields (``kst_match.model``).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from kst_match import paths
from kst_match.geo.postcodes import NEAR_M, Postcodes, distance_m
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
    normalise_postcode,
)

# Columns computed from other columns, never read from or written to files.
DERIVED_FIELDS = {"ward", "lsoa", "imd_decile"}

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

# Bounds on a file: enough for a borough's busiest day many times over, small enough that
# reading it stays within a few hundred MB of memory.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
MAX_TEXT = 4096  # characters in one cell or property
CSV_FIELD_LIMIT = csv.field_size_limit()  # 128 KiB: the csv module refuses longer cells
MAX_RECORD_LINES = 64  # physical lines one CSV row may span (a multi-line note)
MAX_JSON_DEPTH = 32  # nesting of objects and arrays in a GeoJSON file (a Point needs 5)
MULTILINE_FIELDS = frozenset({"access_notes"})  # the only cells that may hold a line break
# Delimiters recognised besides the comma, and how they are called in messages.
OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
SNIFF_CHARS = 4096  # of the header line: enough for any header, bounded for the sniffer
SHOWN = 120  # characters of a value quoted in a message
# A file with more issues than this is refused as a whole (the first ``EXAMPLES`` shown): it
# is not the file it should be, and its issues would otherwise fill memory.
MAX_ISSUES = 100_000
EXAMPLES = 100
# Fields whose values repeat from row to row (see ``_Table.keep``); ids, names and places do not.
SHARED_FIELDS = frozenset(
    {
        "date", "window_start", "window_end", "duration", "load", "skills", "language",
        "previous_volunteer", "site", "postcode", "partner", "shared_with", "languages",
        "capacity", "shift_start", "shift_end", "max_tasks", "max_travel", "services", "wards",
        "sites", "opens", "closes",
    }
)  # fmt: skip

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
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # control characters but tab, CR, LF
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_FIELD_PREFIX = re.compile(r"(\w+): (.*)", re.DOTALL)

M = TypeVar("M", bound=BaseModel)


# ---------------------------------------------------------------------------------------------
# Issues
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in an input file.

    ``row`` counts as a spreadsheet does: in a CSV file the header is row 1, so the first data
    row is row 2. In a GeoJSON file ``row`` is the feature's number, counting from 1. Row 0 means
    the file as a whole. ``field`` is a column name, or ``(file)`` / ``(row)`` for a problem with
    the whole file or row, ``lon/lat`` for a location. ``value`` is the text read, if any;
    ``id`` the row's id, when one could be read. ``rejects`` is False for a warning that leaves
    its row (or every row) in the day, say an unknown column whose cells are ignored.
    """

    file: str
    row: int
    field: str
    reason: str
    value: str | None = None
    id: str | None = None
    rejects: bool = True

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
    left_out: int = 0  # rows of other dates, not part of the day
    slash_dates: bool = False  # some dates written DD/MM/YYYY
    rejected_ids: dict[str, int] = field(default_factory=dict)  # id -> row, rows dropped
    shared: dict[object, Any] = field(default_factory=dict, repr=False)  # see ``keep``
    reading: bool = False  # while the file is parsed, past ``MAX_ISSUES`` it is refused

    def keep(self, row: int, record: M) -> None:
        """Keep a valid record, sharing its values with equal ones of the rows before.

        A large file repeats most values (dates, times, postcodes, sites) and every record
        carries pydantic's set of the fields it was given; one copy of each, shared, halves
        the memory a day of 200,000 needs takes. The record is frozen and the values equal,
        so nothing that reads it can tell.
        """
        values = record.__dict__
        for name in SHARED_FIELDS.intersection(values):
            value = values[name]
            if value is not None and not isinstance(value, dict):  # a dict cannot be a key
                values[name] = self.shared.setdefault((name, type(value), value), value)
        given = record.__pydantic_fields_set__
        object.__setattr__(
            record, "__pydantic_fields_set__", self.shared.setdefault(frozenset(given), given)
        )
        self.records.append((row, record))

    def issue(
        self,
        row: int,
        field_: str,
        reason: str,
        value: object = None,
        *,
        id: str | None = None,
        rejects: bool = True,
    ) -> None:
        if self.reading and len(self.issues) >= MAX_ISSUES:
            raise _TooManyIssues
        self.issues.append(Issue(self.file, row, field_, reason, _show(value), id or None, rejects))

    def drop(self, keep: Iterable[tuple[int, M]]) -> None:
        """Keep only ``keep`` (a subset of ``records``), remembering the ids of the others."""
        kept = list(keep)
        kept_rows = {row for row, _ in kept}
        for row, record in self.records:
            if row not in kept_rows:
                self.rejected_ids.setdefault(record.id, row)  # type: ignore[attr-defined]
        self.records = kept

    def refuse_all(self, reason: str) -> None:
        """The file as a whole is refused: no row of it is read. The first issues found are
        kept as examples; the rest are moot."""
        del self.issues[EXAMPLES:]
        self.issues.insert(0, Issue(self.file, 0, FILE, reason))
        self.records = []


class _TooManyIssues(Exception):
    """A file has more than ``MAX_ISSUES`` issues: it is refused as a whole."""


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
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


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
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        table.issue(0, FILE, "is neither .csv nor .geojson")
        return table
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            table.refuse_all(
                f"is {size / 2**20:.1f} MiB; a file may be at most {MAX_FILE_BYTES // 2**20} MiB"
                f" and {MAX_ROWS:,} rows: split the day into smaller files"
            )
            return table
        table.reading = True
        if suffix == ".geojson":
            _parse_geojson(path.read_bytes(), model, table)
        else:
            with path.open("rb") as binary:
                _parse_csv(binary, model, table)
    except OSError as exc:
        table.refuse_all(f"cannot be read: {exc.strerror or exc}")
    except _TooManyIssues:
        table.refuse_all(
            f"more than {MAX_ISSUES:,} issues, the first {EXAMPLES} below; is it the right"
            " file? Fix these and check again"
        )
    finally:
        table.reading = False
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


def _text_problem(field_: str, text: str) -> str | None:
    """Why a cell's text cannot be read as ``field_`` (length, control characters), or None."""
    if "\x00" in text:
        return "contains a NUL byte"
    if m := _CONTROL.search(text):
        return f"contains the control character U+{ord(m.group()):04X}"
    if len(text) > MAX_TEXT:
        return f"is {len(text):,} characters long; a cell may hold at most {MAX_TEXT:,}"
    if field_ not in MULTILINE_FIELDS and ("\n" in text or "\r" in text):
        return "contains a line break"
    return None


def _columns(model: type[BaseModel]) -> tuple[list[str], list[str]]:
    """The input columns of ``model`` and the required ones, in field order."""
    columns = [n for n in model.model_fields if n not in DERIVED_FIELDS]
    required = [n for n in columns if model.model_fields[n].is_required()]
    return columns, required


LOCATION = ("lon", "lat")


def _missing(model: type[BaseModel], required: Sequence[str], present: Iterable[str]) -> list[str]:
    """The required columns not ``present``; lon and lat may be left out for a postcode."""
    present = set(present)
    missing = [c for c in required if c not in present]
    if "postcode" in model.model_fields and "postcode" in present:
        missing = [c for c in missing if c not in LOCATION]
    return missing


def _missing_reason(model: type[BaseModel], name: str, what: str) -> str:
    """Why a required column (``what``: column or property) is missing, with the way out."""
    if name in LOCATION and "postcode" in model.model_fields:
        return f"a required {what} is missing (give lon and lat, or postcode)"
    return f"a required {what} is missing"


class _LongRecord(Exception):
    """One CSV row spans more than ``MAX_RECORD_LINES`` lines: a quote that never closes."""


class _Lines:
    """A CSV file's physical lines for ``csv.reader``, read one at a time, remembering the
    lines (and their byte offsets) of the row being read; lines can be put back to read again.
    """

    def __init__(self, text: IO[str], start: int) -> None:
        self._text = text
        self._offset = start  # byte offset of the next line in the file
        self._back: list[tuple[str, int]] = []  # put back, the next one last
        self.taken: list[tuple[str, int]] = []  # lines of the current row, with offsets

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= MAX_RECORD_LINES:
            raise _LongRecord
        if self._back:
            line, offset = self._back.pop()
        else:
            line = self._text.readline()
            if not line:
                raise StopIteration
            offset = self._offset
            self._offset += len(line.encode("utf-8", "surrogateescape"))
        self.taken.append((line, offset))
        return line

    def put_back(self, lines: Sequence[tuple[str, int]]) -> None:
        self._back.extend(reversed(lines))


def _next_row(reader: Iterator[list[str]], lines: _Lines) -> tuple[list[str] | None, str | None]:
    """The next CSV row's cells, or None and why it could not be parsed; StopIteration at the
    end. ``lines.taken`` holds the row's physical lines."""
    lines.taken = []
    try:
        return next(reader), None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            return None, f"a cell is longer than {CSV_FIELD_LIMIT:,} characters"
        return None, f"not valid CSV: {exc}"
    except _LongRecord:
        return None, f"the row runs on over more than {MAX_RECORD_LINES} lines"


def _first_bad_byte(taken: Sequence[tuple[str, int]]) -> int:
    """The byte offset of the first undecodable byte in a row's lines."""
    for line, offset in taken:
        if m := _SURROGATE.search(line):
            return offset + len(line[: m.start()].encode("utf-8", "surrogateescape"))
    return taken[0][1] if taken else 0


def _unterminated(
    cells: list[str] | None,
    taken: Sequence[tuple[str, int]],
    width: int,
    least: int,
    delimiter: str = ",",
) -> bool:
    """Whether a row spanning several lines is a quote left open, swallowing the rows below.

    A cell may hold a line break (a note typed over two lines, its closing quote on the last);
    it is taken for an open quote when the row could not be parsed, has more cells than the
    header's ``width``, ends on a line with no quote (the end of the file, still quoted), or
    a line inside it is on its own a row: at least ``least`` cells (up to the last required
    column) and more than one.
    """
    if len(taken) < 2:
        return False
    if cells is None or len(cells) > width or '"' not in taken[-1][0]:
        return True
    return any(
        len(next(csv.reader([line], delimiter=delimiter), [])) >= max(least, 2)
        for line, _ in taken[1:-1]
    )


def _parse_csv(binary: IO[bytes], model: type[M], table: _Table[M]) -> None:
    columns, required = _columns(model)
    bom = len(codecs.BOM_UTF8) if binary.read(3) == codecs.BOM_UTF8 else 0
    binary.seek(bom)
    text = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape", newline="")
    lines = _Lines(text, bom)
    delimiter = _delimiter(lines, table)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header, error = _next_row(reader, lines)
    except StopIteration:
        header, error = [], None
    if error is not None or header is None:
        table.refuse_all(f"row 1 (the header): {error}")
        return
    if not any(cell.strip() for cell in header):
        table.issue(1, FILE, f"the file is empty; expected a header row ({', '.join(columns)})")
        return
    if any(_SURROGATE.search(cell) for cell in header):
        table.issue(1, FILE, _not_utf8("".join(header), _first_bad_byte(lines.taken)))
        return
    header = [cell.strip() for cell in header]

    # Which field each column feeds (None: ignored); unknown and repeated columns are issues on
    # the header, and their cells are ignored so that the rows below can still be used.
    targets: list[str | None] = []
    for number, name in enumerate(header, start=1):
        if not name:
            table.issue(1, f"column {number}", "the column has no name", rejects=False)
            targets.append(None)
        elif name in targets:
            table.issue(
                1, name, "the column appears more than once; only the first is read", rejects=False
            )
            targets.append(None)
        elif name in DERIVED_FIELDS:
            targets.append(None)  # computed when the day is read; a stale copy is ignored
        elif name not in columns:
            table.issue(
                1,
                name[:SHOWN],
                f"unknown column, its cells are ignored (the columns are: {', '.join(columns)})",
                rejects=False,
            )
            targets.append(None)
        else:
            targets.append(name)
    missing = _missing(model, required, (t for t in targets if t))
    for name in missing:
        table.issue(1, name, _missing_reason(model, name, "column"))
    id_column = targets.index("id") if "id" in targets else None
    least = 1 + max((targets.index(c) for c in required if c in targets), default=0)

    seen: dict[str, int] = {}
    row = 1
    while True:
        try:
            cells, error = _next_row(reader, lines)
        except StopIteration:
            break
        row += 1
        taken = lines.taken
        row_id = None
        if cells is not None and id_column is not None and id_column < len(cells):
            row_id = cells[id_column].strip()[:MAX_TEXT] or None
        unterminated = _unterminated(cells, taken, len(targets), least, delimiter)
        if cells is not None and not unterminated and not any(c.strip() for c in cells):
            continue  # a blank row
        table.rows += 1
        if table.rows > MAX_ROWS:
            table.refuse_all(
                f"has more than {MAX_ROWS:,} data rows; split the day into smaller files"
            )
            return
        if unterminated:
            # Only the first line is this row; the lines below are read again as rows.
            where = _open_quote_column(taken[0][0], targets, delimiter)
            last = "" if error is None else " or more"
            table.issue(
                row,
                where,
                f"a quote opened in this row is never closed: it would swallow rows {row + 1}"
                f" to {row + len(taken) - 1}{last}; those rows are read on their own",
                id=row_id,
            )
            lines.put_back(taken[1:])
            continue
        if cells is None:
            table.issue(row, ROW, error or "cannot be read", id=row_id)
            continue
        if missing:
            continue  # no row can be valid; the header issue says why, once
        if len(cells) > len(targets) and any(c.strip() for c in cells[len(targets) :]):
            table.issue(
                row,
                ROW,
                f"has {len(cells)} cells but the header has {len(targets)} columns",
                id=row_id,
            )
            continue
        data: dict[str, str] = {}
        bad = False
        for target, cell in zip(targets, cells, strict=False):
            if target is None or not cell.strip():
                continue  # an empty cell is no value: the field's default, or "required"
            if _SURROGATE.search(cell):
                reason = _not_utf8(cell, _first_bad_byte(taken))
                table.issue(row, target, reason, cell, id=row_id)
                bad = True
            elif problem := _text_problem(target, cell):
                table.issue(row, target, problem, cell[:80], id=row_id)
                bad = True
            data[target] = cell
        if bad:
            table.rejected_ids.setdefault(data.get("id", "").strip(), row)
            continue
        _add_record(model, data, row, table, seen)
    if table.rows == 0:
        table.issue(2, FILE, "no data rows below the header")


def _delimiter(lines: _Lines, table: _Table[Any]) -> str:
    """The file's delimiter, from its header line: a comma, or a semicolon, tab or bar found
    by ``csv.Sniffer`` when the line has no comma-separated columns (then with a warning).

    Only the header is sniffed: its cells are names, while a row's cells may hold ``;`` lists.
    """
    try:
        first = next(lines)
    except (StopIteration, _LongRecord):
        return ","
    finally:
        lines.put_back(lines.taken)
        lines.taken = []
    header = first.rstrip("\r\n")[:SNIFF_CHARS]
    try:
        if len(next(csv.reader([header]), [])) > 1 or not header.strip():
            return ","
        found = csv.Sniffer().sniff(header, delimiters="".join(OTHER_DELIMITERS)).delimiter
        if len(next(csv.reader([header], delimiter=found), [])) < 2:
            return ","
    except csv.Error:
        return ","
    table.issue(
        1,
        FILE,
        f"the columns are separated by {OTHER_DELIMITERS[found]}, not commas; the file is read"
        " that way (a spreadsheet's 'CSV UTF-8 (comma delimited)' export avoids this)",
        rejects=False,
    )
    return found


def _open_quote_column(line: str, targets: Sequence[str | None], delimiter: str = ",") -> str:
    """The column in which a line's unclosed quote opens (its cell count on that line)."""
    cells = next(csv.reader([line], delimiter=delimiter), [])
    index = max(len(cells) - 1, 0)
    return (targets[index] if index < len(targets) else None) or ROW


def _json_depth(text: str) -> int:
    """How deeply objects and arrays nest in JSON text (strings skipped)."""
    steps = (1 if b in "[{" else -1 for b in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)))
    return max(itertools.accumulate(steps), default=0)


def _parse_geojson(raw: bytes, model: type[M], table: _Table[M]) -> None:
    columns, required = _columns(model)
    located = "lon" in model.model_fields
    text, _, bad_offset = _decode(raw)
    del raw
    if bad_offset is not None:
        # JSON text must be UTF-8 (RFC 8259); its structure cannot be trusted otherwise.
        table.issue(0, FILE, _not_utf8(text, bad_offset))
        return
    if not text.strip():
        table.issue(0, FILE, "the file is empty; expected a GeoJSON FeatureCollection")
        return
    if (depth := _json_depth(text)) > MAX_JSON_DEPTH:
        table.issue(
            0,
            FILE,
            f"objects and arrays nest {depth} deep; GeoJSON here needs at most {MAX_JSON_DEPTH}",
        )
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        table.issue(0, FILE, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
        return
    except (ValueError, RecursionError) as exc:  # a number of over 4300 digits, say
        table.issue(0, FILE, f"not valid JSON: {exc}")
        return
    del text
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        table.issue(0, FILE, "not a GeoJSON FeatureCollection")
        return
    features = document.get("features")
    if not isinstance(features, list) or not features:
        table.issue(0, FILE, "the FeatureCollection has no features")
        return
    if len(features) > MAX_ROWS:
        table.rows = len(features)
        table.refuse_all(
            f"has {len(features):,} features; at most {MAX_ROWS:,}: split the day into smaller"
            " files"
        )
        return

    rows: list[tuple[int, dict[str, Any]]] = []
    present: set[str] = set()
    unknown: set[str] = set()
    for number, feature in enumerate(features, start=1):
        features[number - 1] = None  # read once: let the parsed JSON go as the rows are made
        table.rows += 1
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            table.issue(number, ROW, "not a GeoJSON Feature")
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            table.issue(number, "properties", "must be an object")
            continue
        row_id = properties.get("id")
        row_id = row_id[:MAX_TEXT] if isinstance(row_id, str) else None
        data: dict[str, Any] = {}
        bad = False
        for key, value in properties.items():
            if key in DERIVED_FIELDS:
                continue
            if key not in columns:
                if key not in unknown:  # once per property, like an unknown CSV column
                    unknown.add(key)
                    table.issue(
                        number,
                        key[:MAX_TEXT],
                        f"unknown property, ignored (the properties are: {', '.join(columns)})",
                        rejects=False,
                    )
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            texts = value if isinstance(value, list) else [value]
            problem = next(
                (p for t in texts if isinstance(t, str) and (p := _text_problem(key, t))), None
            )
            if problem:
                table.issue(number, key, problem, str(value)[:80], id=row_id)
                bad = True
            data[key] = value
        geometry = feature.get("geometry")
        if located and geometry is not None:
            kind = geometry.get("type") if isinstance(geometry, dict) else None
            coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
            if kind != "Point" or not isinstance(coordinates, list) or len(coordinates) < 2:
                shown = kind if isinstance(kind, str) and kind else "nothing"
                table.issue(number, "geometry", f"expected a Point, got {shown[:80]}", id=row_id)
                continue
            data["lon"], data["lat"] = coordinates[0], coordinates[1]  # GeoJSON is lon, lat
        present.update(data)  # the property is there, even on a row rejected for its value
        if bad:
            table.rejected_ids.setdefault(str(row_id or ""), number)
            continue
        rows.append((number, data))

    # A field no feature has is reported once for the file, like a missing CSV column.
    absent = _missing(model, required, present)
    for name in absent:
        table.issue(0, name, _missing_reason(model, name, "property") + " from every feature")
    if absent:
        return
    seen: dict[str, int] = {}
    rows.reverse()
    while rows:  # each row's values let go once its record is made
        number, data = rows.pop()
        _add_record(model, data, number, table, seen)


def _add_record(
    model: type[M], data: dict[str, Any], row: int, table: _Table[M], seen: dict[str, int]
) -> None:
    """Validate one row; keep it, or record why not. ``seen`` maps ids read so far to rows."""
    record_id = str(data.get("id", "")).strip()[:MAX_TEXT]
    if record_id:
        if record_id in seen:
            where = "feature" if table.geojson else "row"
            table.issue(
                row,
                "id",
                f"duplicate id (first on {where} {seen[record_id]})",
                record_id,
                id=record_id,
            )
            return
        seen[record_id] = row
    if isinstance(date := data.get("date"), str) and "/" in date:
        table.slash_dates = True
    given = "postcode" in model.model_fields and _given(data.get("postcode"))
    unplaced = given and not any(_given(data.get(c)) for c in LOCATION)
    placed, centroid = _place_by_postcode(data, row, table, record_id) if given else (True, None)
    try:
        record = model.model_validate(data)
    except ValidationError as exc:
        table.rejected_ids.setdefault(record_id, row)
        for error in exc.errors(include_url=False):
            field_, reason = _explain(error, model)
            if error["type"] == "missing" and field_ in LOCATION:
                if unplaced:
                    continue  # the postcode's issue, if any, says why the row has no place
                if "postcode" in model.model_fields:
                    reason += " (give lon and lat, or a postcode)"
            table.issue(row, field_, reason, data.get(field_), id=record_id)
        return
    if not placed:
        table.rejected_ids.setdefault(record_id, row)
        return
    if centroid is not None and not unplaced:
        _check_near_postcode(record, centroid, row, table, record_id)
    table.keep(row, record)


def _given(value: object) -> bool:
    """Whether a cell or property holds a value (not empty, not only spaces)."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def _place_by_postcode(
    data: dict[str, Any], row: int, table: _Table[Any], record_id: str
) -> tuple[bool, tuple[float, float] | None]:
    """Look up a row's postcode: (False, None) with an issue if it is not one of the borough's;
    else (True, its centroid), and the row's lon/lat set to it when both are empty.

    A postcode that is not a postcode at all is left to the model, which says so.
    """
    raw = data["postcode"]
    try:
        code = normalise_postcode(raw)
    except ValueError:
        return True, None
    if not isinstance(code, str):
        return True, None
    postcodes = Postcodes.default()
    centroid = postcodes.find(code)
    if centroid is None:
        table.issue(row, "postcode", postcodes.why_unknown(code), raw, id=record_id)
        return False, None
    if not any(_given(data.get(c)) for c in LOCATION):
        data["lon"], data["lat"] = centroid
    return True, centroid


def _check_near_postcode(
    record: BaseModel,
    centroid: tuple[float, float],
    row: int,
    table: _Table[Any],
    record_id: str,
) -> None:
    """Warn (the row is kept) when a row's lon/lat lie more than ``NEAR_M`` from the centroid
    of its postcode: one of the two is probably wrong."""
    lon, lat = record.lon, record.lat  # type: ignore[attr-defined]
    far = distance_m(lon, lat, *centroid)
    if far <= NEAR_M:
        return
    shown = f"{far / 1000:.1f} km" if far >= 1000 else f"{far:.0f} m"
    table.issue(
        row,
        "postcode",
        f"lon/lat ({lon}, {lat}) lie {shown} from the centre of"
        f" {record.postcode} (more than {NEAR_M:.0f} m): check the postcode or the coordinates;"  # type: ignore[attr-defined]
        " the row is kept at its lon/lat",
        id=record_id,
        rejects=False,
    )


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
        reason = f"{value!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)"
    elif kind == "string_type":
        reason = f"{value!r} must be text"
    elif kind == "string_too_long":
        reason = f"is longer than {ctx['max_length']} characters"
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
        """For each point, its place (with ``ward_code`` and ``need_fields()``: the ward, LSOA
        and decile a need there gets), or None outside the borough."""
        ...


@dataclass(frozen=True)
class FileSummary:
    """How one input file fared: data rows read, rows in the day, rows rejected, and rows of
    other dates left out (needs only); ``rows == kept + rejected + left_out``."""

    file: str
    path: Path | None
    rows: int
    kept: int
    rejected: int
    left_out: int = 0


@dataclass(frozen=True)
class DayReport:
    """A day read from a folder, every issue found, and a summary per file."""

    day: Day
    issues: list[Issue]
    files: list[FileSummary]

    @property
    def ok(self) -> bool:
        """No issue at all, not even a warning (``data check`` exits 1 otherwise)."""
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
    site lies outside the borough. Each need gets its ``ward``, ``lsoa`` and ``imd_decile``.
    With ``date``, needs of other dates are left out (not an error); without it, all needs must
    share one date.
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
    _check_unique_ids([sites, partners, volunteers, needs])

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
            table.rows - len(table.records) - table.left_out,
            table.left_out,
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
            hint = ""
            if needs.slash_dates and any(_swapped(d) == date for d in dates):
                hint = (
                    "; dates written with / are read day first (DD/MM/YYYY): if the file"
                    " writes the month first, write its dates as YYYY-MM-DD"
                )
            needs.issue(
                0,
                "date",
                f"no needs on {date} (the file has needs on {found}){hint}",
                rejects=False,
            )
        needs.left_out = sum(n for d, n in dates.items() if d != date)
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
        needs.left_out = sum(n for d, n in dates.items() if d != chosen)
        needs.records = [(row, need) for row, need in needs.records if need.date == chosen]
    return chosen


def _swapped(date: dt.date) -> dt.date | None:
    """``date`` with its day and month exchanged, if that is a date."""
    try:
        return date.replace(month=date.day, day=date.month)
    except ValueError:
        return None


def _check_unique_ids(tables: Sequence[_Table[Any]]) -> None:
    """Reject a row whose id is already used in another file, naming both places.

    ``tables`` are in order of precedence: a clash drops the row of the later file, so a site
    or a partner, which other rows refer to, is kept over a volunteer or a need.
    """
    first: dict[str, tuple[str, int]] = {}
    for number, table in enumerate(tables, start=1):
        last = number == len(tables)  # its ids need not be remembered: no file comes after
        kept = []
        for row, record in table.records:
            other = first.get(record.id)
            if other is not None and other[0] != table.file:
                where = _where(*other)
                table.issue(
                    row,
                    "id",
                    f"the id {record.id!r} is already used in {where}; ids must be unique"
                    " across the day's files",
                    record.id,
                    id=record.id,
                )
                continue
            if not last:
                first.setdefault(record.id, (table.file, row))
            kept.append((row, record))
        table.drop(kept)


def _where(file: str, row: int) -> str:
    """``needs.csv row 7`` or ``needs.geojson feature 3``: as ``Issue.where`` says it."""
    return Issue(file, row, "", "").where


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
                    id=record.id,
                )
            elif table is needs:
                # Set in place, not by ``model_copy``: a copy per need would double the memory
                # of a large day. The need is new, seen by nothing else yet, and its place
                # (ward, LSOA, decile) is derived, never read from the file, so no validator
                # depends on it.
                record.__dict__.update(place.need_fields())
                kept.append((row, record))
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
                row,
                "sites",
                _unknown("site", site_id, sites),
                ";".join(sorted(partner.sites)),
                id=partner.id,
            )
            bad = True
        for code in sorted(partner.wards - ward_codes):
            partners.issue(
                row,
                "wards",
                f"unknown ward code {code!r} (not one of the borough's {len(ward_codes)} wards)",
                ";".join(sorted(partner.wards)),
                id=partner.id,
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
                row,
                "partner",
                _unknown("partner", volunteer.partner, partners),
                volunteer.partner,
                id=volunteer.id,
            )
            bad = True
        for other in sorted(volunteer.shared_with - partner_ids):
            volunteers.issue(
                row,
                "shared_with",
                _unknown("partner", other, partners),
                ";".join(sorted(volunteer.shared_with)),
                id=volunteer.id,
            )
            bad = True
        if not bad:
            kept_volunteers.append((row, volunteer))
    volunteers.drop(kept_volunteers)

    kept_needs = []
    for row, need in needs.records:
        if need.site is not None and need.site not in site_ids:
            needs.issue(row, "site", _unknown("site", need.site, sites), need.site, id=need.id)
        else:
            kept_needs.append((row, need))
    needs.drop(kept_needs)


MAX_PRINTED = 50  # lines of issues printed; the rest are summed up by file, field and reason
MAX_RANGES = 6  # runs of rows named on one line; the rest are counted
_QUOTED = re.compile(r"'[^']*'|\b\d[\d,.:]*\b")


def issue_groups(issues: Iterable[Issue]) -> list[tuple[str, str, str, int]]:
    """Issues counted by file, field and reason (values in the reason blanked), most first."""
    counts = Counter((i.file, i.field, _QUOTED.sub("…", i.reason)) for i in issues)
    return [(f, fld, reason, n) for (f, fld, reason), n in counts.most_common()]


@dataclass(frozen=True)
class IssueLine:
    """Identical issues (same file, field, reason and value) of several rows, as one line:
    ``needs.csv rows 2 to 401, date: ...``."""

    file: str
    field: str
    reason: str  # with the value read, as ``Issue.__str__`` gives it
    rows: tuple[int, ...]
    rejects: bool = True

    @property
    def where(self) -> str:
        """``needs.csv rows 2 to 401``, ``needs.geojson feature 3``, or the file."""
        rows = [r for r in self.rows if r]
        if not rows:
            return self.file
        unit = "feature" if self.file.endswith(".geojson") else "row"
        return f"{self.file} {unit}{'s' if len(rows) > 1 else ''} {rows_text(rows)}"

    def __str__(self) -> str:
        return f"{self.where}, {self.field}: {self.reason}"


def rows_text(rows: Sequence[int]) -> str:
    """Row numbers as runs: ``2 to 401``, ``2, 5 and 9 to 12``, ``2, 4, ... and 90 more``."""
    runs: list[list[int]] = []
    for row in sorted(set(rows)):
        if runs and row == runs[-1][1] + 1:
            runs[-1][1] = row
        else:
            runs.append([row, row])
    parts = [str(a) if a == b else f"{a} to {b}" for a, b in runs]
    if len(parts) > MAX_RANGES:
        rest = sum(b - a + 1 for a, b in runs[MAX_RANGES:])
        return f"{', '.join(parts[:MAX_RANGES])} and {rest:,} more"
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def group_issues(issues: Iterable[Issue]) -> list[IssueLine]:
    """Issues that differ only in their row, as one line each, in the order first found."""
    lines: dict[tuple[str, str, str, bool], list[int]] = {}
    for issue in issues:
        lines.setdefault((issue.file, issue.field, _reason(issue), issue.rejects), []).append(
            issue.row
        )
    return [
        IssueLine(file, field_, reason, tuple(rows), rejects)
        for (file, field_, reason, rejects), rows in lines.items()
    ]


def _reason(issue: Issue) -> str:
    reason = issue.reason
    if issue.value is not None and repr(issue.value) not in reason:
        reason += f" (got {issue.value!r})"
    return reason


def print_issues(
    issues: Sequence[Issue], console: Any, prefix: str = "skipped", limit: int = MAX_PRINTED
) -> None:
    """One line per issue, identical issues of several rows on one line, for the first
    ``limit`` lines, then the rest counted by file, field and reason. An issue that rejects
    nothing is a ``warning``. Text from the files is escaped: never read as console markup."""
    from rich.markup import escape

    lines = group_issues(issues)
    for line in lines[:limit]:
        label = prefix if line.rejects else "warning"
        console.print(f"[yellow]{escape(label)}[/yellow] {escape(str(line))}")
    if len(lines) > limit:
        rest = sum(len(line.rows) for line in lines[limit:])
        console.print(f"… and {rest:,} more issue(s); all {len(issues):,} by kind:")
        for file, field_, reason, n in issue_groups(issues)[:limit]:
            console.print(f"  {n:>9,}  {escape(file)}, {escape(field_)}: {escape(reason)}")


def print_report(report: DayReport, console: Any = None, limit: int = MAX_PRINTED) -> None:
    """Print a report as tables: the first ``limit`` lines of issues (file, rows, field,
    reason; identical issues of several rows on one line) and, if there are more, every issue
    counted by kind; then rows per file. Text from the files is escaped: it is never read as
    console markup."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    if report.issues:
        lines = group_issues(report.issues)
        shown = lines[:limit]
        title = f"{len(report.issues)} issue(s)"
        if len(lines) < len(report.issues):
            title += f" on {len(lines)} line(s), the same issue of several rows on one"
        if len(shown) < len(lines):
            title += f", the first {len(shown)}"
        issues = Table(title=title, title_justify="left")
        for column in ("file", "row", "field", "reason"):
            issues.add_column(column, overflow="fold")
        for line in shown:
            rows = [r for r in line.rows if r]
            reason = line.reason if line.rejects else f"warning: {line.reason}"
            issues.add_row(
                escape(line.file),
                rows_text(rows) if rows else "",
                escape(line.field),
                escape(reason),
            )
        console.print(issues)
        if len(shown) < len(lines):
            kinds = Table(title="All issues by kind", title_justify="left")
            for column, justify in (("file", "left"), ("field", "left"), ("reason", "left")):
                kinds.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
            kinds.add_column("issues", justify="right")
            groups = issue_groups(report.issues)
            for file, field_, reason, n in groups[:limit]:
                kinds.add_row(escape(file), escape(field_), escape(reason), f"{n:,}")
            if len(groups) > limit:
                kinds.add_row("…", "", f"{len(groups) - limit:,} more kinds", "")
            console.print(kinds)
    summary = Table(title=f"Day {report.day.date}", title_justify="left")
    for column, justify in (
        ("file", "left"),
        ("rows read", "right"),
        ("kept", "right"),
        ("rejected", "right"),
    ):
        summary.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in report.files:
        summary.add_row(escape(f.file), str(f.rows), str(f.kept), str(f.rejected))
    console.print(summary)
    if any(f.left_out for f in report.files):
        left_out = sum(f.left_out for f in report.files)
        console.print(f"{left_out:,} need(s) of other dates left out.")
    if report.ok:
        console.print("[green]No issues.[/green]")
    else:
        warnings = sum(not i.rejects for i in report.issues)
        console.print(
            f"[red]{len(report.issues)} issue(s)[/red] ({warnings} warning(s), their rows kept)."
            " Rows are counted as in a spreadsheet: the header is row 1, the first data row is"
            " row 2 (GeoJSON: feature number)."
        )
