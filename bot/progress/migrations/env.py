"""Alembic environment: runs migrations on the connection the store hands over."""

from __future__ import annotations

from alembic import context

from bot.progress.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the store always passes a connection
    raise RuntimeError("Run migrations through `docker-tutor db upgrade`.")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
