"""The street champion app: today's assignments of the published plan, reports on each, and
"I can't continue today". A volunteer sees only their own; another's is 404."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.deps import StoreDep, VolunteerUser, rate_limited
from api.routers.common import not_found
from api.schemas import MyDay, ReportRequest, ReportResult, Stopped
from kst_match.store import plans
from kst_match.store.auth import Principal
from kst_match.store.db import now
from kst_match.store.models import AssignmentRow, DropoutRow, PlanVersion, ReportRow

router = APIRouter(prefix="/me", tags=["volunteer"])
DateQuery = Annotated[dt.date, Query(description="the day, YYYY-MM-DD")]


@router.get("/assignments", response_model=MyDay)
def my_assignments(date: DateQuery, store: StoreDep, who: VolunteerUser) -> MyDay:
    """My assignments in the day's published plan, in order: where, when, what to collect
    where, and how to get in. Nothing of anybody else's."""
    with store.read() as session:
        row = plans.published(session, date, documents=False)
        if row is None:
            raise not_found("published plan")
        found = plans.my_assignments(session, row, who.volunteer_id or "")
    return MyDay.model_validate(
        {
            "date": row.date,
            "plan_version": row.version,
            "refresh": who.volunteer_id in row.changed_volunteers,
            "assignments": found,
        }
    )


def _result(report: ReportRow, duplicate: bool) -> ReportResult:
    return ReportResult(
        report_id=report.report_id,  # type: ignore[arg-type]
        assignment_id=report.assignment_id,
        outcome=report.outcome,  # type: ignore[arg-type]
        reason=report.reason,  # type: ignore[arg-type]
        duplicate=duplicate,
    )


def _earlier(existing: ReportRow, who: Principal, assignment_id: int) -> ReportResult:
    if existing.volunteer_id != who.volunteer_id or existing.assignment_id != assignment_id:
        raise HTTPException(status.HTTP_409_CONFLICT, "this report_id is used for another report")
    return _result(existing, duplicate=True)


@router.post("/assignments/{assignment_id}/report", response_model=ReportResult)
def report(
    assignment_id: Annotated[int, Path(ge=1, le=2**62)],
    body: ReportRequest,
    store: StoreDep,
    who: Annotated[Any, Depends(rate_limited("report", "volunteer"))],
) -> ReportResult:
    """Report an assignment done, or failed with a reason. Idempotent: a retry with the same
    `report_id` changes nothing and says `duplicate: true`. A later report on the same
    assignment (a new `report_id`) replaces the earlier one for the re-plan."""
    report_id = str(body.report_id)
    try:
        with store.write() as session:
            existing = session.scalars(
                select(ReportRow).where(ReportRow.report_id == report_id)
            ).first()
            if existing is not None:
                return _earlier(existing, who, assignment_id)
            assignment = session.get(AssignmentRow, assignment_id)
            if assignment is None or assignment.volunteer_id != who.volunteer_id:
                raise not_found("assignment")
            day = dt.date.fromisoformat(assignment.date)
            current = plans.published(session, day, documents=False)
            if current is None or current.id != assignment.plan_version_id:
                version = session.get(PlanVersion, assignment.plan_version_id)
                raise HTTPException(
                    status.HTTP_409_CONFLICT,
                    f"the assignment is of plan version {version.version if version else '?'},"
                    " not the published one: fetch your assignments again",
                )
            row = ReportRow(
                report_id=report_id,
                assignment_id=assignment.id,
                date=assignment.date,
                need_id=assignment.need_id,
                volunteer_id=assignment.volunteer_id,
                outcome=body.outcome,
                reason=body.reason,
                received_at=now(),
            )
            session.add(row)
        return _result(row, duplicate=False)
    except IntegrityError:  # the same report_id arrived at the same moment (PostgreSQL)
        with store.read() as session:
            existing = session.scalars(
                select(ReportRow).where(ReportRow.report_id == report_id)
            ).one()
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
