"""The tables: the day's inputs as validated rows, plan versions stored whole with their
assignments, reports, jobs and the plots they drew, users and tokens.

Dates are ``YYYY-MM-DD`` text and moments ISO 8601 UTC text (``2026-11-25T08:00:00Z``), the
same on SQLite and PostgreSQL and ordered as text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DATE = String(10)
MOMENT = String(32)
ID = String(64)
ACTIVE_JOB = "state IN ('queued', 'running')"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class DayRow(Base):
    """A day with inputs or plans."""

    __tablename__ = "days"

    date: Mapped[str] = mapped_column(DATE, primary_key=True)
    created_at: Mapped[str] = mapped_column(MOMENT)
    updated_at: Mapped[str] = mapped_column(MOMENT)


class _InputRow:
    """One validated input record of a day: its id, and the record as JSON (model_dump)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    date: Mapped[str] = mapped_column(DATE, ForeignKey("days.date"), index=True)
    record_id: Mapped[str] = mapped_column(ID)
    data: Mapped[dict[str, Any]]


class NeedRow(_InputRow, Base):
    __tablename__ = "needs"
    __table_args__ = (UniqueConstraint("date", "record_id"),)

    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    ward: Mapped[str | None] = mapped_column(String(16))


class VolunteerRow(_InputRow, Base):
    __tablename__ = "volunteers"
    __table_args__ = (UniqueConstraint("date", "record_id"),)

    partner: Mapped[str] = mapped_column(ID)


class PartnerRow(_InputRow, Base):
    __tablename__ = "partners"
    __table_args__ = (UniqueConstraint("date", "record_id"),)


class SiteRow(_InputRow, Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("date", "record_id"),)


class PlanVersion(Base):
    """One version of a day's plan, whole (``plan_json``) with the day it was made from
    (``day_json``). Never changed once published; a re-plan is a new version."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("date", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    date: Mapped[str] = mapped_column(DATE, ForeignKey("days.date"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # plan or replan
    base_version: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(ID)
    plan_json: Mapped[str] = mapped_column(Text)
    day_json: Mapped[str] = mapped_column(Text)
    changed_volunteers: Mapped[list[Any]]  # volunteers whose route differs from the base's
    created_at: Mapped[str] = mapped_column(MOMENT)
    published_at: Mapped[str | None] = mapped_column(MOMENT)


class ImmutableError(ValueError):
    """A published plan version was about to change."""


@event.listens_for(PlanVersion, "before_update")
def _published_stays(_mapper: object, _connection: object, target: PlanVersion) -> None:
    """Once published, a version never changes (publishing it is its last change)."""
    state = inspect(target)
    history = state.attrs.published_at.history
    before = (history.deleted or [None])[0] if history.has_changes() else target.published_at
    if before is not None and any(a.history.has_changes() for a in state.attrs):
        raise ImmutableError(f"version {target.version} of {target.date} is published")


class AssignmentRow(Base):
    """A need served in a plan version, with what its volunteer's app shows (``view``)."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_version_volunteer", "plan_version_id", "volunteer_id"),
        Index("ix_assignments_version_partner", "plan_version_id", "partner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"))
    date: Mapped[str] = mapped_column(DATE)
    need_id: Mapped[str] = mapped_column(ID)
    volunteer_id: Mapped[str] = mapped_column(ID)
    partner_id: Mapped[str] = mapped_column(ID)
    order: Mapped[int] = mapped_column(Integer)  # position among the volunteer's tasks, from 1
    kind: Mapped[str] = mapped_column(String(16))  # deliver, visit or call
    service: Mapped[str] = mapped_column(String(32))
    ward: Mapped[str | None] = mapped_column(String(16))
    planned_start: Mapped[int] = mapped_column(Integer)  # minutes after midnight
    view: Mapped[dict[str, Any]]


class ReportRow(Base):
    """A volunteer's report on one assignment; ``report_id`` (the client's) makes it
    idempotent."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_date_need", "date", "need_id"),
        Index("ix_reports_date_volunteer", "date", "volunteer_id"),  # a volunteer's statuses
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(ID, unique=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    date: Mapped[str] = mapped_column(DATE)
    need_id: Mapped[str] = mapped_column(ID)
    volunteer_id: Mapped[str] = mapped_column(ID)
    outcome: Mapped[str] = mapped_column(String(16))  # done or failed
    reason: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[str] = mapped_column(MOMENT)


class DropoutRow(Base):
    """A volunteer who can't continue today."""

    __tablename__ = "dropouts"

    date: Mapped[str] = mapped_column(DATE, primary_key=True)
    volunteer_id: Mapped[str] = mapped_column(ID, primary_key=True)
    received_at: Mapped[str] = mapped_column(MOMENT)


class JobRow(Base):
    """A plan, re-plan or scenario run. ``lock_key`` is unique among active jobs, so that a
    day is never planned twice at once; ``owner`` is the server process that runs it."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "uq_jobs_active_lock",
            "lock_key",
            unique=True,
            sqlite_where=text(ACTIVE_JOB),
            postgresql_where=text(ACTIVE_JOB),
        ),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # plan, replan or scenarios
    date: Mapped[str | None] = mapped_column(DATE)
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued running done failed
    reason: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lock_key: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(128))
    plan_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(MOMENT)
    started_at: Mapped[str | None] = mapped_column(MOMENT)
    finished_at: Mapped[str | None] = mapped_column(MOMENT)


class JobPlot(Base):
    """A plot a job drew (PNG), stored with its result in the transaction that marks it done."""

    __tablename__ = "job_plots"

    job_id: Mapped[str] = mapped_column(ID, ForeignKey("jobs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. unserved_by_ward
    png: Mapped[bytes] = mapped_column(LargeBinary)


class UserRow(Base):
    """Someone who uses the service: a role, bound to a volunteer or partner for those roles."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    volunteer_id: Mapped[str | None] = mapped_column(ID)
    partner_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[str] = mapped_column(MOMENT)


class TokenRow(Base):
    """A bearer token of a user: only its SHA-256 is kept."""

    __tablename__ = "tokens"

    token_id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(MOMENT)
    revoked_at: Mapped[str | None] = mapped_column(MOMENT)
