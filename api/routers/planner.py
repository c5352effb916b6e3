"""The planner: a day's figures and scenario runs; never a resident's address or contact."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from api.deps import Planner, RunnerDep, StoreDep
from api.routers.common import accepted, has_inputs, not_found
from api.schemas import Job, PlotLink, ScenarioPlots, ScenarioRequest, ScenarioResult
from kst_match.store import Store, jobs, plans
from kst_match.store.models import JobRow

router = APIRouter(tags=["planner"])
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
PNG = {
    200: {
        "description": "the plot (PNG)",
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
    }
}


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
    comparison and links to the plots (`capacity_curve`: also the capacity curve)."""
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
def scenario_result(job_id: JobId, store: StoreDep, request: Request, _: Planner) -> ScenarioResult:
    """A scenario job's state and, when done, the comparison (one row per scenario), the
    capacity curve when asked for, and links to the plots."""
    job = _scenario_job(store, job_id)
    result = job.result or {}
    return ScenarioResult(
        job_id=job.id,
        state=job.state,  # type: ignore[arg-type]
        reason=job.reason,
        comparison=result.get("comparison"),
        capacity_curve=result.get("capacity_curve"),
        plots=_plot_links(store, request, job),
    )


@router.get("/scenarios/{job_id}/plots", response_model=ScenarioPlots)
def scenario_plots(job_id: JobId, store: StoreDep, request: Request, _: Planner) -> ScenarioPlots:
    """The plots `kst-match scenario` draws for the job's runs, by name with their URLs:
    `unserved_by_ward` (a ward map per scenario) and, when asked for, `capacity_curve`. None
    until the job is done. Figures only: no resident's address or contact."""
    job = _scenario_job(store, job_id)
    return ScenarioPlots(
        job_id=job.id,
        state=job.state,  # type: ignore[arg-type]
        plots=_plot_links(store, request, job),
    )


@router.get(
    "/scenarios/{job_id}/plots/{name}.png",
    response_class=Response,
    responses=PNG,  # type: ignore[arg-type]
)
def scenario_plot(
    job_id: JobId,
    name: Annotated[str, Path(pattern=r"^[a-z_]{1,64}$")],
    store: StoreDep,
    _: Planner,
) -> Response:
    """One plot of a scenario job, as a PNG image."""
    job = _scenario_job(store, job_id)
    png = jobs.plot(store, job.id, name)
    if png is None:
        raise not_found("plot")
    return Response(png, media_type="image/png")


def _scenario_job(store: Store, job_id: str) -> JobRow:
    """The scenario job ``job_id``; 404 for an unknown job or one of another kind."""
    job = jobs.get(store, job_id)
    if job is None or job.kind != "scenarios":
        raise not_found("scenario job")
    return job


def _plot_links(store: Store, request: Request, job: JobRow) -> list[PlotLink]:
    """The job's plots with their paths; none before it is done."""
    if job.state != "done":
        return []
    return [
        PlotLink(
            name=name,
            url=str(request.app.url_path_for("scenario_plot", job_id=job.id, name=name)),
        )
        for name in jobs.plot_names(store, job.id)
    ]
