"""The day's inputs in the database: uploads validated exactly as ``kst-match data check``
validates files, stored as validated rows, and read back into a ``Day``.

An upload is one file's worth of rows (CSV text, or a JSON list of row objects with the CSV's
column names). It is checked together with the day's other stored inputs (or the bundled
partners and sites when none are stored), so that references between files are checked too;
the rows of the upload replace the day's rows of that kind.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kst_match.inputs import FILES, DayReport, Issue, check_day, write_records
from kst_match.model import Need, Partner, Site, Volunteer
from kst_match.store.db import now
from kst_match.store.models import DayRow, NeedRow, PartnerRow, SiteRow, VolunteerRow

KINDS = tuple(FILES)  # needs, volunteers, partners, sites
ROWS: dict[str, type[NeedRow | VolunteerRow | PartnerRow | SiteRow]] = {
    "needs": NeedRow,
    "volunteers": VolunteerRow,
    "partners": PartnerRow,
    "sites": SiteRow,
}


class BodyError(ValueError):
    """A body that is not a file of rows at all (say, JSON that is not a list of objects)."""


@dataclass(frozen=True)
class Upload:
    """How an upload fared: the records kept, the rows rejected, warnings that reject
    nothing, and needs of other dates left out."""

    records: list[BaseModel]
    rejected: list[Issue]
    warnings: list[Issue]
    left_out: int


def _as_file(kind: str, body: bytes, media_type: str) -> tuple[str, bytes, str]:
    """The upload as a file ``check_day`` reads: its name there, its bytes, its name to report.
    JSON rows become the properties of GeoJSON features (rows numbered from 1)."""
    if media_type != "application/json":
        return f"{kind}.csv", body, f"{kind}.csv"
    try:
        rows = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BodyError(f"not valid JSON: {exc}") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BodyError("expected a JSON list of row objects")
    features = [{"type": "Feature", "properties": r, "geometry": None} for r in rows]
    document = {"type": "FeatureCollection", "features": features}
    return f"{kind}.geojson", json.dumps(document).encode(), f"{kind}.json"


def _check(directory: Path, date: dt.date) -> DayReport:
    from kst_match.geo.areas import Areas  # geography loads only when inputs are checked

    return check_day(directory, date, Areas.default())


def stored_records(session: Session, date: dt.date) -> dict[str, list[BaseModel]]:
    """The day's stored records by kind (a kind with none stored is left out)."""
    found: dict[str, list[BaseModel]] = {}
    for kind, row_type in ROWS.items():
        rows = session.scalars(
            select(row_type).where(row_type.date == date.isoformat()).order_by(row_type.id)
        ).all()
        if rows:
            model = FILES[kind]
            found[kind] = [model.model_validate(r.data) for r in rows]
    return found


def _write_stored(directory: Path, stored: dict[str, list[BaseModel]], skip: str = "") -> None:
    for kind, records in stored.items():
        if kind != skip:
            write_records(directory / f"{kind}.csv", records, FILES[kind])


def check_upload(
    kind: str,
    date: dt.date,
    body: bytes,
    media_type: str,
    stored: dict[str, list[BaseModel]],
) -> Upload:
    """Validate an upload of ``kind`` for ``date`` against the day's other stored inputs."""
    name, content, shown = _as_file(kind, body, media_type)
    with tempfile.TemporaryDirectory(prefix="kst-match-upload-") as folder:
        directory = Path(folder)
        _write_stored(directory, stored, skip=kind)
        (directory / name).write_bytes(content)
        report = _check(directory, date)
    issues = [_renamed(i, shown) for i in report.issues if i.file == name]
    summary = next(f for f in report.files if f.file == name)
    return Upload(
        records=list(getattr(report.day, kind)),
        rejected=[i for i in issues if i.rejects],
        warnings=[i for i in issues if not i.rejects],
        left_out=summary.left_out,
    )


def _renamed(issue: Issue, file: str) -> Issue:
    return Issue(file, issue.row, issue.field, issue.reason, issue.value, issue.id, issue.rejects)


def ensure_day(session: Session, date: dt.date) -> None:
    """The day's row, made if new; its ``updated_at`` moved on."""
    row = session.get(DayRow, date.isoformat())
    moment = now()
    if row is None:
        session.add(DayRow(date=date.isoformat(), created_at=moment, updated_at=moment))
    else:
        row.updated_at = moment


def replace_records(
    session: Session, kind: str, date: dt.date, records: Sequence[BaseModel]
) -> None:
    """The day's rows of ``kind`` become ``records``."""
    ensure_day(session, date)
    row_type = ROWS[kind]
    session.execute(delete(row_type).where(row_type.date == date.isoformat()))
    session.flush()
    session.add_all(_row(kind, date, r) for r in records)


def _row(kind: str, date: dt.date, record: BaseModel) -> Any:
    data = record.model_dump(mode="json")
    common = {"date": date.isoformat(), "record_id": data["id"], "data": data}
    if isinstance(record, Need):
        return NeedRow(**common, kind=record.kind.value, priority=record.priority.value,
                       ward=record.ward)  # fmt: skip
    if isinstance(record, Volunteer):
        return VolunteerRow(**common, partner=record.partner)
    if isinstance(record, Partner):
        return PartnerRow(**common)
    assert isinstance(record, Site)
    return SiteRow(**common)


class MissingInputs(LookupError):
    """A day without the needs or volunteers a plan needs."""


def read_day(session: Session, date: dt.date) -> DayReport:
    """The day from its stored inputs, checked again as a whole (``check_day``): partners and
    sites not uploaded are the bundled ones. ``MissingInputs`` without needs or volunteers."""
    stored = stored_records(session, date)
    missing = [k for k in ("needs", "volunteers") if k not in stored]
    if missing:
        raise MissingInputs(f"no {' or '.join(missing)} uploaded for {date}")
    with tempfile.TemporaryDirectory(prefix="kst-match-day-") as folder:
        directory = Path(folder)
        _write_stored(directory, stored)
        return _check(directory, date)
