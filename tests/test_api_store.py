"""The store under the service: one active plan job per day, jobs failed with their reason,
jobs of a stopped server failed on start-up, and plan versions that never change once
published."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, inspect, select

from kst_match.model import Day, Plan
from kst_match.store import Store, db, jobs, plans
from kst_match.store.models import DropoutRow, ImmutableError, JobRow, PlanVersion

DATE = dt.date(2026, 11, 25)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    made = Store(f"sqlite:///{tmp_path / 'db' / 'kst-match.sqlite3'}")
    yield made  # type: ignore[misc]
    made.dispose()


def test_the_first_start_creates_every_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"needs", "volunteers", "partners", "sites", "days", "plan_versions", "assignments",
            "reports", "jobs", "users", "tokens", "alembic_version"} <= tables  # fmt: skip
    Store(store.url).dispose()  # opening again migrates nothing and loses nothing


def test_a_day_has_one_active_plan_job(store: Store) -> None:
    first, new = jobs.submit(store, "plan", DATE, {}, jobs.plan_lock(DATE))
    again, new_again = jobs.submit(store, "replan", DATE, {}, jobs.plan_lock(DATE))
    assert (new, new_again, again.id) == (True, False, first.id)
    other_day, new_other = jobs.submit(store, "plan", dt.date(2026, 11, 26), {}, "plan:2026-11-26")
    assert new_other and other_day.id != first.id
    jobs.fail(store, first.id, "stopped by hand")
    later, new_later = jobs.submit(store, "plan", DATE, {}, jobs.plan_lock(DATE))
    assert new_later and later.id != first.id


def test_a_job_that_cannot_run_fails_with_its_reason(store: Store) -> None:
    job, _ = jobs.submit(store, "plan", DATE, {"iterations": 0}, jobs.plan_lock(DATE))
    assert jobs.run(store.url, job.id) == "failed"
    found = jobs.get(store, job.id)
    assert found is not None
    assert (found.state, found.reason) == ("failed", f"no needs or volunteers uploaded for {DATE}")
    assert jobs.run(store.url, job.id) == "failed"  # a finished job is never run again


def test_start_up_fails_the_jobs_of_a_stopped_server(store: Store) -> None:
    host = socket.gethostname()
    dead, _ = jobs.submit(store, "plan", DATE, {}, None)
    live, _ = jobs.submit(store, "plan", DATE, {}, None)
    with store.write() as session:
        # A pid that no process has: beyond the kernel's pid_max.
        session.get(JobRow, dead.id).owner = f"{host}:{2**22 + 1}"  # type: ignore[union-attr]
        session.get(JobRow, live.id).owner = f"{host}:{os.getppid()}"  # type: ignore[union-attr]
    assert jobs.recover(store) == 1
    assert (jobs.get(store, dead.id).state, jobs.get(store, dead.id).reason) == (  # type: ignore[union-attr]
        "failed",
        jobs.STOPPED,
    )
    assert jobs.get(store, live.id).state == "queued"  # type: ignore[union-attr]


def test_a_published_version_stays_as_it_was(store: Store) -> None:
    day = Day(date=DATE, needs=(), volunteers=(), partners=(), sites=())
    plan = Plan(date=DATE, travel_model="road-estimate", assignments=[], routes=[], unserved=[])
    with store.write() as session:
        assert plans.save_version(session, plan, day, "plan", None) == 1
        assert plans.save_version(session, plan, day, "plan", None) == 2
    with store.write() as session:
        row = plans.version(session, DATE, 2)
        plans.publish(session, row)  # type: ignore[arg-type]
        published_at = row.published_at  # type: ignore[union-attr]
    with store.write() as session:
        again = plans.publish(session, plans.version(session, DATE, 2))  # type: ignore[arg-type]
        assert again.published_at == published_at
        with pytest.raises(plans.PublishError):
            plans.publish(session, plans.version(session, DATE, 1))  # type: ignore[arg-type]
    with pytest.raises(ImmutableError), store.write() as session:
        plans.version(session, DATE, 2).plan_json = "{}"  # type: ignore[union-attr]
    with store.write() as session:
        plans.version(session, DATE, 1).plan_json = "{}"  # type: ignore[union-attr]  # not published
    with store.read() as session:
        assert plans.published(session, DATE).version == 2  # type: ignore[union-attr]
        assert plans.published(session, DATE).plan_json != "{}"  # type: ignore[union-attr]
        assert plans.version(session, DATE, 1).published_at is None  # type: ignore[union-attr]


def test_writers_of_one_process_take_turns_before_sqlite_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With SQLite's busy wait turned off, a second writer that reached SQLite while another
    held the write lock would fail at once ("database is locked"); in one process they wait
    their turn instead, so every write of 8 threads lands."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 0)
    made = Store(f"sqlite:///{tmp_path / 'kst-match.sqlite3'}")
    errors: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for i in range(10):
                with made.write() as session:
                    session.add(DropoutRow(date="2026-11-25", volunteer_id=f"V{thread}-{i}",
                                           received_at=db.now()))  # fmt: skip
                    time.sleep(0.002)  # hold the lock: the threads' writes overlap
        except BaseException as exc:  # collected, then asserted
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with made.read() as session:
        stored = session.scalar(select(func.count()).select_from(DropoutRow))
    made.dispose()
    assert (errors, stored) == ([], 80)


def test_a_volunteers_statuses_are_read_from_their_own_reports(store: Store) -> None:
    """The street champion's assignments carry a status from the volunteer's reports: SQLite
    finds them by day and volunteer, instead of reading every report of the day (10,000 in
    three minutes of the load benchmark: 2.8 ms a request, and growing)."""
    statements: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    with store.read() as session:
        plans.statuses(session, PlanVersion(id=1, date=DATE.isoformat()), "V00001")
    event.remove(store.engine, "before_cursor_execute", capture)
    [(statement, parameters)] = [s for s in statements if "FROM reports" in s[0]]
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    details = " | ".join(row[-1] for row in plan)
    assert "reports USING INDEX ix_reports_date_volunteer" in details, details
