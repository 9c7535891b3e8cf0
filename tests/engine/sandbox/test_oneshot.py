"""The tutor's one-shot containers, logs in one request, and empty image folders, on the real engine."""

from __future__ import annotations

import docker
import pytest

from bot.sandbox import count_engine_requests
from bot.sandbox.engine.logs import container_logs
from bot.sandbox.engine.oneshot import run_once
from bot.sandbox.engine.request_counts import install
from bot.sandbox.engine.targets import folder_empty
from bot.sandbox.policy.naming import LABEL_MANAGED, LABEL_NAMESPACE
from bot.sandbox.resources.run import _create_container_args

pytestmark = pytest.mark.docker

SCRIPT = "echo out; echo err >&2; exit 3"


@pytest.fixture
def api(docker_client: docker.DockerClient, namespace_prefix: str) -> docker.APIClient:
    """The engine's low-level client, counted like the tutor's."""
    install(docker_client)
    return docker_client.api


def _labels(prefix: str) -> dict[str, str]:
    return {LABEL_MANAGED: "1", LABEL_NAMESPACE: prefix, "docker-tutor.test": "oneshot"}


def _left(client: docker.DockerClient) -> list[str]:
    return [c.name for c in client.containers.list(
        all=True, filters={"label": "docker-tutor.test=oneshot"})]


def test_a_one_shot_costs_four_requests_and_leaves_nothing(
        api: docker.APIClient, docker_client: docker.DockerClient, namespace_prefix: str) -> None:
    """Without its exit code: create, attach, start, remove; stdout only when asked; nothing left."""
    with count_engine_requests() as made:
        done = run_once(api, "busybox", {"entrypoint": ["sh", "-c", SCRIPT],
                                         "labels": _labels(namespace_prefix),
                                         "network_mode": "none"},
                        seconds=10, limit=1000, stderr=False)
    assert (done.output, done.code, done.timed_out) == (b"out\n", None, False)
    assert sum(made.values()) == 4, made
    assert _left(docker_client) == []


def test_a_one_shot_gives_its_exit_code_and_both_streams_in_five(
        api: docker.APIClient, docker_client: docker.DockerClient, namespace_prefix: str) -> None:
    """With its exit code: a `wait` more; stdout and stderr both read; nothing left."""
    with count_engine_requests() as made:
        done = run_once(api, "busybox", {"entrypoint": ["sh", "-c", SCRIPT],
                                         "labels": _labels(namespace_prefix),
                                         "network_mode": "none"},
                        seconds=10, limit=1000, exit_code=True)
    assert sorted(done.output.splitlines()) == [b"err", b"out"]  # two pipes: either order
    assert (done.code, done.size) == (3, 8)
    assert made["POST /containers/{id}/wait"] == 1 and sum(made.values()) == 5, made
    assert _left(docker_client) == []


def test_a_one_shot_past_its_deadline_is_removed_and_its_output_cut(
        api: docker.APIClient, docker_client: docker.DockerClient, namespace_prefix: str) -> None:
    """A container that outlives its time is removed by force; only `limit` bytes are kept."""
    done = run_once(api, "busybox", {
        "entrypoint": ["sh", "-c", "echo 0123456789; sleep 30"],
        "labels": _labels(namespace_prefix), "network_mode": "none"}, seconds=1.0, limit=4,
        exit_code=True)
    assert (done.timed_out, done.code, done.output, done.size) == (True, None, b"0123", 11)
    assert _left(docker_client) == []


def test_a_one_shot_of_a_missing_image_raises_and_leaves_nothing(
        api: docker.APIClient, docker_client: docker.DockerClient, namespace_prefix: str) -> None:
    """No such image: the engine's ImageNotFound, and no container."""
    with pytest.raises(docker.errors.ImageNotFound):
        run_once(api, "no-such-image-here:1", {"labels": _labels(namespace_prefix),
                                               "network_mode": "none"},
                 seconds=5, limit=10)
    assert _left(docker_client) == []


@pytest.mark.parametrize("tty", [False, True])
def test_a_log_in_one_request_is_docker_pys_log(
        api: docker.APIClient, docker_client: docker.DockerClient, namespace_prefix: str,
        tty: bool) -> None:
    """With or without a TTY, the one-request log equals docker-py's (which asks twice)."""
    container = docker_client.containers.run(
        "busybox", ["sh", "-c", "echo one; echo two >&2; echo three"], tty=tty, detach=True,
        labels=_labels(namespace_prefix), network_mode="none")
    try:
        container.wait(timeout=10)
        container.reload()
        with count_engine_requests() as made:
            mine = container_logs(container)
            tail = container_logs(container, tail=1, stderr=False)
        assert sum(made.values()) == 2
        assert mine == container.logs(stdout=True, stderr=True)
        assert tail == container.logs(stdout=True, stderr=False, tail=1)
        assert sorted(mine.split()) == [b"one", b"three", b"two"]
        assert len(tail.splitlines()) <= 1  # the log's last line, if it was stdout's
    finally:
        container.remove(force=True, v=True)


def test_an_image_folder_is_empty_or_not_as_its_files_say(
        api: docker.APIClient, docker_client: docker.DockerClient, namespace_prefix: str) -> None:
    """The Redis image's /data is empty, its /etc is not, a missing path is, a file is not."""
    created = api.create_container(**_create_container_args({
        "image": "redis", "version": api._version, "labels": _labels(namespace_prefix),
        "command": ["true"], "network_mode": "none"}))
    try:
        assert folder_empty(api, created["Id"], "/data") is True
        assert folder_empty(api, created["Id"], "/etc") is False
        assert folder_empty(api, created["Id"], "/no/such/path") is True
        assert folder_empty(api, created["Id"], "/etc/passwd") is False
    finally:
        api.remove_container(created["Id"], force=True, v=True)
    assert _left(docker_client) == []
