"""The throwaway PostgreSQL databases the API's tests run against, and how the store uses
PostgreSQL's transactions."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from kst_match.store import Store
from tests.pg import fresh_database, server_url_or_skip


def test_each_fresh_database_is_empty_separate_and_dropped_afterwards() -> None:
    server = server_url_or_skip()
    with fresh_database(server) as first, fresh_database(server) as second:
        assert first != second
        one = create_engine(first)
        two = create_engine(second)
        try:
            with one.begin() as conn:
                conn.execute(text("CREATE TABLE marker (x integer)"))
                conn.execute(text("INSERT INTO marker VALUES (7)"))
            with one.connect() as conn:
                assert conn.execute(text("SELECT x FROM marker")).scalar_one() == 7
            with two.connect() as conn:
                tables = conn.execute(
                    text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                ).scalar_one()
            assert tables == 0
        finally:
            one.dispose()
            two.dispose()
    # Dropped: connecting to it now fails.
    gone = create_engine(first)
    with pytest.raises(OperationalError, match="does not exist"):
        gone.connect()
    gone.dispose()


def test_the_fixture_gives_a_postgresql_url(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT current_database()")).scalar_one().startswith("kst_test_")
            )
    finally:
        engine.dispose()


def test_the_store_reads_outside_a_transaction_and_writes_inside_one(postgres_url: str) -> None:
    """At READ COMMITTED a transaction gives a read nothing (each statement sees its own
    snapshot) and costs a BEGIN and a ROLLBACK round trip: reads run without one."""
    store = Store(postgres_url)
    try:
        with store.read() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
            reading = session.connection().connection.driver_connection.info.transaction_status
        with store.write() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
            writing = session.connection().connection.driver_connection.info.transaction_status
    finally:
        store.dispose()
    assert (reading.name, writing.name) == ("IDLE", "INTRANS")
