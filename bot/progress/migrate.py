"""Schema migrations (Alembic), run by the store at start-up and by ``docker-tutor db upgrade``.

Several tutor processes may start at once on one PostgreSQL (replicas): the upgrade
holds an advisory lock, so exactly one of them migrates and the others wait.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_ID = 0x646F636B  # "dock": the advisory lock key of schema upgrades


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest revision shipped with the code."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None  # noqa: S101 - there is always at least one revision
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision``; safe to call from many processes."""
    config = _config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        config.attributes["connection"] = connection
        if (MigrationContext.configure(connection).get_current_revision() is None
                and inspect(connection).has_table("learners")):
            # A database made by create_all before migrations existed holds the schema
            # of the code that made it: adopt it rather than fail on existing tables.
            command.stamp(config, "head")
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (``base`` empties it)."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
