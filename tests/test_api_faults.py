"""Faults against a real server: killed in the middle of a plan, then restarted on the same
database, which plans again and takes 50 reports at once (one server and plan for both:
the tests stay short)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kst_match.store import Store
from kst_match.store.jobs import STOPPED
from kst_match.store.models import ReportRow
from tests.api_server import (
    Server,
    add_token,
    bearer,
    bundled_date,
    serving,
    upload_day,
    wait_gone,
    wait_job,
)

DATE = bundled_date()
REPORTS = 25  # distinct reports, each sent twice at once: 50 requests


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'kst-match.sqlite3'}"


def _running(client: httpx.Client, token: str, job_id: str) -> None:
    """Wait until the job is running (not merely queued)."""
    for _ in range(3000):
        state = client.get(f"/v1/jobs/{job_id}", headers=bearer(token)).json()["state"]
        if state == "running":
            return
        assert state == "queued"
        __import__("time").sleep(0.05)
    raise AssertionError("the job never started")


def test_a_killed_server_fails_its_job_then_fifty_reports_at_once(
    database_url: str, tmp_path: Path
) -> None:
    coordinator = add_token(database_url, "coordinator")
    hub = bearer(coordinator)
    server = Server(database_url, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            upload_day(client, coordinator, DATE)
            # A search that would run for a long time: killed while it runs.
            response = client.post(
                f"/v1/days/{DATE}/plans", json={"iterations": 100_000}, headers=hub
            )
            job_id = response.json()["job_id"]
            _running(client, coordinator, job_id)
        workers = server.children()
        assert workers  # the solve runs in a worker process, not in the server
        server.kill()
    finally:
        server.stop()
    assert wait_gone(workers) == []  # the worker does not outlive its server

    with (
        serving(database_url, tmp_path / "second.log") as again,
        httpx.Client(base_url=again.base, timeout=60) as client,
    ):
        job = client.get(f"/v1/jobs/{job_id}", headers=hub).json()
        assert (job["state"], job["reason"]) == ("failed", STOPPED)
        response = client.post(f"/v1/days/{DATE}/plans", json={"iterations": 0}, headers=hub)
        assert response.status_code == 202
        assert response.json()["job_id"] != job_id
        done = wait_job(client, coordinator, response.json()["job_id"])
        assert (done["state"], done["plan_version"]) == ("done", 1)
        assert client.post(f"/v1/days/{DATE}/plans/1/publish", headers=hub).status_code == 200
        plan = client.get(f"/v1/days/{DATE}/plans/1", headers=hub).json()
        _fifty_concurrent_reports(database_url, client, plan)


def _fifty_concurrent_reports(url: str, client: httpx.Client, plan: dict) -> None:
    """50 reports at once on the published plan, each sent twice (a retry): none lost, none
    counted twice."""
    volunteers = [r["volunteer"] for r in plan["routes"]][:10]
    work = []
    for volunteer in volunteers:
        token = add_token(url, "volunteer", volunteer=volunteer)
        mine = client.get("/v1/me/assignments", params={"date": DATE}, headers=bearer(token))
        for assignment in mine.json()["assignments"]:
            work.append((token, assignment["assignment_id"], str(uuid.uuid4())))
    work = work[:REPORTS]
    assert len(work) == REPORTS
    requests = work * 2  # every report sent twice: a client's retry
    random.Random(7).shuffle(requests)

    def send(item: tuple[str, int, str]) -> httpx.Response:
        token, assignment, report_id = item
        return client.post(
            f"/v1/me/assignments/{assignment}/report",
            json={"report_id": report_id, "outcome": "failed", "reason": "not_home"},
            headers=bearer(token),
        )

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        responses = list(pool.map(send, requests))
    assert [r.status_code for r in responses] == [200] * len(requests)
    first = Counter(r.json()["report_id"] for r in responses if not r.json()["duplicate"])
    assert first == Counter({report_id: 1 for *_, report_id in work})

    store = Store(url, migrate=False)
    with store.read() as session:
        rows = session.scalars(select(ReportRow.report_id)).all()
    store.dispose()
    assert sorted(rows) == sorted(report_id for *_, report_id in work)
