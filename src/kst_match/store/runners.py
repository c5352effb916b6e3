"""What each kind of job does, in the worker process. A runner does the work outside any
transaction and returns ``finish(session, job)``, which stores the result in the transaction
that marks the job done."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from kst_match.model import Day, Plan
from kst_match.replan import Events, ReplanError
from kst_match.solve.stop import AnyOf, MaxIterations, MaxRuntime, StoppingCriterion
from kst_match.store import plans
from kst_match.store.db import Store
from kst_match.store.inputs import MissingInputs, read_day
from kst_match.store.models import JobPlot, JobRow

Finish = Callable[[Session, JobRow], None]
DEFAULT_TIME_LIMIT_S = 5.0


def stopping_rule(params: dict[str, Any]) -> StoppingCriterion:
    """``iterations`` (the same plan on any machine), ``time_limit_s``, or both (whichever
    fires first); 5 s by default."""
    iterations, limit = params.get("iterations"), params.get("time_limit_s")
    if iterations is not None and limit is not None:
        return AnyOf((MaxIterations(iterations), MaxRuntime(limit)))
    if iterations is not None:
        return MaxIterations(iterations)
    return MaxRuntime(limit if limit is not None else DEFAULT_TIME_LIMIT_S)


def describe(exc: BaseException) -> str:
    """Why a job failed, in a sentence (the problems of inputs that cannot be planned)."""
    if isinstance(exc, ReplanError):
        return "; ".join(exc.problems)
    if isinstance(exc, MissingInputs):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _date(job: JobRow) -> dt.date:
    return dt.date.fromisoformat(job.date or "")


def run_plan(store: Store, job: JobRow) -> Finish:
    from kst_match.plan import make_plan
    from kst_match.rejections import attach_rejected

    with store.read() as session:
        report = read_day(session, _date(job))
    plan = make_plan(report.day, stop=stopping_rule(job.params), workers=job.params.get("workers"))
    plan = attach_rejected(plan, report)

    def finish(session: Session, row: JobRow) -> None:
        row.plan_version = plans.save_version(session, plan, report.day, "plan", row.id)

    return finish


def run_replan(store: Store, job: JobRow) -> Finish:
    from kst_match.replan import replan

    with store.read() as session:
        base = plans.version(session, _date(job), job.params["base_version"])
    if base is None:
        raise LookupError(f"version {job.params['base_version']} of {job.date} is gone")
    day = Day.model_validate_json(base.day_json)
    morning = Plan.model_validate_json(base.plan_json)
    events = Events.model_validate(job.params["events"])
    new = replan(day, morning, events, stop=stopping_rule(job.params))

    def finish(session: Session, row: JobRow) -> None:
        row.plan_version = plans.save_version(session, new, day, "replan", row.id, base=morning)

    return finish


def run_scenarios(store: Store, job: JobRow) -> Finish:
    """The base day and each scenario with each seed; with ``capacity_curve`` also the
    curve's runs (90% down to 20% of the volunteers, seed 0). The comparison, the runs (no
    need ids) and the plots `kst-match scenario` draws for them."""
    from kst_match.geo.travel import RoadEstimate
    from kst_match.outputs.scenarios import render_plots
    from kst_match.scenarios import (
        BASE,
        capacity_curve,
        comparison,
        curve_runs,
        parse_scenario,
        sweep,
    )

    with store.read() as session:
        report = read_day(session, _date(job))
    scenarios = [
        parse_scenario(text, f"scenario {i}") for i, text in enumerate(job.params["scenarios"], 1)
    ]
    seeds = range(job.params.get("seeds", 1))
    runs = [(s, seed) for s in [BASE, *scenarios] for seed in seeds]
    curve = job.params.get("capacity_curve", False)
    extra = curve_runs() if curve else []
    stop = stopping_rule(job.params)
    outcomes = sweep(report.day, [*runs, *extra], RoadEstimate(), stop, workers=1)
    compared = outcomes[: len(runs)]
    points = capacity_curve(outcomes[0], outcomes[len(runs) :]) if curve else []
    result: dict[str, Any] = {
        "comparison": comparison(compared),
        "runs": [
            {k: v for k, v in dataclasses.asdict(o).items() if k != "unserved_ids"}
            for o in compared
        ],
    }
    if curve:
        result["capacity_curve"] = points
    plots = render_plots(compared, points)

    def finish(session: Session, row: JobRow) -> None:
        row.result = result
        session.add_all(JobPlot(job_id=row.id, name=n, png=png) for n, png in plots.items())

    return finish


RUNNERS: dict[str, Callable[[Store, JobRow], Finish]] = {
    "plan": run_plan,
    "replan": run_replan,
    "scenarios": run_scenarios,
}
