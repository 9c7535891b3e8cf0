"""Draining an engine of a real pool, and images before learners.

Two private ``dockerd`` processes (``tests/engines/``) with the lesson images, reached only
through their APIs. A learner with a Redis key saved in a named volume, a workspace file and
a stopped container, and a learner with a running container, are both placed on the first
engine; ``docker-tutor engines drain`` moves the first (volumes streamed engine to engine,
placement switched) and keeps the second; no new learner goes to the draining engine until
``undrain``. Then an engine whose lesson images were removed takes no learner until the pool
has copied them back from the other engine. Skipped, with the reason, where the suite is not
root or ``dockerd`` is missing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot import cli
from bot.config import Settings
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.sandbox.images.copy import fill_in_background, missing_tags
from bot.sandbox.images.lesson_images import lesson_tags
from bot.sandbox.pool.drain import drain
from bot.sandbox.pool.report import engine_rows
from bot.sandbox.pool.sandbox_pool import SandboxPool
from bot.sandbox.workspace.names import volume_name
from bot.tutor.core import Tutor
from tests.engines import Engine, engine_pair

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Engine, Engine]]:
    """Two private hardened engines with the lesson images; stopped (and emptied) after the module."""
    with engine_pair("drain") as pair:
        yield pair


@pytest.fixture
def pooled(settings: Settings, engines: tuple[Engine, Engine]) -> Settings:
    """Settings of a pool of the two engines, three learners per engine at most."""
    return replace(settings, engines=tuple(e.docker_host for e in engines), engine_capacity=3)


@pytest.fixture
def pool_tutor(pooled: Settings, store: ProgressStore, catalog: Catalog) -> Iterator[Tutor]:
    """The real tutor on the pool."""
    pool = SandboxPool(pooled, store, allowed_images=catalog.images)
    yield Tutor(pooled, store, pool, catalog)
    pool.close()


@pytest.fixture
def cli_env(pooled: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment `docker-tutor engines` reads: the pool, the test's database and namespace."""
    for name, value in {"TUTOR_ENGINES": ",".join(pooled.engines),
                        "DATABASE_URL": pooled.database_url, "TUTOR_NAMESPACE": pooled.namespace,
                        "TUTOR_ENGINE_CAPACITY": "3", "TUTOR_OFFLINE": "1"}.items():
        monkeypatch.setenv(name, value)


def said(tutor: Tutor, person: Person, line: str) -> str:
    """What the tutor answers to ``line``; a docker error fails the test."""
    text = tutor.handle(person, line).text()
    assert "Error" not in text, f"{line}: {text}"
    return text


def engine_names(engine: Engine) -> set[str]:
    """Every container and volume name on the engine."""
    client = engine.client(timeout=30)
    try:
        return ({c.name or "" for c in client.containers.list(all=True)}
                | {v.name or "" for v in client.volumes.list()})
    finally:
        client.close()


def engines_listing(capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    """`docker-tutor engines`, each row split into words, by engine address."""
    cli.main(["engines"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ENGINE", "STATE", "LEARNERS", "CONTAINERS", "VOLUMES", "DISK"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


@pytest.mark.usefixtures("cli_env")
def test_drain_moves_the_idle_learner_with_their_volumes_and_keeps_the_running_one(
    pool_tutor: Tutor, store: ProgressStore, engines: tuple[Engine, Engine],
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    """Drain: the idle learner's Redis key and workspace reach the other engine; the busy one stays."""
    first, second = engines
    pool = pool_tutor.sandbox
    assert isinstance(pool, SandboxPool)
    tag = os.getpid()
    idle, busy, newcomer, later = (Person("console", f"drain-{n}-{tag}") for n in range(4))
    assert store.set_draining(second.docker_host, True)  # both learners land on the first
    said(pool_tutor, idle, "docker volume create data")
    said(pool_tutor, idle, "docker run -d --name r -v data:/data redis")
    said(pool_tutor, idle, "docker exec r redis-cli set greeting hello-from-the-first")
    said(pool_tutor, idle, "docker exec r redis-cli save")
    said(pool_tutor, idle, "docker stop r")
    said(pool_tutor, idle, 'docker run --name own -v data:/data busybox sh -c '
                           '"echo x > /data/marker && chown 1234:4321 /data/marker"')
    said(pool_tutor, idle, "edit notes.txt written on the first engine")
    with caplog.at_level(logging.INFO, logger="bot.tutor.core"):
        said(pool_tutor, busy, "docker run -d --name s busybox sleep 600")
    logged = [r.command for r in caplog.records if r.name == "bot.tutor.core"]  # type: ignore[attr-defined]
    assert logged[-1]["engine"] == first.docker_host  # the operators' line names the real engine
    assert store.set_draining(second.docker_host, False)
    assert store.engine_of(idle.key) == store.engine_of(busy.key) == first.docker_host

    before = engines_listing(capsys)
    assert before[first.docker_host][0] == "up" and before[first.docker_host][1] == "2"
    assert before[first.docker_host][4] != "?" and before[first.docker_host][4] != "0"  # disk

    assert cli.main(["engines", "drain", first.docker_host]) == 0
    report = capsys.readouterr().out
    ns_idle, ns_busy = pool.namespace(idle), pool.namespace(busy)
    assert f"drain {first.docker_host}: moved 1, kept 1 (running), failed 0" in report
    assert f"moved  {ns_idle.learner} -> {second.docker_host}: 2 volume(s)" in report
    assert "2 stopped container(s) not copied (own, r)" in report
    assert f"kept   {ns_busy.learner}: running s" in report
    assert idle.key not in report and busy.key not in report  # pseudonymous
    assert store.engine_of(idle.key) == second.docker_host
    assert store.engine_of(busy.key) == first.docker_host

    left = engine_names(first)
    assert not any(name.startswith(f"{ns_idle.prefix}-{ns_idle.learner}-") for name in left)
    assert {ns_idle.engine_name("data"), volume_name(ns_idle)} <= engine_names(second)
    assert ns_busy.engine_name("s") in left
    owner = said(pool_tutor, idle, "docker run --name chk -v data:/data busybox stat -c %u:%g /data/marker")
    assert "1234:4321" in owner  # owners survive two engines' user-namespace remapping
    said(pool_tutor, idle, "docker run -d --name r2 -v data:/data redis")
    deadline = time.monotonic() + 20
    get = "docker exec r2 redis-cli get greeting"
    while "hello-from-the-first" not in (got := said(pool_tutor, idle, get)):
        assert time.monotonic() < deadline, got  # redis loads its dump as it starts
        time.sleep(0.5)
    assert pool.read_workspace_file(idle, "notes.txt") == "written on the first engine\n"
    said(pool_tutor, busy, "docker exec s echo still-here")

    listing = engines_listing(capsys)
    assert listing[first.docker_host][0] == "draining"
    said(pool_tutor, newcomer, "docker ps")  # the first has fewer learners, but is draining
    assert store.engine_of(newcomer.key) == second.docker_host

    assert cli.main(["engines", "undrain", first.docker_host]) == 0
    assert "placeable again" in capsys.readouterr().out
    assert engines_listing(capsys)[first.docker_host][0] == "up"
    said(pool_tutor, later, "docker ps")
    assert store.engine_of(later.key) == first.docker_host


def test_a_failed_copy_leaves_the_learner_where_they_were(
    pool_tutor: Tutor, store: ProgressStore, engines: tuple[Engine, Engine],
) -> None:
    """A volume past the copy bound: the learner stays placed on the source, their volume intact there."""
    first, second = engines
    pool = pool_tutor.sandbox
    assert isinstance(pool, SandboxPool)
    learner = Person("console", f"drain-big-{os.getpid()}")
    store.set_draining(second.docker_host, True)
    said(pool_tutor, learner, "docker run --name fill -v big:/big busybox "
                              "dd if=/dev/zero of=/big/zeros bs=1024 count=256")
    store.set_draining(second.docker_host, False)
    assert store.engine_of(learner.key) == first.docker_host
    ns = pool.namespace(learner)

    report = drain(pool, store, first.docker_host, limit=64 * 1024)  # the volume holds 256 KiB
    assert (report.count("moved"), report.count("kept"), report.count("failed")) == (0, 0, 1)
    assert "larger than 65536 bytes" in report.learners[0].reason
    assert store.engine_of(learner.key) == first.docker_host
    assert ns.engine_name("big") in engine_names(first)
    assert ns.engine_name("fill") in engine_names(first)  # nothing removed from the source
    assert not any(name.startswith(f"{ns.prefix}-{ns.learner}-") for name in engine_names(second))
    assert store.set_draining(first.docker_host, False)
    listed = said(pool_tutor, learner, "docker run --name check -v big:/big busybox ls -l /big/zeros")
    assert "262144" in listed


def test_an_engine_without_the_lesson_images_takes_no_learner_until_filled(
    pooled: Settings, store: ProgressStore, catalog: Catalog, engines: tuple[Engine, Engine],
) -> None:
    """Images before learners: an engine lacking redis is 'images missing', then filled from the other."""
    first, second = engines
    remove_redis(second)
    rows = {row.address: row for row in engine_rows(pooled, store, catalog.images)}
    assert rows[second.docker_host].state == "images missing"
    assert rows[first.docker_host].state == "up"

    pool = SandboxPool(pooled, store, allowed_images=catalog.images)
    try:
        assert pool.filler is not None
        learners = [Person("console", f"images-{n}-{os.getpid()}") for n in range(2)]
        placed = [pool.engine_for(person) for person in learners]
        assert placed == [first.docker_host, first.docker_host]  # never the engine without images
        # Placing saw the engine without images and started filling it, in the background.
        assert pool.filler.wait(second.docker_host, 300) == f"copied from {first.docker_host}"
        assert pool.has_images(second.docker_host, fill=False)
        assert second.docker_host in pool.placeable()
        newcomer = Person("console", f"images-new-{os.getpid()}")
        assert pool.engine_for(newcomer) == second.docker_host  # it has the most room now
    finally:
        pool.close()
    assert has_every_image(second, catalog)

    remove_redis(second)  # `serve` fills every engine as it starts, before any placement
    assert not has_every_image(second, catalog)
    fill_in_background(pooled, catalog.images).join(300)
    assert has_every_image(second, catalog) and has_every_image(first, catalog)


def remove_redis(engine: Engine) -> None:
    """Untag the redis lesson image on the engine (as if it were new)."""
    client = engine.client(timeout=60)
    try:
        for tag in lesson_tags(["redis"]):
            client.api.remove_image(tag, force=True)
    finally:
        client.close()


def has_every_image(engine: Engine, catalog: Catalog) -> bool:
    """Whether every tag of every lesson image is on the engine."""
    client = engine.client(timeout=30)
    try:
        return not missing_tags(client, lesson_tags(catalog.images))
    finally:
        client.close()
