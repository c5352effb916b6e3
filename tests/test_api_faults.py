"""Faults against a real server: killed in the middle of a plan, and 50 reports at once."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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


def test_a_killed_server_fails_its_job_and_plans_again(database_url: str, tmp_path: Path) -> None:
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


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with the bundled day planned (no improvement iterations) and published."""
    folder = tmp_path_factory.mktemp("published")
    url = f"sqlite:///{folder / 'kst-match.sqlite3'}"
    coordinator = add_token(url, "coordinator")
    with (
        serving(url, folder / "server.log") as server,
        httpx.Client(base_url=server.base, timeout=60) as client,
    ):
        upload_day(client, coordinator, DATE)
        response = client.post(
            f"/v1/days/{DATE}/plans", json={"iterations": 0}, headers=bearer(coordinator)
        )
        assert wait_job(client, coordinator, response.json()["job_id"])["state"] == "done"
        client.post(f"/v1/days/{DATE}/plans/1/publish", headers=bearer(coordinator))
        plan = client.get(f"/v1/days/{DATE}/plans/1", headers=bearer(coordinator)).json()
        yield {"url": url, "server": server, "client": client, "plan": plan}


def test_fifty_concurrent_reports_none_lost_none_counted_twice(published: dict) -> None:
    client: httpx.Client = published["client"]
    volunteers = [r["volunteer"] for r in published["plan"]["routes"]][:10]
    work = []
    for volunteer in volunteers:
        token = add_token(published["url"], "volunteer", volunteer=volunteer)
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

    store = Store(published["url"], migrate=False)
    with store.read() as session:
        rows = session.scalars(select(ReportRow.report_id)).all()
    store.dispose()
    assert sorted(rows) == sorted(report_id for *_, report_id in work)


SCENARIO = "name: fewer drivers\nchanges:\n  - volunteers: {skill: driver, scale: 0.5}\n"


def test_a_planner_and_a_partner_over_http(published: dict) -> None:
    client: httpx.Client = published["client"]
    plan = published["plan"]
    planner = bearer(add_token(published["url"], "planner"))
    partner_id = plan["assignments"][0]["partner"]
    partner = bearer(add_token(published["url"], "partner", partner=partner_id))

    body = client.get("/v1/partner/needs", params={"date": DATE}, headers=partner).json()
    expected = {a["need"] for a in plan["assignments"] if a["partner"] == partner_id}
    assert {n["need_id"] for n in body["needs"]} == expected

    aggregates = client.get(f"/v1/planner/days/{DATE}/aggregates", headers=planner).json()
    assert aggregates["served"] == len(plan["assignments"])

    response = client.post(
        "/v1/scenarios",
        json={"date": DATE, "scenarios": [SCENARIO], "seeds": 1, "iterations": 0},
        headers=planner,
    )
    assert response.status_code == 202
    job = wait_job(client, planner["Authorization"].split()[1], response.json()["job_id"])
    assert job["state"] == "done", job["reason"]
    result = client.get(f"/v1/scenarios/{job['job_id']}", headers=planner).json()
    rows = {r["scenario"]: r for r in result["comparison"]}
    assert set(rows) == {"base", "fewer drivers"}
    assert rows["base"]["needs"] == 400

    response = client.post(
        "/v1/scenarios",
        json={"date": DATE, "scenarios": ["name: x\nchanges:\n  - volunteers: {scale: -1}\n"]},
        headers=planner,
    )
    assert response.status_code == 422
    assert "scenario 1, change 1" in response.json()["detail"][0]
