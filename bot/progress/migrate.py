"""Schema migrations (Alembic), run by the store at start-up and by ``docker-tutor db upgrade``.

Several tutor processes may start at once on one PostgreSQL (replicas): the upgrade
holds an advisory lock, so exactly one of them migrates and the others wait.

A start-up on a database already at :data:`HEAD` (every start but the first) only reads
its ``alembic_version`` row: Alembic itself is imported only when there is something to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0009"
"""The newest revision shipped (``migrations/versions``); a test keeps it equal to Alembic's head."""
_LOCK_ID = 0x646F636B  # "dock": the advisory lock key of schema upgrades


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest revision shipped with the code, as Alembic reads it from the scripts."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None  # noqa: S101 - there is always at least one revision
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    """Whether the database is at :data:`HEAD` already (one read, no Alembic)."""
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return list(versions) == [HEAD]
    except SQLAlchemyError:
        return False  # let the real upgrade say what is wrong


def ensure_current(engine: Engine) -> None:
    """Bring the schema to :data:`HEAD` unless it is there already (the store's start-up)."""
    if not is_current(engine):
        upgrade(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision``; safe to call from many processes."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

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
    from alembic import command

    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
