"""Schema migrations: they build exactly the models' schema, and `db upgrade` runs them."""

from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.progress import migrate
from bot.progress.models import Base
from bot.progress.store import make_engine


def test_migrations_produce_exactly_the_models_schema(database_url: str) -> None:
    """After `upgrade head` on an empty database, Alembic finds no difference with the models."""
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    """Every migration can be reverted and re-applied."""
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        migrate.downgrade(engine, "base")
        assert migrate.current(engine) is None
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.dispose()


def test_db_upgrade_command(database_url: str) -> None:
    """`docker-tutor db upgrade` migrates an empty database and says to which revision."""
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert f"database at revision {migrate.head()} (was empty)" in result.stdout


def test_the_shipped_head_constant_is_alembics_head() -> None:
    """The start-up's fast path compares with HEAD: it must name the newest migration script."""
    assert migrate.head() == migrate.HEAD


def test_a_database_at_head_starts_without_alembic(database_url: str) -> None:
    """A second start on an up-to-date database reads its revision and imports no Alembic."""
    engine = make_engine(database_url)
    try:
        assert not migrate.is_current(engine)
        migrate.ensure_current(engine)
        assert migrate.is_current(engine)
        migrate.downgrade(engine, "0002")
        assert not migrate.is_current(engine)
        migrate.ensure_current(engine)
        assert migrate.current(engine) == migrate.HEAD
    finally:
        engine.dispose()
    code = ("import sys; from bot.progress import ProgressStore; "
            f"ProgressStore({database_url!r}).close(); "
            "assert 'alembic' not in sys.modules, 'alembic imported on an up-to-date database'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_engine_state_comes_and_goes_with_revision_0006(database_url: str) -> None:
    """0006 adds engine_state after 0005's placements; reverting it keeps every placement."""
    from bot.progress.store import ProgressStore

    store = ProgressStore(database_url)
    try:
        assert store.place_learner("k", ["unix:///a"], capacity=5) == "unix:///a"
        assert store.set_draining("unix:///a", True)
        migrate.downgrade(store.engine, "0005")
        assert migrate.current(store.engine) == "0005"
        with store.engine.connect() as connection:
            assert not sqlalchemy.inspect(connection).has_table("engine_state")
        migrate.upgrade(store.engine)
        assert migrate.current(store.engine) == migrate.HEAD
        assert store.engine_of("k") == "unix:///a" and store.draining_engines() == set()
    finally:
        store.close()


def test_diagnoses_and_stuck_alerts_come_and_go_with_revision_0007(database_url: str) -> None:
    """0007 adds the log's diagnosis and the alerts table; reverting it keeps every log line."""
    from bot.identity import Person
    from bot.progress.store import ProgressStore

    store = ProgressStore(database_url)
    ada = Person("console", "ada")
    try:
        entry = store.log(ada, kind="docker", text="docker ps", exit_status=0)
        store.set_diagnosis(entry, "trap.rm-f-before-save")
        migrate.downgrade(store.engine, "0006")
        with store.engine.connect() as connection:
            inspector = sqlalchemy.inspect(connection)
            assert not inspector.has_table("stuck_alerts")
            assert "diagnosis" not in {c["name"] for c in inspector.get_columns("command_log")}
        migrate.upgrade(store.engine)
        assert migrate.current(store.engine) == migrate.HEAD
        assert [e.text for e in store.history(ada)] == ["docker ps"]
    finally:
        store.close()
