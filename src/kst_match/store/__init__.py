"""Persistence: the day's inputs, plan versions, assignments, reports, jobs, users and tokens
(SQLAlchemy 2, Alembic migrations). SQLite by default, PostgreSQL by URL."""

from kst_match.store.db import Store, database_url

__all__ = ["Store", "database_url"]
