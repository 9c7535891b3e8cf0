"""The disk quota per learner on the real engine (issue 11, item 4; finding 11).

A learner's container writes into a volume past a small quota; the watcher, measuring
from the engine's side, kills the writer within a bounded overshoot, removes nothing,
and the learner's next reply says why.
"""

from __future__ import annotations

import time

import docker
import pytest

from bot.config import Settings
from bot.console.render import render
from bot.identity import Person
from bot.sandbox.engine.disk import measure
from bot.tutor.core import Tutor
from tests.conftest import LimitedTutor

pytestmark = pytest.mark.docker

QUOTA_MB = 20
CHECK_SECONDS = 1.0
WRITE_MB_PER_S = 25
"""The writer below: 5 MB every 0.2 s."""

OVERSHOOT_BOUND_MB = 120
"""What a 25 MB/s writer may add in one interval (1 s) plus one measurement, which takes up
to a few seconds on the busy shared engine (one ``df`` at a time, engine-wide)."""


@pytest.fixture
def small(limited_tutor: LimitedTutor) -> Tutor:
    """A tutor with a 20 MiB disk quota, measured every second."""
    return limited_tutor(disk_bytes=QUOTA_MB * 2**20, disk_check_seconds=CHECK_SECONDS,
                         commands_per_minute=100_000)


def test_writing_past_the_quota_stops_the_writer_and_loses_nothing(
    small: Tutor, alice: Person, bob: Person, docker_client: docker.DockerClient
) -> None:
    """`dd` into a volume past 20 MiB: the writer is killed soon after; data, volume, others stay."""
    small.handle(alice, "docker run -d --name idle -v keep:/keep busybox sleep 600")
    small.handle(alice, "docker exec idle sh -c 'echo precious > /keep/file'")
    small.handle(bob, "docker run -d --name b busybox sleep 600")
    started = time.monotonic()
    small.handle(alice, "docker run -d --name w -v data:/data busybox sh -c "
                        "'i=0; while :; do dd if=/dev/zero of=/data/f$i bs=1M count=5 "
                        "2>/dev/null; i=$((i+1)); sleep 0.2; done'")
    ns = small.sandbox.namespace(alice)
    writer = docker_client.containers.get(ns.engine_name("w"))
    while writer.status == "running" and time.monotonic() - started < 30:
        time.sleep(0.2)
        writer.reload()
    took = time.monotonic() - started
    assert writer.status == "exited", "the writer was never stopped"
    used = measure(docker_client.api, small.settings.namespace).by_learner[ns.learner]
    overshoot_mb = (used - QUOTA_MB * 2**20) / 2**20
    print(f"\ndisk quota {QUOTA_MB} MiB: writer stopped after {took:.1f} s at "
          f"{used / 2**20:.0f} MiB, overshoot {overshoot_mb:.0f} MiB")
    assert 0 < overshoot_mb < OVERSHOOT_BOUND_MB
    time.sleep(CHECK_SECONDS * 2.5)  # later looks, still over the quota, leave non-writers be
    answer = render(small.handle(alice, "docker ps"))
    assert "quota of 20 MiB" in answer and "`w`" in answer, answer
    assert "idle" in answer  # it writes nothing: it keeps running
    assert small.handle(alice, "docker exec idle cat /keep/file").text().strip() == "precious"
    assert {v.name for v in small.sandbox.volumes(alice)} == {"keep", "data"}
    bob_view = small.sandbox.container(bob, "b")
    assert bob_view is not None and bob_view.running
    assert "quota" not in render(small.handle(bob, "docker ps"))
    small.handle(alice, "docker rm -f w")
    small.handle(alice, "docker volume rm data")
    assert small.sandbox._disk_watch.check() == {}  # back under the quota


def test_the_quota_counts_layers_volumes_and_the_workspace(
    small: Tutor, alice: Person, docker_client: docker.DockerClient
) -> None:
    """One engine measurement sums a learner's writable layers, volumes and workspace."""
    small.handle(alice, "docker run --rm -v v:/v busybox dd if=/dev/zero of=/v/x bs=1M count=3")
    small.handle(alice, "docker run --rm -v $(pwd):/app busybox "
                        "dd if=/dev/zero of=/app/y bs=1M count=2")
    small.handle(alice, "docker run -d --name l busybox dd if=/dev/zero of=/z bs=1M count=4")
    time.sleep(1.0)
    started = time.monotonic()
    found = measure(docker_client.api, small.settings.namespace)
    cost = time.monotonic() - started
    used = found.by_learner[small.sandbox.namespace(alice).learner]
    assert 9 * 2**20 <= used < 10 * 2**20, used
    print(f"\none disk measurement (GET /system/df): {cost * 1000:.0f} ms")


def test_the_quota_settings_are_read_from_the_environment() -> None:
    """`TUTOR_DISK_MB` and `TUTOR_DISK_CHECK_SECONDS` reach the limits; 1 GiB by default."""
    assert Settings.from_env({}).limits.disk_bytes == 1024 * 2**20
    read = Settings.from_env({"TUTOR_DISK_MB": "20", "TUTOR_DISK_CHECK_SECONDS": "2.5"})
    assert (read.limits.disk_bytes, read.limits.disk_check_seconds) == (20 * 2**20, 2.5)
