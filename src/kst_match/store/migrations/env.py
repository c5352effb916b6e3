"""Alembic's environment: migrations run on the connection that ``Store.migrate`` passes in."""

from __future__ import annotations

from alembic import context

from kst_match.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()
