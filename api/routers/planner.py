"""The planner: a day's figures and scenario runs; never a resident's address or contact."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from api.deps import Planner, RunnerDep, StoreDep
from api.routers.common import accepted, has_inputs, not_found
from api.schemas import Job, ScenarioRequest, ScenarioResult
from kst_match.store import jobs, plans

router = APIRouter(tags=["planner"])


@router.get("/planner/days/{date}/aggregates")
def aggregates(
    date: dt.date,
    store: StoreDep,
    _: Planner,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> dict[str, Any]:
    """A plan's figures by ward, service, priority and reason (the published plan, else the
    newest; or `version`)."""
    with store.read() as session:
        if version is not None:
            row = plans.version(session, date, version)
        else:
            row = plans.published(session, date) or next(
                iter(reversed(plans.versions(session, date))), None
            )
    if row is None:
        raise not_found("plan")
    return plans.aggregates(row)


@router.post("/scenarios", status_code=202, response_model=Job)
def run_scenarios(
    body: ScenarioRequest, store: StoreDep, runner: RunnerDep, response: Response, _: Planner
) -> Job:
    """Plan the day's stored inputs and each scenario (YAML, as `kst-match scenario` reads
    them) with each seed, in a worker process; `GET /v1/scenarios/{job_id}` has the
    comparison."""
    from kst_match.scenarios import ScenarioError, parse_scenario

    try:
        date = dt.date.fromisoformat(body.date)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"date: {exc}") from exc
    problems: list[str] = []
    for i, text in enumerate(body.scenarios, 1):
        try:
            parse_scenario(text, f"scenario {i}")
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)
    has_inputs(store, date)
    params = body.model_dump(exclude={"date"}, exclude_none=True)
    job, new = jobs.submit(store, "scenarios", date, params, None)
    return accepted(job, new, runner, response)


@router.get("/scenarios/{job_id}", response_model=ScenarioResult)
def scenario_result(
    job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], store: StoreDep, _: Planner
) -> ScenarioResult:
    """A scenario job's state and, when done, the comparison (one row per scenario)."""
    job = jobs.get(store, job_id)
    if job is None or job.kind != "scenarios":
        raise not_found("scenario job")
    return ScenarioResult(
        job_id=job.id,
        state=job.state,  # type: ignore[arg-type]
        reason=job.reason,
        comparison=(job.result or {}).get("comparison"),
    )
