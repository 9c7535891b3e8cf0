"""Quotas and limits, proved on the real engine: memory, processes, CPU, time, output, rate."""

from __future__ import annotations

import re
import time

import docker
import pytest
from pytest_mock import MockerFixture

from bot.config import Settings
from bot.console.render import render
from bot.errors import QuotaExceeded
from bot.identity import Person
from bot.sandbox.resources.execs import EXEC_GRACE
from bot.tutor.core import Tutor
from tests.conftest import LimitedTutor, timed_reply, with_limits

pytestmark = pytest.mark.docker

LIMIT = 2.0
"""The foreground time limit these tests run with (seconds)."""


@pytest.fixture
def quick(limited_tutor: LimitedTutor) -> Tutor:
    """A tutor whose foreground limit is two seconds and whose output cap is 500 characters."""
    return limited_tutor(foreground_seconds=LIMIT, output_chars=500)


# -- time --------------------------------------------------------------------------------------


def test_an_exec_that_runs_forever_is_stopped_and_the_learner_told(
    quick: Tutor, alice: Person
) -> None:
    """`docker exec r sh -c 'sleep 1000'` is killed at the limit, and the reply says so."""
    timed_reply(quick, alice, "docker run -d --name r busybox sleep 600")
    text, took = timed_reply(quick, alice, "docker exec r sh -c 'sleep 1000'")
    assert "still running after 2 seconds" in text
    assert LIMIT - 0.5 <= took < LIMIT + 2.5
    ps, _ = timed_reply(quick, alice, "docker exec r ps")
    assert "sleep 1000" not in ps


def test_redis_cli_monitor_is_stopped_and_the_learner_told(quick: Tutor, alice: Person) -> None:
    """`redis-cli monitor` never ends on its own; the tutor stops it at the limit."""
    timed_reply(quick, alice, "docker run -d --name r redis")
    for _ in range(50):
        if "PONG" in timed_reply(quick, alice, "docker exec r redis-cli ping")[0]:
            break
        time.sleep(0.1)
    text, took = timed_reply(quick, alice, "docker exec r redis-cli monitor")
    assert "OK" in text and "still running after 2 seconds" in text
    assert took < LIMIT + 2.5


def test_a_replaced_timeout_program_does_not_hold_the_tutor(quick: Tutor, alice: Person) -> None:
    """If a learner replaces `timeout` in the container, the tutor still returns in time."""
    timed_reply(quick, alice, "docker run -d --name r busybox sleep 600")
    timed_reply(quick, alice, "docker exec r sh -c 'rm /bin/timeout && printf \"#!/bin/sh\\nshift 3\\n"
                      "exec \\\"\\$@\\\"\\n\" > /bin/timeout && chmod +x /bin/timeout'")
    text, took = timed_reply(quick, alice, "docker exec r sleep 1000")
    assert "still running after 2 seconds" in text
    assert took < LIMIT + EXEC_GRACE + 1.5


def test_a_foreground_run_is_stopped_at_the_limit(
    quick: Tutor, alice: Person, docker_client: docker.DockerClient
) -> None:
    """A foreground `run` past the limit is killed, told, and `--rm` still removes it."""
    text, took = timed_reply(quick, alice, "docker run --rm --name s busybox sleep 1000")
    assert "still running after 2 seconds" in text and "docker run -d" in text
    assert took < LIMIT + 3
    assert quick.sandbox.container(alice, "s") is None


def test_a_detached_exec_is_stopped_at_the_limit_too(quick: Tutor, alice: Person) -> None:
    """`docker exec -d` returns at once; its process is killed at the limit."""
    timed_reply(quick, alice, "docker run -d --name r busybox sleep 600")
    _, took = timed_reply(quick, alice, "docker exec -d r sleep 777")
    assert took < 1.5
    assert "sleep 777" in timed_reply(quick, alice, "docker exec r ps")[0]
    time.sleep(LIMIT + 1)
    assert "sleep 777" not in timed_reply(quick, alice, "docker exec r ps")[0]


# -- output ------------------------------------------------------------------------------------


def test_output_is_capped_with_a_note_of_how_much_was_cut(quick: Tutor, alice: Person) -> None:
    """Long output shows the first 500 characters and says how many more there were."""
    text, _ = timed_reply(quick, alice, "docker run --rm busybox seq 1 20000")
    total = len("".join(f"{i}\n" for i in range(1, 20001)))
    match = re.search(r"\[\.\.\. (\d+) more characters not shown\]", text)
    assert match is not None and int(match.group(1)) == total - 500
    timed_reply(quick, alice, "docker run -d --name r busybox sleep 600")
    text, took = timed_reply(quick, alice, "docker exec r sh -c 'yes | head -c 3000000'")
    match = re.search(r"\[\.\.\. (\d+) more characters not shown\]", text)
    assert match is not None and int(match.group(1)) == 3_000_000 - 500
    assert took < LIMIT + 1


def test_an_endless_stream_stops_being_read(quick: Tutor, alice: Person) -> None:
    """`docker exec r yes` is cut after a bounded read, well before the time limit."""
    timed_reply(quick, alice, "docker run -d --name r busybox sleep 600")
    text, took = timed_reply(quick, alice, "docker exec r yes")
    assert "more characters not shown" in text
    assert took < LIMIT + EXEC_GRACE + 1


# -- memory, processes, CPU --------------------------------------------------------------------


def test_memory_past_the_limit_is_killed_and_the_learner_told(quick: Tutor, alice: Person) -> None:
    """A 300 MiB allocation in a 256 MiB container is OOM-killed; the reply names the limit."""
    text, _ = timed_reply(quick, alice,
                          "docker run --rm busybox dd if=/dev/zero of=/dev/null bs=300M count=1")
    assert "memory limit (256 MiB)" in text
    timed_reply(quick, alice, "docker run -d --name r busybox sleep 600")
    text, _ = timed_reply(quick, alice, "docker exec r dd if=/dev/zero of=/dev/null bs=300M count=1")
    assert "exit status 137" in text or "memory limit" in text


def test_processes_past_the_limit_cannot_fork(quick: Tutor, alice: Person) -> None:
    """A learner's fork loop stops at 128 processes: `can't fork`."""
    text, _ = timed_reply(quick, alice, "docker run --rm busybox sh -c "
                                "'for i in $(seq 1 300); do sleep 3 & done; wait'")
    assert "can't fork" in text


def test_cpu_is_capped_at_half_a_core(
    quick: Tutor, alice: Person, docker_client: docker.DockerClient
) -> None:
    """The engine and the kernel both show half a core: NanoCpus and the CFS quota."""
    timed_reply(quick, alice, "docker run -d --name r busybox sleep 600")
    text, _ = timed_reply(quick, alice, "docker exec r cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                                "/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    quota, period = (int(n) for n in re.findall(r"\d+", text)[:2])
    assert quota / period == pytest.approx(0.5)
    view = quick.sandbox.container(alice, "r")
    assert view is not None
    assert docker_client.api.inspect_container(view.id)["HostConfig"]["NanoCpus"] == 500_000_000


# -- quotas ------------------------------------------------------------------------------------


def test_container_quota_holds(quick: Tutor, alice: Person, mocker: MockerFixture) -> None:
    """The seventh container is refused before anything is created."""
    for i in range(6):
        out, _ = timed_reply(quick, alice, f"docker run -d --name c{i} busybox sleep 600")
        assert re.fullmatch(r"[0-9a-f]{64}", out.strip()), out
    create = mocker.spy(docker.api.client.APIClient, "create_container")
    with pytest.raises(QuotaExceeded, match="6 containers"):  # noqa: PT012 - say what ran instead
        answer = render(quick.handle(alice, "docker run -d --name c6 busybox sleep 600"))
        pytest.fail(f"the seventh container was not refused: {answer}")
    assert create.call_count == 0


def test_volume_quota_holds_for_named_and_anonymous_volumes(
    quick: Tutor, alice: Person, mocker: MockerFixture
) -> None:
    """Six volumes at most: `volume create`, `-v NAME` and an image's anonymous volume all count."""
    for i in range(5):
        timed_reply(quick, alice, f"docker volume create v{i}")
    create = mocker.spy(docker.api.client.APIClient, "create_volume")
    for text in ("docker run -d -v a:/a -v b:/b busybox sleep 600",
                 "docker run -d -v v0:/d -v /anon -v /anon2 busybox sleep 1",
                 "docker run -d --name r redis"):
        if text.endswith("redis"):
            timed_reply(quick, alice, "docker volume create v5")
            create.reset_mock()
        with pytest.raises(QuotaExceeded, match="6 volumes"):
            quick.handle(alice, text)
    assert create.call_count == 0
    assert len(quick.sandbox.volumes(alice)) == 6


def test_the_command_rate_is_limited_per_learner(
    settings: Settings, tutor: Tutor, alice: Person, bob: Person
) -> None:
    """Past the per-minute limit a learner is refused; others are not; a minute later it's fine."""
    now = [1000.0]
    tutor = Tutor(with_limits(settings, commands_per_minute=3), tutor.store, tutor.sandbox,
                  tutor.catalog, clock=lambda: now[0])
    for _ in range(3):
        tutor.handle(alice, "docker ps")
    with pytest.raises(QuotaExceeded, match="3 commands in a minute"):
        tutor.handle(alice, "docker ps")
    tutor.handle(bob, "docker ps")
    now[0] += 61
    tutor.handle(alice, "docker ps")


def test_tmpfs_sizes_are_what_the_kernel_mounts(quick: Tutor, alice: Person) -> None:
    """`--tmpfs` gets 16 MiB by default, the size asked up to 64 MiB, and noexec/nosuid."""
    text, _ = timed_reply(quick, alice, "docker run --rm --tmpfs /a --tmpfs /b:size=8m "
                                "--mount type=tmpfs,target=/c,tmpfs-size=40m busybox "
                                "grep ' /[abc] ' /proc/mounts")
    sizes = dict(re.findall(r" (/[abc]) tmpfs \S*size=(\d+)k", text))
    assert sizes == {"/a": "16384", "/b": "8192", "/c": "40960"}
    assert re.search(r" /a tmpfs \S*nosuid", text)


def test_limits_reach_the_engine(quick: Tutor, alice: Person, docker_client: docker.DockerClient) -> None:
    """Memory, swap, processes, CPU, capabilities and the log size are set on each container."""
    timed_reply(quick, alice, "docker run -d --name r busybox sleep 600")
    view = quick.sandbox.container(alice, "r")
    assert view is not None
    host = docker_client.api.inspect_container(view.id)["HostConfig"]
    assert (host["Memory"], host["MemorySwap"], host["PidsLimit"]) == (256 * 2**20,) * 2 + (128,)
    assert host["LogConfig"]["Config"] == {"max-size": "1m", "max-file": "1"}
    assert host["OomScoreAdj"] == 500 and host["Init"] is True
    assert host["ShmSize"] == 64 * 2**20 and host["CgroupnsMode"] == "private"
