"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from kst_match.outputs.browser import find_chromium
from tests.pg import fresh_database, server_url_or_skip


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but no chromium binary was found (.ci/run installs it)")
        pytest.skip("no chromium binary found: apt-get install chromium to run this test")
    return binary


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test (see tests/pg.py)."""
    with fresh_database(server_url_or_skip()) as url:
        yield url
