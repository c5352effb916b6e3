"""A coordinator's, two street champions' and a re-plan's day against a real server.

``database_url`` is a fixture so that the same test runs against PostgreSQL when it is
parametrised (default: a SQLite file in ``tmp_path``)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from kst_match.model import format_clock, parse_clock
from tests.api_server import add_token, bearer, bundled_date, serving, upload_day, wait_job

ITERATIONS = 20  # a deterministic stopping rule: the same plan on any machine


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'kst-match.sqlite3'}"


def _tasks(plan: dict, volunteer: str) -> list[dict]:
    """A volunteer's deliveries, visits and calls in a plan, in order (none without a route)."""
    stops = [s for r in plan["routes"] if r["volunteer"] == volunteer for s in r["stops"]]
    return [s for s in stops if s["kind"] in ("deliver", "visit", "call")]


def test_plan_publish_report_and_replan(database_url: str, tmp_path: Path) -> None:
    date = bundled_date()
    coordinator = add_token(database_url, "coordinator")
    with (
        serving(database_url, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.base, timeout=60) as client,
    ):
        hub = bearer(coordinator)
        stored = upload_day(client, coordinator, date)
        assert {k: v["stored"] for k, v in stored.items()} == {
            "partners": 17,
            "sites": 20,
            "volunteers": 150,
            "needs": 400,
        }
        assert all(v["rejected"] == [] for v in stored.values())

        response = client.post(
            f"/v1/days/{date}/plans", json={"iterations": ITERATIONS}, headers=hub
        )
        assert response.status_code == 202
        job = wait_job(client, coordinator, response.json()["job_id"])
        assert job["state"] == "done", job["reason"]
        assert job["plan_version"] == 1
        plan = client.get(f"/v1/days/{date}/plans/1", headers=hub).json()
        assert plan["version"] == 1
        assert len(plan["assignments"]) + len(plan["unserved"]) == 400
        assert client.post(f"/v1/days/{date}/plans/1/publish", headers=hub).status_code == 200

        # A partner sees the needs routed to it; a planner the figures.
        partner_id = plan["assignments"][0]["partner"]
        response = client.post(
            "/v1/tokens", json={"role": "partner", "partner_id": partner_id}, headers=hub
        )
        routed = client.get(
            "/v1/partner/needs", params={"date": date}, headers=bearer(response.json()["token"])
        ).json()
        expected = {a["need"] for a in plan["assignments"] if a["partner"] == partner_id}
        assert {n["need_id"] for n in routed["needs"]} == expected
        response = client.post("/v1/tokens", json={"role": "planner"}, headers=hub)
        figures = client.get(
            f"/v1/planner/days/{date}/aggregates", headers=bearer(response.json()["token"])
        ).json()
        assert (figures["plan_version"], figures["served"]) == (1, len(plan["assignments"]))

        # Two volunteers with at least two tasks that are not calls (a call has no address).
        busy = [
            r["volunteer"]
            for r in plan["routes"]
            if sum(s["kind"] in ("deliver", "visit") for s in _tasks(plan, r["volunteer"])) >= 2
        ]
        first, second = busy[0], busy[1]
        tokens = {}
        for volunteer in (first, second):
            response = client.post(
                "/v1/tokens", json={"role": "volunteer", "volunteer_id": volunteer}, headers=hub
            )
            assert response.status_code == 201
            tokens[volunteer] = response.json()["token"]

        days = {}
        for volunteer in (first, second):
            response = client.get(
                "/v1/me/assignments", params={"date": date}, headers=bearer(tokens[volunteer])
            )
            assert response.status_code == 200
            days[volunteer] = response.json()
            planned = [s["need"] for s in _tasks(plan, volunteer)]
            got = days[volunteer]["assignments"]
            assert [a["need_id"] for a in got] == planned  # all of mine, in order, nobody else's
            assert [a["order"] for a in got] == list(range(1, len(planned) + 1))
            assert days[volunteer]["plan_version"] == 1

        done = days[first]["assignments"][0]
        failed = days[second]["assignments"][0]
        reports = [
            (first, done, {"outcome": "done"}),
            (second, failed, {"outcome": "failed", "reason": "not_home"}),
        ]
        for volunteer, assignment, outcome in reports:
            response = client.post(
                f"/v1/me/assignments/{assignment['assignment_id']}/report",
                json={"report_id": str(uuid.uuid4()), **outcome},
                headers=bearer(tokens[volunteer]),
            )
            assert response.status_code == 200, response.text
            assert response.json()["duplicate"] is False

        # Re-plan a minute after both reported stops were planned to start.
        now = max(parse_clock(done["planned_start"]), parse_clock(failed["planned_start"])) + 1
        # A third volunteer, with work left after then, can't continue (token from the CLI).
        third = next(
            v for v in busy[2:] if any(parse_clock(s["start"]) > now for s in _tasks(plan, v))
        )
        made = subprocess.run(
            [sys.executable, "-m", "kst_match.cli", "users", "add", "--role", "volunteer",
             "--volunteer", third],
            env={**os.environ, "KST_MATCH_DATABASE_URL": database_url},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        response = client.post(
            "/v1/me/stop-for-today", params={"date": date}, headers=bearer(made.stdout.strip())
        )
        assert response.status_code == 200
        left = {s["need"] for s in _tasks(plan, third) if parse_clock(s["start"]) > now}

        # Events that do not fit the plan are refused before anything is planned.
        response = client.post(f"/v1/days/{date}/replans", json={"now": "00:01"}, headers=hub)
        assert response.status_code == 422
        assert f"done.{done['need_id']}: planned for" in response.json()["detail"][0]
        response = client.post(
            f"/v1/days/{date}/replans",
            json={"now": format_clock(now), "iterations": ITERATIONS},
            headers=hub,
        )
        assert response.status_code == 202, response.text
        # Stops planned before now and not reported are named: they are planned again.
        late = [
            s["need"]
            for r in plan["routes"]
            if r["volunteer"] != third
            for s in _tasks(plan, r["volunteer"])
            if parse_clock(s["start"]) < now
            and s["need"] not in (done["need_id"], failed["need_id"])
        ]
        notes = response.json()["notes"]
        expected = f"{len(late)} stops planned to start before {format_clock(now)} were reported"
        assert [n[: len(expected)] for n in notes] == ([expected] if late else [])
        job = wait_job(client, coordinator, response.json()["job_id"])
        assert job["state"] == "done", job["reason"]
        assert job["kind"] == "replan"
        assert job["plan_version"] == 2
        new = client.get(f"/v1/days/{date}/plans/2", headers=hub).json()

        # The done stop is fixed: same volunteer, same times.
        kept = next(a for a in new["assignments"] if a["need"] == done["need_id"])
        assert kept["volunteer"] == first
        before = next(s for s in _tasks(plan, first) if s["need"] == done["need_id"])
        after = next(s for s in _tasks(new, first) if s["need"] == done["need_id"])
        assert (after["arrival_s"], after["start_s"], after["departure_s"]) == (
            before["arrival_s"],
            before["start_s"],
            before["departure_s"],
        )
        # The failed need is placed again, or explained.
        again = [a for a in new["assignments"] if a["need"] == failed["need_id"]]
        unserved = [u for u in new["unserved"] if u["need"] == failed["need_id"]]
        assert len(again) + len(unserved) == 1
        if again:
            assert parse_clock(again[0]["start"]) >= now  # later today, not in the past
            assert "Failed earlier today (not at home)" in again[0]["note"]
        else:
            assert unserved[0]["reason"] and "Failed earlier today" in unserved[0]["detail"]
        assert any(
            e["kind"] == "failed" and e["need"] == failed["need_id"] and e["note"] == "not at home"
            for e in new["events"]
        )

        # The volunteer who stopped has no work left after now; their needs went elsewhere.
        assert not [s for s in _tasks(new, third) if parse_clock(s["start"]) >= now]
        assert not [a for a in new["assignments"] if a["need"] in left and a["volunteer"] == third]
        assert {"kind": "dropped", "volunteer": third} in [
            {"kind": e["kind"], "volunteer": e["volunteer"]} for e in new["events"]
        ]

        # Published, the new version reaches the apps: the changed route is marked to refresh.
        assert client.post(f"/v1/days/{date}/plans/2/publish", headers=hub).status_code == 200
        mine = client.get(
            "/v1/me/assignments", params={"date": date}, headers=bearer(tokens[second])
        ).json()
        assert mine["plan_version"] == 2
        assert mine["refresh"] is True
        for a in mine["assignments"]:
            if a["need_id"] == failed["need_id"]:  # placed again with the same volunteer
                assert parse_clock(a["planned_start"]) >= now
                assert a["status"] == "planned"  # a new attempt
        # A report on the superseded version is refused: the app must fetch its day again.
        response = client.post(
            f"/v1/me/assignments/{days[second]['assignments'][-1]['assignment_id']}/report",
            json={"report_id": str(uuid.uuid4()), "outcome": "done"},
            headers=bearer(tokens[second]),
        )
        assert response.status_code == 409
        theirs = client.get(
            "/v1/me/assignments", params={"date": date}, headers=bearer(tokens[first])
        ).json()
        status = {a["need_id"]: a["status"] for a in theirs["assignments"]}
        assert status[done["need_id"]] == "done"
