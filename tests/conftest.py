"""Shared fixtures: real settings, a real store, a real sandbox, a real tutor.

Every engine object a test creates lives under a namespace unique to the test session
(``TUTOR_NAMESPACE``-style prefix ``dtt<random>``) and is labelled with it; the session
fixture removes every container and volume carrying that label, even after failures.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import docker
import pytest
import sqlalchemy

from bot.config import Limits, Settings
from bot.identity import Person
from bot.lessons import Catalog
from bot.progress import ProgressStore
from bot.sandbox.engine import Sandbox
from bot.sandbox.janitor import purge_prefix
from bot.tutor import Tutor

ROOT = Path(__file__).resolve().parent.parent


def _purge(client: docker.DockerClient, prefix: str) -> None:
    purge_prefix(client, prefix)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A docker-py client for assertions on the real engine."""
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="session")
def namespace_prefix(docker_client: docker.DockerClient) -> Iterator[str]:
    """A prefix unique to this test session; everything under it is removed at the end."""
    prefix = "dtt" + secrets.token_hex(3)
    yield prefix
    _purge(docker_client, prefix)


POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
"""When set (CI does), every test's database is a fresh schema in this PostgreSQL."""


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL schema in CI's second pass."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'tutor.db'}"
        return
    schema = "t_" + secrets.token_hex(6)
    admin = sqlalchemy.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, namespace_prefix: str, database_url: str) -> Settings:
    """Settings with a fresh database, on the real engine."""
    return Settings(
        database_url=database_url,
        lessons_dir=ROOT / "lessons",
        instructors=frozenset({"UINSTRUCTOR", "teacher"}),
        namespace=namespace_prefix,
        limits=Limits(foreground_seconds=8.0),
        offline=True,
    )


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    """The shipped lessons."""
    return Catalog(settings.lessons_dir)


@pytest.fixture
def store(settings: Settings) -> Iterator[ProgressStore]:
    """A progress store on a real SQLite file."""
    progress = ProgressStore(settings.database_url)
    yield progress
    progress.close()


@pytest.fixture
def sandbox(settings: Settings, catalog: Catalog) -> Iterator[Sandbox]:
    """The real sandbox on the real engine, limited to the lesson images."""
    box = Sandbox(settings, allowed_images=catalog.images)
    yield box
    box.close()


@pytest.fixture
def tutor(settings: Settings, store: ProgressStore, sandbox: Sandbox,
          catalog: Catalog, docker_client: docker.DockerClient) -> Iterator[Tutor]:
    """The whole tutor; the test's engine objects are removed afterwards."""
    service = Tutor(settings, store, sandbox, catalog)
    yield service
    _purge(docker_client, settings.namespace)


@pytest.fixture
def alice() -> Person:
    """A learner on the console."""
    return Person("console", "alice-" + secrets.token_hex(3), "Alice")


@pytest.fixture
def bob() -> Person:
    """Another learner on the console."""
    return Person("console", "bob-" + secrets.token_hex(3), "Bob")


def with_limits(settings: Settings, **changes: object) -> Settings:
    """A copy of ``settings`` with some limits changed."""
    return replace(settings, limits=replace(settings.limits, **changes))  # type: ignore[arg-type]
