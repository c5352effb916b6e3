"""The dispatch coordinator: the day's inputs, plans and re-plans, publishing, tokens."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import Coordinator, CoordinatorOrPlanner, RunnerDep, StoreDep, rate_limited
from api.routers.common import accepted, has_inputs, job_body, not_found
from api.schemas import (
    Job,
    PlanRequest,
    PlanVersionInfo,
    Published,
    Rejected,
    ReplanRequest,
    TokenCreated,
    TokenRequest,
    UploadResult,
)
from kst_match.inputs import MAX_FILE_BYTES, Issue
from kst_match.model import Day, Plan, format_clock, parse_clock
from kst_match.store import Store, auth, jobs, plans
from kst_match.store.inputs import BodyError, check_upload, replace_records, stored_records
from kst_match.store.models import PlanVersion

router = APIRouter(tags=["coordinator"])
LONDON = ZoneInfo("Europe/London")
Kind = Literal["needs", "volunteers", "partners", "sites"]
Version = Annotated[int, Path(ge=1, le=1_000_000, description="the plan's version, from 1")]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
TokenId = Annotated[str, Path(pattern=r"^t_[0-9a-f]{12}$")]
CSV_EXAMPLE = (
    "lon,lat,id,date,resident,kind,priority,window_start,window_end,duration,load,skills,"
    "language,language_required,previous_volunteer,site,postcode,name,address,phone,"
    "access_notes\n-0.30174,51.402309,N00001,2026-11-25,R00001,benefits_advice,normal,"
    "10:00,14:00,35,0,,,false,,,KT1 2TD,Kit Quillfeather,97 Dunnockvale Road,07700 900625,\n"
)
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
            "application/json": {
                "schema": {"type": "array", "items": {"type": "object"}},
                "example": [{"id": "N00001", "date": "2026-11-25", "resident": "R00001"}],
            },
        },
    }
}


def _rejected(issues: list[Issue]) -> list[Rejected]:
    return [
        Rejected(file=i.file, row=i.row, field=i.field, reason=i.reason, value=i.value, id=i.id)
        for i in issues
    ]


def _upload(
    store: Store, kind: str, date: dt.date, body: bytes, media_type: str, strict: bool
) -> tuple[int, UploadResult]:
    with store.read() as session:
        stored = stored_records(session, date)
    try:
        upload = check_upload(kind, date, body, media_type, stored)
    except BodyError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    result = UploadResult(
        stored=len(upload.records),
        rejected=_rejected(upload.rejected),
        warnings=_rejected(upload.warnings),
        other_dates=upload.left_out,
    )
    if strict and upload.rejected:
        return status.HTTP_422_UNPROCESSABLE_CONTENT, result.model_copy(update={"stored": 0})
    with store.write() as session:
        replace_records(session, kind, date, upload.records)
    return status.HTTP_200_OK, result


@router.post("/days/{date}/plans", status_code=202, response_model=Job)
def request_plan(
    date: dt.date,
    store: StoreDep,
    runner: RunnerDep,
    response: Response,
    _: Coordinator,
    body: PlanRequest | None = None,
) -> Job:
    """Plan the day from its stored inputs, in a worker process. Returns the job at once; a
    request while the day's plan is queued or running returns that job."""
    body = body or PlanRequest()
    has_inputs(store, date)
    job, new = jobs.submit(
        store, "plan", date, body.model_dump(exclude_none=True), jobs.plan_lock(date)
    )
    if job.kind != "plan":
        raise HTTPException(status.HTTP_409_CONFLICT, f"a re-plan of {date} is active: {job.id}")
    return accepted(job, new, runner, response)


def _now_minutes(date: dt.date, now: str | None) -> int:
    if now is not None:
        return parse_clock(now)
    moment = dt.datetime.now(LONDON)
    if moment.date() != date:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"now is required to re-plan {date}"
        )
    return moment.hour * 60 + moment.minute


def _replan_params(store: Store, date: dt.date, body: ReplanRequest) -> dict[str, Any]:
    from kst_match.replan import check_events, unreported

    with store.read() as session:
        base = plans.published(session, date)
        if base is None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"no published plan for {date}")
        events = plans.events(session, base, _now_minutes(date, body.now))
    morning = Plan.model_validate_json(base.plan_json)
    problems = check_events(events, Day.model_validate_json(base.day_json), morning)
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)
    params = body.model_dump(exclude_none=True, exclude={"now"})
    late = unreported(morning, events)
    notes = []
    if late:
        shown = ", ".join(late[:5]) + (", ..." if len(late) > 5 else "")
        notes.append(
            f"{len(late)} stops planned to start before {format_clock(events.now)} were reported"
            f" neither done nor failed ({shown}); they are planned again where their windows"
            " allow"
        )
    return {
        **params,
        "base_version": base.version,
        "events": events.model_dump(mode="json"),
        "notes": notes,
    }


@router.post("/days/{date}/replans", status_code=202, response_model=Job)
async def request_replan(
    date: dt.date,
    store: StoreDep,
    runner: RunnerDep,
    response: Response,
    _: Coordinator,
    body: ReplanRequest | None = None,
) -> Job:
    """Re-plan the rest of the day from the published plan and everything reported so far:
    done stops stay, failed needs and those of volunteers who stopped are placed again. The
    new version is not published until you publish it."""
    body = body or ReplanRequest()
    params = await run_in_threadpool(_replan_params, store, date, body)
    job, new = jobs.submit(store, "replan", date, params, jobs.plan_lock(date))
    if job.kind != "replan":
        raise HTTPException(status.HTTP_409_CONFLICT, f"a plan of {date} is active: {job.id}")
    return accepted(job, new, runner, response)


@router.get("/jobs/{job_id}", response_model=Job, tags=["planner"])
def get_job(job_id: JobId, store: StoreDep, _: CoordinatorOrPlanner) -> Job:
    """A job's state; a failed job says why."""
    job = jobs.get(store, job_id)
    if job is None:
        raise not_found("job")
    return job_body(job)


@router.get("/days/{date}/plans", response_model=list[PlanVersionInfo])
def list_plans(date: dt.date, store: StoreDep, _: Coordinator) -> list[PlanVersionInfo]:
    """The day's plan versions, oldest first."""
    with store.read() as session:
        rows = plans.versions(session, date)
    return [
        PlanVersionInfo(
            version=r.version,
            kind=r.kind,  # type: ignore[arg-type]
            base_version=r.base_version,
            created_at=r.created_at,
            published_at=r.published_at,
            job_id=r.job_id,
        )
        for r in rows
    ]


def _version(store: Store, date: dt.date, number: int) -> PlanVersion:
    with store.read() as session:
        row = plans.version(session, date, number)
    if row is None:
        raise not_found("plan version")
    return row


@router.get("/days/{date}/plans/{version}", responses={200: {"description": "plan.json"}})
def get_plan(date: dt.date, version: Version, store: StoreDep, _: Coordinator) -> Response:
    """The plan as `kst-match plan` writes `plan.json` (schema: docs/plan-schema.json)."""
    return Response(_version(store, date, version).plan_json, media_type="application/json")


@router.get("/days/{date}/plans/{version}/kpis")
def get_kpis(date: dt.date, version: Version, store: StoreDep, _: Coordinator) -> dict[str, Any]:
    """The plan's KPIs."""
    return Plan.model_validate_json(_version(store, date, version).plan_json).kpis


@router.get("/days/{date}/plans/{version}/routes.geojson")
def get_geojson(date: dt.date, version: Version, store: StoreDep, _: Coordinator) -> Response:
    """Routes and stops as GeoJSON (as `routes.geojson`)."""
    from kst_match.outputs.geojson import routes_geojson

    row = _version(store, date, version)
    collection = routes_geojson(
        Day.model_validate_json(row.day_json), Plan.model_validate_json(row.plan_json)
    )
    return Response(json.dumps(collection), media_type="application/geo+json")


@router.get("/days/{date}/plans/{version}/map", response_class=HTMLResponse)
def get_map(date: dt.date, version: Version, store: StoreDep, _: Coordinator) -> HTMLResponse:
    """The plan's map (as `map.html`: works offline)."""
    from kst_match.outputs.map import build_map

    row = _version(store, date, version)
    fmap = build_map(
        Day.model_validate_json(row.day_json),
        Plan.model_validate_json(row.plan_json),
        generated=dt.datetime.fromisoformat(row.created_at.replace("Z", "+00:00")),
    )
    return HTMLResponse(fmap.get_root().render())


@router.get("/days/{date}/plans/{version}/unserved")
def get_unserved(
    date: dt.date, version: Version, store: StoreDep, _: Coordinator
) -> list[dict[str, Any]]:
    """Every need not served, with its reason and what to do; then every rejected input row."""
    from kst_match.outputs.unserved import items

    row = _version(store, date, version)
    found = items(Day.model_validate_json(row.day_json), Plan.model_validate_json(row.plan_json))
    return [asdict(i) for i in found]


@router.post("/days/{date}/plans/{version}/publish", response_model=Published)
def publish(date: dt.date, version: Version, store: StoreDep, _: Coordinator) -> Published:
    """Publish a version: volunteers and partners see it from now on. A published version
    never changes; publishing it again changes nothing."""
    with store.write() as session:
        row = plans.version(session, date, version)
        if row is None:
            raise not_found("plan version")
        try:
            plans.publish(session, row)
        except plans.PublishError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        return Published(version=row.version, published_at=row.published_at or "")


@router.post("/tokens", status_code=201, response_model=TokenCreated)
def create_token(
    body: TokenRequest,
    store: StoreDep,
    _: Annotated[Any, Depends(rate_limited("token", "coordinator"))],
) -> TokenCreated:
    """A new user and token (shown once: only its SHA-256 is kept)."""
    try:
        with store.write() as session:
            token_id, token = auth.add(
                session, body.role, body.name, body.volunteer_id, body.partner_id
            )
    except auth.RoleError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return TokenCreated(token_id=token_id, token=token, role=body.role)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(
    token_id: TokenId,
    store: StoreDep,
    _: Annotated[Any, Depends(rate_limited("token", "coordinator"))],
) -> Response:
    """Revoke a token: it is refused from now on."""
    with store.write() as session:
        if not auth.revoke(session, token_id):
            raise not_found("token")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Registered last: "/days/{date}/plans" and "/days/{date}/replans" are matched first.
@router.post(
    "/days/{date}/{kind}",
    response_model=UploadResult,
    openapi_extra=UPLOAD_BODY,
    responses={
        413: {"description": "the body is too large"},
        415: {"description": "neither text/csv nor application/json"},
        422: {"model": UploadResult, "description": "strict, and some rows were rejected"},
    },
)
async def upload(
    date: dt.date,
    kind: Kind,
    request: Request,
    store: StoreDep,
    runner: RunnerDep,
    _: Coordinator,
    strict: Annotated[bool, Query(description="store nothing if any row is rejected")] = False,
) -> JSONResponse:
    """Upload the day's needs, volunteers, partners or sites (CSV, or a JSON list of rows with
    the CSV's column names), checked as `kst-match data check` checks files, together with the
    day's other stored inputs (the bundled partners and sites when none are uploaded). The
    rows kept replace the day's rows of that kind; every rejected row is listed."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("text/csv", "application/json"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send text/csv or application/json"
        )
    runner.warm()
    body = await request.body()
    if len(body) > MAX_FILE_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "the body is too large")
    code, result = await run_in_threadpool(_upload, store, kind, date, body, media_type, strict)
    return JSONResponse(result.model_dump(mode="json"), status_code=code)
