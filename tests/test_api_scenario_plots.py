"""A planner's scenario job draws the plots `kst-match scenario` draws, and the service serves
them as PNG: against a real server on a small day (60 needs, no improvement iterations: the
same plans on any machine).

``database_url`` is a fixture so that the same test runs against PostgreSQL too
(tests/test_api_postgres.py)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
import yaml
from PIL import Image

from kst_match.outputs.scenarios import render_plots
from kst_match.scenarios import Outcome
from kst_match.store import Store
from kst_match.store.models import JobRow
from tests.api_server import add_token, bearer, serving, upload_small_day, wait_job

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATE = "2026-12-04"
# A name that matplotlib would read as a formula (and fail on), with HTML and template syntax.
CRAFTED = r"$\frac{$ <script>alert(1)</script> {{ 7*7 }}"
SCENARIO = yaml.safe_dump(
    {"name": CRAFTED, "changes": [{"volunteers": {"skill": "driver", "scale": 0.5}}]}
)
# Pixels: figure inches times dots per inch, as outputs/scenarios.py sets them.
SIZES = {
    "capacity_curve": (7 * 120, round(4.2 * 120)),
    "unserved_by_ward": (2 * 4 * 110, 4 * 110),  # two maps (base, the scenario) side by side
}
LEVELS = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'kst-match.sqlite3'}"


def _stored_runs(url: str, job_id: str) -> list[Outcome]:
    """The runs the job stored (need ids left out), as the outcomes they were."""
    store = Store(url, migrate=False)
    try:
        with store.read() as session:
            job = session.get(JobRow, job_id)
            assert job is not None and job.result is not None
            return [Outcome(**run) for run in job.result["runs"]]
    finally:
        store.dispose()


def test_a_scenario_job_returns_its_plots_as_png(database_url: str, tmp_path: Path) -> None:
    hub, planner = add_token(database_url, "coordinator"), add_token(database_url, "planner")
    with (
        serving(database_url, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.base, timeout=60, headers=bearer(planner)) as client,
    ):
        upload_small_day(client, hub, DATE)
        body = {
            "date": DATE,
            "scenarios": [SCENARIO],
            "seeds": 1,
            "iterations": 0,
            "capacity_curve": True,
        }
        response = client.post("/v1/scenarios", json=body)
        assert response.status_code == 202
        job_id = response.json()["job_id"]
        job = wait_job(client, planner, job_id)
        assert job["state"] == "done", job["reason"]

        result = client.get(f"/v1/scenarios/{job_id}").json()
        assert [r["scenario"] for r in result["comparison"]] == ["base", CRAFTED]
        curve = result["capacity_curve"]
        assert [p["level"] for p in curve] == LEVELS
        assert curve[0]["served"] == result["comparison"][0]["served"]
        assert curve[0]["needs"] == 60
        # Each level keeps round(150 * level) of the 150 volunteers.
        assert [p["volunteers"] for p in curve] == [round(150 * level) for level in LEVELS]
        listed = client.get(f"/v1/scenarios/{job_id}/plots").json()
        assert listed["state"] == "done"
        assert listed["plots"] == result["plots"]
        assert [(p["name"], p["media_type"], p["url"]) for p in listed["plots"]] == [
            (name, "image/png", f"/v1/scenarios/{job_id}/plots/{name}.png") for name in SIZES
        ]

        served = {}
        for link in listed["plots"]:
            response = client.get(link["url"])
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/png"
            assert response.content.startswith(PNG_SIGNATURE)
            with Image.open(io.BytesIO(response.content)) as image:
                assert (image.format, image.size) == ("PNG", SIZES[link["name"]])
            served[link["name"]] = response.content
        # The same drawing as `kst-match scenario` makes of the same runs.
        assert served == render_plots(_stored_runs(database_url, job_id), curve)

        unknown = "0" * 32
        for path in (
            f"/v1/scenarios/{unknown}/plots",
            f"/v1/scenarios/{unknown}/plots/unserved_by_ward.png",
            f"/v1/scenarios/{job_id}/plots/nothing.png",
        ):
            response = client.get(path)
            assert (response.status_code, response.json().keys()) == (404, {"detail"}), path
