"""The API's end-to-end test again, with the server's database on PostgreSQL.

A fresh database per test on the server named by KST_MATCH_TEST_POSTGRES_URL (see tests/pg.py);
without it the test is skipped, except where KST_MATCH_REQUIRE_POSTGRES=1 (CI), where it fails.
"""

from __future__ import annotations

import pytest

# Collected here too: the same test, with this module's database_url.
from tests.test_api_e2e import test_plan_publish_report_and_replan  # noqa: F401


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url
