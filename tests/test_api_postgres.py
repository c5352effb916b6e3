"""The API's tests against a real server again, with its database on PostgreSQL: the end to
end day, a server killed during a plan, and 50 concurrent reports (where PostgreSQL, unlike
SQLite, lets two inserts of one report_id race).

A fresh database per test (per module for ``published``) on the server named by
KST_MATCH_TEST_POSTGRES_URL (see tests/pg.py); without it these tests are skipped, except where
KST_MATCH_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api_server import add_token, bearer, serving, upload_day, wait_job
from tests.pg import fresh_database, server_url_or_skip

# Collected here too: the same tests, with this module's database fixtures.
from tests.test_api_e2e import test_plan_publish_report_and_replan  # noqa: F401
from tests.test_api_faults import (  # noqa: F401
    DATE,
    test_a_killed_server_fails_its_job_and_plans_again,
    test_fifty_concurrent_reports_none_lost_none_counted_twice,
)


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """As tests/test_api_faults.py's: the bundled day planned and published, on PostgreSQL."""
    folder = tmp_path_factory.mktemp("published-pg")
    with fresh_database(server_url_or_skip()) as url:
        coordinator = add_token(url, "coordinator")
        with (
            serving(url, folder / "server.log") as server,
            httpx.Client(base_url=server.base, timeout=60) as client,
        ):
            upload_day(client, coordinator, DATE)
            hub = bearer(coordinator)
            response = client.post(f"/v1/days/{DATE}/plans", json={"iterations": 0}, headers=hub)
            assert wait_job(client, coordinator, response.json()["job_id"])["state"] == "done"
            client.post(f"/v1/days/{DATE}/plans/1/publish", headers=hub)
            plan = client.get(f"/v1/days/{DATE}/plans/1", headers=hub).json()
            yield {"url": url, "server": server, "client": client, "plan": plan}
