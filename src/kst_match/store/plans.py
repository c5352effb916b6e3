"""Plan versions: stored whole with the day they were made from, their assignments as rows,
publishing, what each user may see of them, and the events a re-plan starts from."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select
from sqlalchemy.orm import Session, defer

from kst_match.model import Day, Plan, Stop, StopKind, format_clock
from kst_match.replan import Events
from kst_match.store.db import now
from kst_match.store.inputs import ensure_day
from kst_match.store.models import AssignmentRow, DropoutRow, PlanVersion, ReportRow

TASKS = (StopKind.deliver, StopKind.visit, StopKind.call)
# What a volunteer may report of a failed stop, and how the re-plan records it.
FAIL_REASONS = {
    "not_home": "not at home",
    "refused": "refused",
    "could_not_collect": "could not collect the goods",
    "volunteer_unwell": "the volunteer was unwell",
}


class PublishError(ValueError):
    """A version that may not be published (a later one already is)."""


def versions(session: Session, date: dt.date) -> list[PlanVersion]:
    """The day's plan versions, oldest first."""
    query = select(PlanVersion).where(PlanVersion.date == date.isoformat())
    return list(session.scalars(query.order_by(PlanVersion.version)))


def version(session: Session, date: dt.date, number: int) -> PlanVersion | None:
    query = select(PlanVersion).where(
        PlanVersion.date == date.isoformat(), PlanVersion.version == number
    )
    return session.scalars(query).first()


def published(session: Session, date: dt.date, documents: bool = True) -> PlanVersion | None:
    """The day's published plan: the newest version published. ``documents=False`` leaves out
    the plan and day JSON (half a megabyte or more for a day of 400 needs), which the street
    champion's requests never read; reading them then raises instead of loading them."""
    query = (
        select(PlanVersion)
        .where(PlanVersion.date == date.isoformat(), PlanVersion.published_at.is_not(None))
        .order_by(PlanVersion.version.desc())
        .limit(1)
    )
    if not documents:
        query = query.options(
            defer(PlanVersion.plan_json, raiseload=True),
            defer(PlanVersion.day_json, raiseload=True),
        )
    return session.scalars(query).first()


# The street champions' statements, built once (SQLAlchemy works out a statement's cache key on
# its first use only) and returning rows, not ORM objects.
_PUBLISHED_HEAD = (
    select(PlanVersion.id, PlanVersion.date, PlanVersion.version, PlanVersion.changed_volunteers)
    .where(PlanVersion.date == bindparam("date"), PlanVersion.published_at.is_not(None))
    .order_by(PlanVersion.version.desc())
    .limit(1)
)
_MY_ASSIGNMENTS = (
    select(AssignmentRow.id, AssignmentRow.order, AssignmentRow.need_id, AssignmentRow.view)
    .where(
        AssignmentRow.plan_version_id == bindparam("version_id"),
        AssignmentRow.volunteer_id == bindparam("volunteer"),
    )
    .order_by(AssignmentRow.order)
)
_STATUSES = (
    select(ReportRow.need_id, ReportRow.outcome, AssignmentRow.plan_version_id)
    .join(AssignmentRow, ReportRow.assignment_id == AssignmentRow.id)
    .where(ReportRow.date == bindparam("date"))
    .order_by(ReportRow.id)
)
_STATUSES_OF = _STATUSES.where(ReportRow.volunteer_id == bindparam("volunteer"))


def published_head(session: Session | Connection, date: dt.date) -> Row[Any] | None:
    """The day's published plan as a row of ``id``, ``date``, ``version`` and
    ``changed_volunteers`` only (no documents), or None."""
    return session.execute(_PUBLISHED_HEAD, {"date": date.isoformat()}).first()


def save_version(
    session: Session,
    plan: Plan,
    day: Day,
    kind: str,
    job_id: str | None,
    base: Plan | None = None,
) -> int:
    """Store ``plan`` as the day's next version, with its assignments; returns the version.
    ``base``: the plan a re-plan started from (routes that differ are marked changed)."""
    ensure_day(session, day.date)
    last = session.scalar(
        select(func.max(PlanVersion.version)).where(PlanVersion.date == day.date.isoformat())
    )
    number = (last or 0) + 1
    plan = plan.model_copy(update={"version": number})
    row = PlanVersion(
        date=day.date.isoformat(),
        version=number,
        kind=kind,
        base_version=base.version if base else None,
        job_id=job_id,
        plan_json=plan.model_dump_json(indent=2),
        day_json=day.model_dump_json(),
        changed_volunteers=changed_volunteers(base, plan) if base else [],
        created_at=now(),
        published_at=None,
    )
    session.add(row)
    session.flush()
    session.add_all(_assignments(row, plan, day))
    return number


def _route_key(stops: list[Stop]) -> list[tuple[str | None, str, int]]:
    return [(s.need, s.kind.value, s.start) for s in stops if s.need]


def changed_volunteers(base: Plan, plan: Plan) -> list[str]:
    """Volunteers whose stops (needs, kinds and start times) differ between the two plans."""
    before = {r.volunteer: _route_key(r.stops) for r in base.routes}
    after = {r.volunteer: _route_key(r.stops) for r in plan.routes}
    return sorted(v for v in before.keys() | after.keys() if before.get(v) != after.get(v))


def _first_name(name: str) -> str:
    return name.split()[0] if name.strip() else ""


def _view(day: Day, stops: list[Stop], task: Stop) -> dict[str, Any]:
    """What the volunteer's app shows of one task: only what the visit needs."""
    need = day.need(task.need)  # type: ignore[arg-type]
    call = task.kind is StopKind.call
    collect = None
    if task.kind is StopKind.deliver:
        pickup = next(s for s in stops if s.need == need.id and s.kind is StopKind.collect)
        site = day.site(pickup.site or need.site)  # type: ignore[arg-type]
        collect = {
            "site": site.name,
            "postcode": site.postcode,
            "items": need.load,
            "planned_start": format_clock(pickup.start),
        }
    return {
        "kind": task.kind.value,
        "service": need.kind.value,
        "priority": need.priority.value,
        "first_name": _first_name(need.name),
        "phone": need.phone,
        "postcode": None if call else need.postcode,
        "address": None if call else need.address,
        "window_start": format_clock(need.window_start),
        "window_end": format_clock(need.window_end),
        "planned_start": format_clock(task.start),
        "duration_min": need.duration,
        "collect": collect,
        "access_note": "" if call else need.access_notes,
    }


def _assignments(row: PlanVersion, plan: Plan, day: Day) -> list[AssignmentRow]:
    partner = {a.need: a.partner for a in plan.assignments}
    rows = []
    for route in plan.routes:
        tasks = [s for s in route.stops if s.need and s.kind in TASKS]
        for order, task in enumerate(tasks, start=1):
            need = day.need(task.need)  # type: ignore[arg-type]
            rows.append(
                AssignmentRow(
                    plan_version_id=row.id,
                    date=row.date,
                    need_id=need.id,
                    volunteer_id=route.volunteer,
                    partner_id=partner[need.id],
                    order=order,
                    kind=task.kind.value,
                    service=need.kind.value,
                    ward=need.ward,
                    planned_start=task.start,
                    view=_view(day, route.stops, task),
                )
            )
    return rows


def publish(session: Session, row: PlanVersion) -> PlanVersion:
    """Publish a version (again: no change). ``PublishError`` if a later one is published."""
    if row.published_at is not None:
        return row
    current = published(session, dt.date.fromisoformat(row.date))
    if current is not None and current.version > row.version:
        raise PublishError(f"version {current.version} is already published; publish a newer one")
    row.published_at = now()
    return row


def statuses(
    session: Session | Connection, row: PlanVersion | Row[Any], volunteer: str | None = None
) -> dict[str, str]:
    """Each need's reported outcome in plan version ``row`` (of one volunteer, if given): the
    latest report on its assignment in this version, else ``done`` if it was reported done on
    an earlier version (a re-plan keeps done stops; a failed need is a new attempt)."""
    if volunteer is None:
        reports = session.execute(_STATUSES, {"date": row.date})
    else:
        reports = session.execute(_STATUSES_OF, {"date": row.date, "volunteer": volunteer})
    found: dict[str, str] = {}
    latest: dict[str, str] = {}
    for need, outcome, version_id in reports:
        if version_id == row.id:
            latest[need] = outcome
        elif outcome == "done":
            found[need] = "done"
    return {**found, **latest}


def my_assignments(
    session: Session | Connection, row: PlanVersion | Row[Any], volunteer: str
) -> list[dict[str, Any]]:
    """A volunteer's assignments in a plan version, in order, with their status."""
    found = session.execute(_MY_ASSIGNMENTS, {"version_id": row.id, "volunteer": volunteer}).all()
    status = statuses(session, row, volunteer) if found else {}
    return [
        {
            "assignment_id": a.id,
            "order": a.order,
            "need_id": a.need_id,
            **a.view,
            "status": status.get(a.need_id, "planned"),
        }
        for a in found
    ]


def partner_needs(session: Session, row: PlanVersion, partner: str) -> list[AssignmentRow]:
    query = (
        select(AssignmentRow)
        .where(AssignmentRow.plan_version_id == row.id, AssignmentRow.partner_id == partner)
        .order_by(AssignmentRow.planned_start, AssignmentRow.need_id)
    )
    return list(session.scalars(query))


def events(session: Session, row: PlanVersion, minutes: int) -> Events:
    """What has been reported on the day of ``row`` (a published plan), as re-plan events at
    ``minutes`` after midnight: the latest report on each need the plan serves, and the
    volunteers who stopped for the day."""
    plan = Plan.model_validate_json(row.plan_json)
    served = {a.need for a in plan.assignments}
    latest: dict[str, ReportRow] = {}
    for report in session.scalars(
        select(ReportRow).where(ReportRow.date == row.date).order_by(ReportRow.id)
    ):
        latest[report.need_id] = report
    done = {n for n, r in latest.items() if r.outcome == "done" and n in served}
    failed = {
        n: FAIL_REASONS[r.reason or "not_home"]
        for n, r in latest.items()
        if r.outcome == "failed" and n in served
    }
    dropped = set(
        session.scalars(select(DropoutRow.volunteer_id).where(DropoutRow.date == row.date))
    )
    return Events(now=minutes, done=frozenset(done), failed=failed, dropped=frozenset(dropped))


def aggregates(row: PlanVersion) -> dict[str, Any]:
    """A plan's figures for planners: by ward, kind, priority and reason; no resident, address
    or contact."""
    plan = Plan.model_validate_json(row.plan_json)
    day = Day.model_validate_json(row.day_json)
    served = {a.need for a in plan.assignments}
    by_ward: dict[str, Counter[str]] = {}
    for need in day.needs:
        counts = by_ward.setdefault(need.ward or "unknown", Counter())
        counts["needs"] += 1
        counts["served"] += need.id in served
    kpis = plan.kpis
    return {
        "date": row.date,
        "plan_version": row.version,
        "published": row.published_at is not None,
        "needs": kpis.get("needs"),
        "served": kpis.get("served"),
        "by_ward": {w: dict(c) for w, c in sorted(by_ward.items())},
        "by_kind": kpis.get("served_by_kind"),
        "by_priority": kpis.get("served_by_priority"),
        "unserved_by_reason": kpis.get("unserved_by_reason"),
        "volunteers_available": kpis.get("volunteers_available"),
        "volunteers_used": kpis.get("volunteers_used"),
        "travel_total_min": kpis.get("travel_total_min"),
    }
