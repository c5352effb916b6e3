"""Helpers shared by the routers."""

from __future__ import annotations

import datetime as dt

from fastapi import HTTPException, Response, status
from sqlalchemy import func, select

from api.jobs import JobRunner
from api.schemas import Job
from kst_match.store import Store
from kst_match.store.models import JobRow, NeedRow, PlanVersion, VolunteerRow


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


def job_body(job: JobRow) -> Job:
    return Job(
        job_id=job.id,
        kind=job.kind,  # type: ignore[arg-type]
        date=job.date,
        state=job.state,  # type: ignore[arg-type]
        reason=job.reason,
        plan_version=job.plan_version,
        notes=list(job.params.get("notes", [])),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def day_of(row: PlanVersion) -> dt.date:
    return dt.date.fromisoformat(row.date)


def has_inputs(store: Store, date: dt.date) -> None:
    with store.read() as session:
        for row_type, kind in ((NeedRow, "needs"), (VolunteerRow, "volunteers")):
            count = session.scalar(
                select(func.count()).select_from(row_type).where(row_type.date == date.isoformat())
            )
            if not count:
                raise HTTPException(status.HTTP_409_CONFLICT, f"no {kind} uploaded for {date}")


def accepted(job: JobRow, new: bool, runner: JobRunner, response: Response) -> Job:
    if new:
        runner.submit(job.id)
    response.status_code = status.HTTP_202_ACCEPTED
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job_body(job)
