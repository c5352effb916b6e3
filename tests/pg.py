"""A fresh PostgreSQL database per test, on the server named by KST_MATCH_TEST_POSTGRES_URL.

`scripts/pg-test-server start` starts such a server and prints the variable; `.ci/run` does so
and also sets KST_MATCH_REQUIRE_POSTGRES=1, so that there a missing server fails the tests
that need it instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

URL_ENV = "KST_MATCH_TEST_POSTGRES_URL"
REQUIRE_ENV = "KST_MATCH_REQUIRE_POSTGRES"


def server_url_or_skip() -> str:
    """The test server's URL; skip (or fail where it is required) when none is set."""
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        return url
    reason = f'{URL_ENV} is not set: eval "$(scripts/pg-test-server start)" to run this test'
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create a database with a unique name, yield its URL, and drop it afterwards.

    Every test gets its own database, so runs (and xdist workers) never share state.
    """
    name = f"kst_test_{uuid.uuid4().hex}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                # FORCE ends connections a server under test may still hold (PostgreSQL 13+).
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
