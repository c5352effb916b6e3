"""Jobs: plans, re-plans and scenario runs, their state kept in the database.

A job is created ``queued``; a worker process (``run``) marks it ``running``, does the work and
marks it ``done`` or ``failed`` with a reason, in the same transaction that stores its result,
and only if the job is still running then: a job the server gave up on stays failed. At most
one plan or re-plan of a day is active at a time (a unique index on ``lock_key`` over active
jobs). A job whose server process is gone is failed with ``STOPPED`` when the next server
starts (``recover``).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kst_match.store.db import Store, now
from kst_match.store.models import JobPlot, JobRow

ACTIVE = ("queued", "running")
STOPPED = "the server stopped while this job was running"


def owner() -> str:
    """This process as a job's owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def plan_lock(date: dt.date) -> str:
    """The lock key shared by a day's plans and re-plans."""
    return f"plan:{date.isoformat()}"


def submit(
    store: Store,
    kind: str,
    date: dt.date | None,
    params: dict[str, Any],
    lock_key: str | None,
) -> tuple[JobRow, bool]:
    """A new queued job, or the active job holding ``lock_key``; and whether it is new."""
    job = JobRow(
        id=uuid.uuid4().hex,
        kind=kind,
        date=date.isoformat() if date else None,
        state="queued",
        params=params,
        lock_key=lock_key,
        owner=owner(),
        created_at=now(),
    )
    for _ in range(5):  # the active job may finish between the insert and the look-up
        try:
            with store.write() as session:
                session.add(job)
            return job, True
        except IntegrityError:
            with store.read() as session:
                active = session.scalars(
                    select(JobRow).where(JobRow.lock_key == lock_key, JobRow.state.in_(ACTIVE))
                ).first()
            if active is not None:
                return active, False
    raise RuntimeError(f"could not queue a job for {lock_key}")


def get(store: Store, job_id: str) -> JobRow | None:
    with store.read() as session:
        return session.get(JobRow, job_id)


def plot_names(store: Store, job_id: str) -> list[str]:
    """The names of the plots a job drew, sorted (none until it is done)."""
    with store.read() as session:
        return list(
            session.scalars(
                select(JobPlot.name).where(JobPlot.job_id == job_id).order_by(JobPlot.name)
            )
        )


def plot(store: Store, job_id: str, name: str) -> bytes | None:
    """A plot of a job as PNG bytes, or None."""
    with store.read() as session:
        row = session.get(JobPlot, (job_id, name))
        return row.png if row is not None else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(store: Store) -> int:
    """Fail every active job whose server process (on this host) is gone; returns how many.
    Jobs of live server processes (other workers of the same server) are left to them."""
    host, me = socket.gethostname(), os.getpid()
    failed = 0
    with store.write() as session:
        for job in session.scalars(select(JobRow).where(JobRow.state.in_(ACTIVE))):
            job_host, _, pid = (job.owner or "").rpartition(":")
            if job_host == host and pid.isdigit() and int(pid) != me and _alive(int(pid)):
                continue
            if job_host not in (host, "") and pid.isdigit():
                continue  # another machine's server: not ours to judge
            job.state, job.reason, job.finished_at = "failed", STOPPED, now()
            failed += 1
    return failed


def fail_owned(store: Store, reason: str = STOPPED) -> None:
    """Fail the active jobs of this server process (when it shuts down)."""
    with store.write() as session:
        for job in session.scalars(
            select(JobRow).where(JobRow.owner == owner(), JobRow.state.in_(ACTIVE))
        ):
            job.state, job.reason, job.finished_at = "failed", reason, now()


def fail(store: Store, job_id: str, reason: str) -> None:
    """Fail a job if it is still active."""
    with store.write() as session:
        job = session.get(JobRow, job_id)
        if job is not None and job.state in ACTIVE:
            job.state, job.reason, job.finished_at = "failed", reason, now()


# ---------------------------------------------------------------------------------------------
# In the worker process
# ---------------------------------------------------------------------------------------------
def watch_parent(parent: int, every_s: float = 0.5) -> None:
    """Worker start-up: exit when the server process that started this worker is gone, so a
    killed server leaves no solve running."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


def warm_up() -> None:
    """Import what a plan needs, so that the first job of a fresh worker starts at once."""
    import importlib

    for module in ("kst_match.plan", "kst_match.replan", "kst_match.store.runners"):
        importlib.import_module(module)
    from kst_match.geo.areas import Areas

    Areas.default()


def run(url: str, job_id: str) -> str:
    """Run a queued job to the end (in a worker process); returns its final state."""
    from kst_match.store import runners

    store = Store(url, migrate=False)
    try:
        with store.write() as session:
            job = session.get(JobRow, job_id)
            if job is None or job.state != "queued":
                return job.state if job else "missing"
            job.state, job.started_at = "running", now()
        try:
            finish = runners.RUNNERS[job.kind](store, job)
        except Exception as exc:  # the job fails with why; the worker lives on
            fail(store, job_id, runners.describe(exc))
            return "failed"
        with store.write() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.state != "running":
                return row.state if row else "missing"
            finish(session, row)
            row.state, row.finished_at = "done", now()
        return "done"
    finally:
        store.dispose()
