"""The street champion app: today's assignments of the published plan, reports on each, and
"I can't continue today". A volunteer sees only their own; another's is 404.

The two calls every app makes in a loop (its assignments, a report) check their caller with a
``Gate`` and do all their database work in one worker thread: one thread-pool hop each, and
their answers are plain dicts that FastAPI validates and writes once (a sync endpoint would
also have its answer validated in a worker thread of its own)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import Row, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from api.deps import Credentials, Gate, StoreDep, VolunteerUser
from api.routers.common import not_found
from api.schemas import MyDay, ReportRequest, ReportResult, Stopped
from kst_match.store import Store, plans
from kst_match.store.auth import Principal
from kst_match.store.db import now
from kst_match.store.models import AssignmentRow, DropoutRow, PlanVersion, ReportRow

router = APIRouter(prefix="/me", tags=["volunteer"])
DateQuery = Annotated[dt.date, Query(description="the day, YYYY-MM-DD")]
VOLUNTEER = Gate("volunteer")
REPORTER = Gate("volunteer", limit="report")

_REPORT = select(
    ReportRow.report_id,
    ReportRow.assignment_id,
    ReportRow.volunteer_id,
    ReportRow.outcome,
    ReportRow.reason,
).where(ReportRow.report_id == bindparam("report_id"))
_ASSIGNMENT = select(
    AssignmentRow.id,
    AssignmentRow.date,
    AssignmentRow.need_id,
    AssignmentRow.volunteer_id,
    AssignmentRow.plan_version_id,
).where(AssignmentRow.id == bindparam("id"))
_VERSION = select(PlanVersion.version).where(PlanVersion.id == bindparam("id"))
_INSERT_REPORT = insert(ReportRow.__table__)  # Core: no ORM bulk-insert machinery


@router.get("/assignments", response_model=MyDay)
@VOLUNTEER
async def my_assignments(
    request: Request, date: DateQuery, store: StoreDep, credentials: Credentials
) -> Any:
    """My assignments in the day's published plan, in order: where, when, what to collect
    where, and how to get in. Nothing of anybody else's."""
    return await run_in_threadpool(_my_day, request, store, credentials, date)


def _my_day(
    request: Request,
    store: Store,
    credentials: HTTPAuthorizationCredentials | None,
    date: dt.date,
) -> dict[str, Any]:
    with store.connect() as connection:
        who = VOLUNTEER.check(request, connection, credentials)
        row = plans.published_head(connection, date)
        if row is None:
            raise not_found("published plan")
        found = plans.my_assignments(connection, row, who.volunteer_id or "")
    return {
        "date": row.date,
        "plan_version": row.version,
        "refresh": who.volunteer_id in row.changed_volunteers,
        "assignments": found,
    }


def _result(report: Row[Any], duplicate: bool) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "assignment_id": report.assignment_id,
        "outcome": report.outcome,
        "reason": report.reason,
        "duplicate": duplicate,
    }


def _earlier(existing: Row[Any], who: Principal, assignment_id: int) -> dict[str, Any]:
    if existing.volunteer_id != who.volunteer_id or existing.assignment_id != assignment_id:
        raise HTTPException(status.HTTP_409_CONFLICT, "this report_id is used for another report")
    return _result(existing, duplicate=True)


@router.post("/assignments/{assignment_id}/report", response_model=ReportResult)
@REPORTER
async def report(
    request: Request,
    assignment_id: Annotated[int, Path(ge=1, le=2**62)],
    body: ReportRequest,
    store: StoreDep,
    credentials: Credentials,
) -> Any:
    """Report an assignment done, or failed with a reason. Idempotent: a retry with the same
    `report_id` changes nothing and says `duplicate: true`. A later report on the same
    assignment (a new `report_id`) replaces the earlier one for the re-plan."""
    return await run_in_threadpool(_report, request, store, credentials, assignment_id, body)


def _report(
    request: Request,
    store: Store,
    credentials: HTTPAuthorizationCredentials | None,
    assignment_id: int,
    body: ReportRequest,
) -> dict[str, Any]:
    # The caller is read outside the write transaction: on SQLite that holds the one write lock.
    with store.connect() as connection:
        who = REPORTER.check(request, connection, credentials)
    report_id = str(body.report_id)
    try:
        with store.write() as session:
            existing = session.execute(_REPORT, {"report_id": report_id}).first()
            if existing is not None:
                return _earlier(existing, who, assignment_id)
            assignment = session.execute(_ASSIGNMENT, {"id": assignment_id}).first()
            if assignment is None or assignment.volunteer_id != who.volunteer_id:
                raise not_found("assignment")
            current = plans.published_head(session, dt.date.fromisoformat(assignment.date))
            if current is None or current.id != assignment.plan_version_id:
                version = session.scalar(_VERSION, {"id": assignment.plan_version_id})
                raise HTTPException(
                    status.HTTP_409_CONFLICT,
                    f"the assignment is of plan version {version if version else '?'},"
                    " not the published one: fetch your assignments again",
                )
            session.execute(
                _INSERT_REPORT,
                {
                    "report_id": report_id,
                    "assignment_id": assignment.id,
                    "date": assignment.date,
                    "need_id": assignment.need_id,
                    "volunteer_id": assignment.volunteer_id,
                    "outcome": body.outcome,
                    "reason": body.reason,
                    "received_at": now(),
                },
            )
        return {
            "report_id": report_id,
            "assignment_id": assignment.id,
            "outcome": body.outcome,
            "reason": body.reason,
            "duplicate": False,
        }
    except IntegrityError:  # the same report_id arrived at the same moment (PostgreSQL)
        with store.connect() as connection:
            existing = connection.execute(_REPORT, {"report_id": report_id}).one()
        return _earlier(existing, who, assignment_id)


@router.post("/stop-for-today", response_model=Stopped)
def stop_for_today(date: DateQuery, store: StoreDep, who: VolunteerUser) -> Stopped:
    """I can't continue today: the next re-plan sends me home and gives my remaining
    assignments to others. Saying it again changes nothing."""
    volunteer = who.volunteer_id or ""
    with store.write() as session:
        if plans.published(session, date, documents=False) is None:
            raise not_found("published plan")
        row = session.get(DropoutRow, (date.isoformat(), volunteer))
        if row is None:
            row = DropoutRow(date=date.isoformat(), volunteer_id=volunteer, received_at=now())
            session.add(row)
    return Stopped(date=row.date, volunteer_id=volunteer, stopped_at=row.received_at)
