"""The API's tests against a real server again, with its database on PostgreSQL: the end to
end day, a server killed during a plan then 50 concurrent reports (where PostgreSQL, unlike
SQLite, lets two inserts of one report_id race), and a scenario job's plots (PNG bytes).

A fresh database per test on the server named by KST_MATCH_TEST_POSTGRES_URL (see tests/pg.py);
without it these tests are skipped, except where KST_MATCH_REQUIRE_POSTGRES=1 (CI), where they
fail.
"""

from __future__ import annotations

import pytest

# Collected here too: the same tests, with this module's database_url.
from tests.test_api_e2e import test_plan_publish_report_and_replan  # noqa: F401
from tests.test_api_faults import (  # noqa: F401
    test_a_killed_server_fails_its_job_then_fifty_reports_at_once,
)
from tests.test_api_scenario_plots import (  # noqa: F401
    test_a_scenario_job_returns_its_plots_as_png,
)


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url
