"""Alembic environment: migrations run against the connection that store.migrate hands over."""

from __future__ import annotations

from alembic import context

from domreg.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("domreg migrations run through `domreg db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
