"""Against a real server: a malformed body names its field, a bad row comes back with file,
row, field and reason as ``kst-match data check`` gives them, ``strict=true`` stores nothing;
and a planner's scenario run."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from kst_match.inputs import check_day
from kst_match.model import ServiceKind
from kst_match.paths import DEFAULT_DAY_DIR
from kst_match.store import Store
from kst_match.store.models import NeedRow, VolunteerRow
from tests.api_server import (
    add_token,
    bearer,
    bundled_date,
    serving,
    upload_small_day,
    wait_job,
)

DATE = bundled_date()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("inputs")
    url = f"sqlite:///{folder / 'db' / 'kst-match.sqlite3'}"
    tokens = {
        "coordinator": add_token(url, "coordinator"),
        "volunteer": add_token(url, "volunteer", volunteer="V00001"),
        "planner": add_token(url, "planner"),
    }
    with (
        serving(url, folder / "server.log") as server,
        httpx.Client(base_url=server.base, timeout=60) as client,
    ):
        yield {"url": url, "client": client, "tokens": tokens, "folder": folder}


def _rows(url: str, table: type, date: str) -> int:
    store = Store(url, migrate=False)
    with store.read() as session:
        count = session.scalar(select(func.count()).select_from(table).where(table.date == date))
    store.dispose()
    return int(count or 0)


def test_the_database_is_private(service: dict) -> None:
    path = Path(service["url"].removeprefix("sqlite:///"))
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_malformed_body_gets_422_naming_the_field(service: dict) -> None:
    client = service["client"]
    volunteer = bearer(service["tokens"]["volunteer"])
    response = client.post(
        "/v1/me/assignments/1/report",
        json={"report_id": "not-a-uuid", "outcome": "done"},
        headers=volunteer,
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "report_id"]]
    response = client.post(
        "/v1/me/assignments/1/report",
        json={"report_id": "0b8c3a3e-5b8e-4f5e-9a43-3f1f1c0f2d11", "outcome": "failed"},
        headers=volunteer,
    )
    assert response.status_code == 422
    assert "reason is required" in response.json()["detail"][0]["msg"]
    hub = bearer(service["tokens"]["coordinator"])
    response = client.post(f"/v1/days/{DATE}/plans", json={"iterations": -1}, headers=hub)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "iterations"]]
    response = client.post(
        f"/v1/days/{DATE}/needs", content=b"{}", headers={**hub, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415


def _bad_needs() -> bytes:
    """The bundled needs with the third data row's kind spoiled (spreadsheet row 4)."""
    lines = (DEFAULT_DAY_DIR / "needs.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[3].split(",")
    assert cells[5] in {k.value for k in ServiceKind}  # the kind column
    cells[5] = "pizza"
    lines[3] = ",".join(cells)
    return "".join(lines).encode()


def test_a_bad_csv_row_comes_back_as_data_check_reports_it(service: dict) -> None:
    client, hub = service["client"], bearer(service["tokens"]["coordinator"])
    body = _bad_needs()
    # What `kst-match data check` says of the same files.
    day = service["folder"] / "day"
    shutil.copytree(DEFAULT_DAY_DIR, day, dirs_exist_ok=True)
    (day / "needs.csv").write_bytes(body)
    expected = check_day(day, dt.date.fromisoformat(DATE)).issues
    assert [(i.file, i.row, i.field) for i in expected] == [("needs.csv", 4, "kind")]

    for kind in ("volunteers", "needs"):
        content = body if kind == "needs" else (DEFAULT_DAY_DIR / f"{kind}.csv").read_bytes()
        response = client.post(
            f"/v1/days/{DATE}/{kind}", content=content, headers={**hub, "Content-Type": "text/csv"}
        )
        assert response.status_code == 200
    result = response.json()
    assert result["stored"] == 399
    assert result["rejected"] == [
        {
            "file": "needs.csv",
            "row": 4,
            "field": "kind",
            "reason": expected[0].reason,
            "value": "pizza",
            "id": expected[0].id,
        }
    ]
    assert _rows(service["url"], NeedRow, DATE) == 399


def test_json_rows_are_checked_by_the_same_rules(service: dict) -> None:
    client, hub = service["client"], bearer(service["tokens"]["coordinator"])
    volunteers = [
        {"id": "V9001", "partner": "kingston_council", "postcode": "KT1 1EU",
         "shift_start": "09:00", "shift_end": "13:00"},
        {"id": "V9002", "partner": "kingston_council", "postcode": "KT1 1EU",
         "shift_start": "nine", "shift_end": "13:00"},
        {"id": "V9003", "partner": "no_such_partner", "postcode": "KT1 1EU",
         "shift_start": "09:00", "shift_end": "13:00"},
    ]  # fmt: skip
    response = client.post("/v1/days/2026-12-01/volunteers", json=volunteers, headers=hub)
    assert response.status_code == 200
    result = response.json()
    assert result["stored"] == 1
    assert [(r["file"], r["row"], r["field"], r["id"]) for r in result["rejected"]] == [
        ("volunteers.json", 2, "shift_start", "V9002"),
        ("volunteers.json", 3, "partner", "V9003"),
    ]
    assert "no_such_partner" in result["rejected"][1]["reason"]
    response = client.post("/v1/days/2026-12-01/volunteers", json={"id": 1}, headers=hub)
    assert response.status_code == 422
    assert "list of row objects" in json.dumps(response.json())


def test_strict_stores_nothing_when_a_row_is_bad(service: dict) -> None:
    client, hub = service["client"], bearer(service["tokens"]["coordinator"])
    csv_headers = {**hub, "Content-Type": "text/csv"}
    store_date = "2026-12-02"
    good = (DEFAULT_DAY_DIR / "volunteers.csv").read_bytes()
    lines = good.decode().splitlines(keepends=True)
    bad = "".join([lines[0], lines[1], lines[2].replace(",car,", ",rocket,", 1), *lines[3:]])
    assert bad != good.decode()
    response = client.post(
        f"/v1/days/{store_date}/volunteers?strict=true", content=bad, headers=csv_headers
    )
    assert response.status_code == 422
    assert response.json()["stored"] == 0
    assert [(r["row"], r["field"]) for r in response.json()["rejected"]] == [(3, "transport")]
    assert _rows(service["url"], VolunteerRow, store_date) == 0
    response = client.post(f"/v1/days/{store_date}/volunteers", content=bad, headers=csv_headers)
    assert response.status_code == 200
    assert _rows(service["url"], VolunteerRow, store_date) == 149


SCENARIO = "name: fewer drivers\nchanges:\n  - volunteers: {skill: driver, scale: 0.5}\n"


def test_a_planner_runs_scenarios(service: dict) -> None:
    client, planner = service["client"], service["tokens"]["planner"]
    date = "2026-12-03"
    upload_small_day(client, service["tokens"]["coordinator"], date)
    response = client.post(
        "/v1/scenarios",
        json={"date": date, "scenarios": [SCENARIO], "seeds": 1, "iterations": 0},
        headers=bearer(planner),
    )
    assert response.status_code == 202
    job = wait_job(client, planner, response.json()["job_id"])
    assert job["state"] == "done", job["reason"]
    result = client.get(f"/v1/scenarios/{job['job_id']}", headers=bearer(planner)).json()
    rows = {r["scenario"]: r for r in result["comparison"]}
    assert set(rows) == {"base", "fewer drivers"}
    assert rows["base"]["needs"] == 60
    drivers = sum("driver" in v["skills"] for v in _volunteers())
    # round(n * (1 - scale)) of the n drivers stay at home.
    removed = rows["base"]["volunteers_available"] - rows["fewer drivers"]["volunteers_available"]
    assert removed == round(drivers * 0.5)
    # A plain run (no capacity curve) draws the ward maps only, two side by side.
    assert result["capacity_curve"] is None
    assert [p["name"] for p in result["plots"]] == ["unserved_by_ward"]
    png = client.get(result["plots"][0]["url"], headers=bearer(planner))
    assert png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.size == (2 * 4 * 110, 4 * 110)  # figure inches times dots per inch
    missing = client.get(f"/v1/scenarios/{job['job_id']}/plots/capacity_curve.png")
    assert missing.status_code == 401  # no token
    missing = client.get(
        f"/v1/scenarios/{job['job_id']}/plots/capacity_curve.png", headers=bearer(planner)
    )
    assert missing.status_code == 404

    bad = "name: x\nchanges:\n  - volunteers: {scale: -1}\n"
    response = client.post(
        "/v1/scenarios", json={"date": DATE, "scenarios": [bad]}, headers=bearer(planner)
    )
    assert response.status_code == 422
    assert response.json()["detail"][0].startswith("scenario 1, change 1")


def _volunteers() -> list[dict[str, str]]:
    with (DEFAULT_DAY_DIR / "volunteers.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
