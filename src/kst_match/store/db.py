"""The database: its URL, engines, sessions and migrations.

The URL comes from ``KST_MATCH_DATABASE_URL``; by default a SQLite file in the user's data
folder (``$XDG_DATA_HOME/kst-match/kst-match.sqlite3``), created ``0600`` in a ``0700`` folder
because it holds residents' details. SQLite runs in WAL mode with a busy timeout, and writes
take the lock when they begin (``BEGIN IMMEDIATE``), so concurrent writers wait their turn
instead of failing. ``postgresql://`` URLs use psycopg 3.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

ENV_URL = "KST_MATCH_DATABASE_URL"
BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    """A SQLite file in the user's data folder."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'kst-match' / 'kst-match.sqlite3'}"


def database_url(url: str | None = None) -> str:
    """``url``, else ``KST_MATCH_DATABASE_URL``, else the default SQLite file."""
    return url or os.environ.get(ENV_URL) or default_url()


def now() -> str:
    """The current moment, UTC, as stored: ``2026-11-25T08:00:00.123456Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _normalise(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by its owner only. An existing file is
    never opened here: closing any descriptor of a database file drops the locks this process
    holds on it through SQLite."""
    if path.exists():
        return
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:  # made at the same moment by another process
        return
    os.close(fd)
    os.chmod(path, 0o600)  # whatever the umask


def _sqlite_engine(url: URL, immediate: bool) -> Engine:
    engine = create_engine(url, pool_size=20, max_overflow=20, pool_timeout=60)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # transactions begun below, not by the driver
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Store:
    """The database at ``url``: sessions for reading and for writing, migrated on opening."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = database_url(url)
        parsed = _normalise(self.url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite:
            if parsed.database and parsed.database != ":memory:":
                _private_file(Path(parsed.database))
            self.engine = _sqlite_engine(parsed, immediate=False)
            self.writer = _sqlite_engine(parsed, immediate=True)
        else:
            self.engine = create_engine(parsed, pool_size=20, max_overflow=20, pool_pre_ping=True)
            self.writer = self.engine
        self.reader = self.engine
        if not self.sqlite:
            # At PostgreSQL's READ COMMITTED each statement sees its own snapshot, in a
            # transaction or not: reading without one saves the BEGIN and ROLLBACK round trips,
            # and a ROLLBACK would also drop psycopg's prepared statements.
            self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # SQLite admits one writer at a time. The threads of this process take turns here, each
        # woken as soon as the one before it commits; in SQLite's busy handler they would sleep
        # and retry at growing intervals (up to 100 ms a try), and a newcomer could take the
        # lock ahead of a thread that had waited half a second. Other processes still meet
        # SQLite's lock and its busy timeout.
        self._write_turn = threading.Lock() if self.sqlite else None
        if migrate:
            self.migrate()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic), one process at a time."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.writer.begin() as connection:
            if not self.sqlite:  # SQLite's BEGIN IMMEDIATE already serialises this
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(72657361)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (no write lock taken; on PostgreSQL, no transaction)."""
        with Session(self.reader, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading with SQLAlchemy Core: as ``read``, without the ORM session
        (the street champions' requests read rows, not objects)."""
        with self.reader.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one transaction that holds the write lock from its start (SQLite),
        committed at the end of the block, rolled back on an exception. On SQLite, writers of
        this process wait for their turn before they begin."""
        if self._write_turn is None:
            with Session(self.writer, expire_on_commit=False) as session, session.begin():
                yield session
            return
        with (
            self._write_turn,
            Session(self.writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.writer is not self.engine:
            self.writer.dispose()
