"""Shared fixtures: real settings, a real store, a real sandbox, a real tutor.

Fixtures that need no Docker engine (``settings``, ``database_url``, ``store``,
``catalog``, ``tutor_no_engine``) never open a connection to one, so ``pytest -m "not
docker"`` runs on a machine without an engine. Engine fixtures (``docker_client``,
``sandbox``, ``tutor``) are only set up by tests marked ``docker``.

Every engine object a test creates lives under a namespace unique to the test session
(``TUTOR_NAMESPACE``-style prefix ``dtt<random>``) and is labelled with it; once any test
used the engine, the session removes every container and volume carrying that label at
its end, even after failures. The session's check for leftover unlabelled anonymous
volumes counts only those its own containers mounted (:class:`SessionVolumes`): other
clients of the same engine never fail the suite, and their volumes are never removed.
"""

from __future__ import annotations

import contextlib
import gc
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import sqlalchemy
from docker.api.container import ContainerApiMixin
from docker.models.volumes import Volume

from bot.config import Limits, Settings
from bot.console.render import render
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.pool.janitor import purge_prefix
from bot.tutor.core import Tutor
from tests.engines.probe import engine_fault

ROOT = Path(__file__).resolve().parent.parent

# Every Immortal Database trail built from a learner's kept one is checked against the
# trail of their whole history (bot/checks/immortal/survival.py): a difference fails.
os.environ.setdefault("TUTOR_VERIFY_TRAILS", "1")

NO_ENGINE = "tcp://127.0.0.1:1"
"""An engine address that cannot answer: tests without an engine point their sandbox here.

A closed loopback port refuses at once and nothing leaves the machine. (A missing unix
socket would do too, but docker-py leaves the socket of that failed connect unclosed.)
"""


def _purge(client: docker.DockerClient, prefix: str) -> None:
    purge_prefix(client, prefix)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Hold the layout's rule: a test that needs the engine lives under ``tests/engine/``.

    ``tests/unit/`` runs on any machine (``make test-fast``); a test there marked
    ``docker`` is a misplaced test, and collection fails naming it.
    """
    unit = ROOT / "tests" / "unit"
    misplaced = [item.nodeid for item in items
                 if item.get_closest_marker("docker") is not None and unit in Path(item.path).parents]
    if misplaced:
        raise pytest.UsageError("tests that need the engine belong under tests/engine/: "
                                + ", ".join(misplaced[:5]))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what collection built out of the garbage collector's way for the session.

    The imported modules, classes and collected items (~160,000 objects) live until the
    end anyway; frozen, they are no longer walked by each of the 20-30 full collections
    the tests trigger (about a third of the run's time in the garbage collector).
    """
    gc.freeze()


@pytest.fixture(scope="session")
def namespace_prefix() -> str:
    """A prefix unique to this test session (needs no engine)."""
    return "dtt" + secrets.token_hex(3)


class SessionVolumes:
    """The volumes this test session's own containers mounted (finding 9: others share the engine).

    Containers are recognised by id: every ``create_container`` this process makes through
    docker-py (the sandbox's and the tests' own) is noted, and must name its network (no
    container of the session may use the engine's default bridge); the engine's ``volume mount``
    events, followed on a thread for the session, name the container that mounted each
    volume. Only volumes mounted by a noted container are this session's: what other
    clients of the engine create is never counted, nor removed.
    """

    def __init__(self, client: docker.DockerClient) -> None:
        self.containers: set[str] = set()
        self.mounted: dict[str, str] = {}
        self._original = ContainerApiMixin.create_container
        noted = self.containers

        def create_container(api: ContainerApiMixin, *args: Any, **kwargs: Any) -> Any:
            network = (kwargs.get("host_config") or {}).get("NetworkMode")
            assert network, (  # the engine's default bridge: not for learners, maybe not there
                "a container was created on the engine's default network; give it "
                "network_mode='none' (or a network of its own): learner containers get no "
                "network, and CI's engine may have no default bridge at all")
            created = self._original(api, *args, **kwargs)
            noted.add(str(created.get("Id", "")))
            return created

        ContainerApiMixin.create_container = create_container  # type: ignore[method-assign]
        self._events = client.events(decode=True, filters={"type": "volume", "event": "mount"})
        self._thread = threading.Thread(target=self._follow, name="test-volume-events",
                                        daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        with contextlib.suppress(Exception):  # the stream ends when closed
            for event in self._events:
                actor = event.get("Actor") or {}
                container = (actor.get("Attributes") or {}).get("container", "")
                self.mounted[str(actor.get("ID", ""))] = container

    def ours(self, name: str) -> bool:
        """Whether volume ``name`` was mounted by a container this session created."""
        return self.mounted.get(name, "") in self.containers

    def close(self) -> None:
        """Stop noting (restore docker-py) and stop following events (a second call does nothing)."""
        if self._thread.is_alive() or ContainerApiMixin.create_container is not self._original:
            ContainerApiMixin.create_container = self._original  # type: ignore[method-assign]
            with contextlib.suppress(Exception):
                self._events.close()
            self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def docker_client(namespace_prefix: str) -> Iterator[docker.DockerClient]:
    """A docker-py client on the real engine; at the session's end it removes the session's objects.

    The engine is probed first (:func:`tests.engines.probe.engine_fault`): an engine that
    cannot run a container ends the session at once, naming why, instead of letting every
    test wait out its client's timeout.
    """
    fault = engine_fault()
    if fault is not None:
        pytest.exit(f"the Docker engine cannot run containers: {fault}", returncode=3)
    client = docker.from_env()
    before = {v.name for v in client.volumes.list()}
    session = SessionVolumes(client)
    yield client
    try:
        _purge(client, namespace_prefix)
        time.sleep(0.2)  # the last mount events reach the follower
        session.close()
        left = [v for v in _unlabelled_anonymous(client, before) if session.ours(v.name)]
        for volume in left:  # unused by anything now: the session's own leftovers
            with contextlib.suppress(docker.errors.APIError):
                volume.remove()
        assert not left, (
            f"the tests left {len(left)} unlabelled anonymous volume(s) on the engine "
            f"(a container of an image with VOLUME removed without v=True): "
            f"{', '.join(v.name[:12] for v in left)}")
    finally:
        session.close()
        client.close()


def _unlabelled_anonymous(client: docker.DockerClient, before: set[str]) -> list[Volume]:
    """Volumes made since ``before`` that no container uses, with a hex name and no labels."""
    return [volume for volume in client.volumes.list(filters={"dangling": True})
            if volume.name not in before and not (volume.attrs.get("Labels") or {})
            and len(volume.name) == 64 and all(c in "0123456789abcdef" for c in volume.name)]


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
    """Settings with a fresh database; creating them touches no engine."""
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


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A SQLite file migrated to the head revision once per session (``None`` on PostgreSQL).

    Migrating a fresh SQLite file costs tens of milliseconds, most of it waiting on the
    disk for each schema change to be synced; a test that only needs a store at the
    current schema gets a copy of this file instead (see :func:`at_head`).
    """
    if POSTGRES_URL:
        return None
    path = tmp_path_factory.mktemp("schema") / "head.db"
    ProgressStore(f"sqlite:///{path}").close()
    # Closing the last connection checkpoints the WAL into the file: the file is all of it.
    assert not path.with_name(path.name + "-wal").exists()
    return path


def at_head(database_url: str, template: Path | None) -> None:
    """Give a fresh SQLite database the current schema by copying ``template`` to it.

    The copy is the database Alembic would have made (same tables, indexes and version
    row); a store opened on it finds it at head and migrates nothing. For a database that
    exists already, an in-memory one, PostgreSQL, or no template nothing is done (the
    store migrates as usual).
    """
    prefix = "sqlite:///"
    if template is None or not database_url.startswith(prefix):
        return
    path = database_url.removeprefix(prefix).split("?", 1)[0]
    if path in ("", ":memory:"):
        return
    target = Path(path)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)


@pytest.fixture
def store(settings: Settings, schema_template: Path | None) -> Iterator[ProgressStore]:
    """A progress store on the test's fresh database, at the current schema."""
    at_head(settings.database_url, schema_template)
    progress = ProgressStore(settings.database_url)
    yield progress
    progress.close()


@pytest.fixture
def sandbox(settings: Settings, catalog: Catalog,
            docker_client: docker.DockerClient) -> Iterator[Sandbox]:
    """The real sandbox on the real engine, limited to the lesson images."""
    box = Sandbox(settings, allowed_images=catalog.images)
    yield box
    box.close()


@pytest.fixture
def tutor(settings: Settings, store: ProgressStore, sandbox: Sandbox,
          catalog: Catalog, docker_client: docker.DockerClient) -> Iterator[Tutor]:
    """The whole tutor on the real engine; the test's engine objects are removed afterwards."""
    service = Tutor(settings, store, sandbox, catalog)
    yield service
    _purge(docker_client, settings.namespace)


@pytest.fixture
def tutor_no_engine(settings: Settings, store: ProgressStore, catalog: Catalog) -> Iterator[Tutor]:
    """The real tutor (store, lessons, checks) whose sandbox points at an engine that cannot answer.

    Tutor words work; anything that needs the engine raises ``EngineUnavailable``, on a
    machine with an engine too, so a test using this fixture never depends on one.
    """
    offline = replace(settings, docker_host=NO_ENGINE)
    box = Sandbox(offline, allowed_images=catalog.images)
    yield Tutor(offline, store, box, catalog)
    box.close()


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


LimitedTutor = Callable[..., Tutor]
"""Makes the whole tutor on the real engine with some limits changed: ``make(output_chars=500)``."""


@pytest.fixture
def limited_tutor(settings: Settings, store: ProgressStore, catalog: Catalog,
                  docker_client: docker.DockerClient) -> Iterator[LimitedTutor]:
    """A maker of tutors on the real engine whose limits differ (keywords of :class:`Limits`).

    Each tutor has its own sandbox; after the test every sandbox made is closed and the
    test's engine objects are removed.
    """
    boxes: list[Sandbox] = []

    def make(**changes: object) -> Tutor:
        changed = with_limits(settings, **changes)
        box = Sandbox(changed, allowed_images=catalog.images)
        boxes.append(box)
        return Tutor(changed, store, box, catalog)

    yield make
    for box in boxes:
        box.close()
    _purge(docker_client, settings.namespace)


def timed_reply(tutor: Tutor, person: Person, text: str) -> tuple[str, float]:
    """The rendered reply to ``text`` and how long it took (seconds)."""
    started = time.monotonic()
    reply = tutor.handle(person, text)
    return render(reply), time.monotonic() - started
