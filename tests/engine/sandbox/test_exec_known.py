"""`docker exec` in a container the learner's last line read: by its id, the engine judging its state.

After any line that read the container (:class:`bot.sandbox.engine.recall.Identities`), an
exec creates its exec by the kept id without reading the container first, as the CLI's
one read would; the engine refuses an exec it cannot run (gone: 404; stopped, paused: 409),
and then, nothing having run, the container is read afresh and the learner told as before.
An impostor under the learner's engine name: ``test_identities.py``.
"""

from __future__ import annotations

import docker
import pytest

from bot.identity import Person
from bot.sandbox import count_engine_requests
from bot.tutor.core import Tutor

pytestmark = pytest.mark.docker

READS = "GET /containers/{id}/json"
CREATES = "POST /containers/{id}/exec"


def _engine(tutor: Tutor, docker_client: docker.DockerClient, person: Person,
            name: str) -> docker.models.containers.Container:
    return docker_client.containers.get(tutor.sandbox.namespace(person).engine_name(name))


def test_an_exec_after_a_line_that_read_the_container_reads_it_no_more(
        tutor: Tutor, alice: Person) -> None:
    """The second exec in a row is create, start and exit code: three requests, same facts."""
    tutor.handle(alice, "docker run -d --name c -v data:/data busybox sleep 300")
    with count_engine_requests() as first:
        tutor.handle(alice, "docker exec c true")
    with count_engine_requests() as made:
        reply = tutor.handle(alice, "docker exec c echo hello")
    assert reply.text().strip().endswith("hello")
    assert first[READS] == 1
    assert made[READS] == 0 and made[CREATES] == 1 and sum(made.values()) == 3
    read, known = tutor.store.history(alice, kind="docker", limit=2)
    assert known.exit_status == 0
    assert (known.facts or {})["container"] == (read.facts or {})["container"]
    assert (known.facts or {})["container"]["mounts"][0]["name"] == "data"


def test_an_exec_in_a_container_stopped_behind_the_learners_back_says_it_is_not_running(
        tutor: Tutor, alice: Person, docker_client: docker.DockerClient) -> None:
    """The engine's 409 sends the line to a fresh read: the CLI's words, nothing run."""
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")
    _engine(tutor, docker_client, alice, "c").stop(timeout=0)
    with count_engine_requests() as made:
        reply = tutor.handle(alice, "docker exec c touch /ran")
    assert "is not running" in reply.text()
    assert made[CREATES] == 1 and made[READS] == 1  # refused, then read afresh
    assert "POST /exec/{id}/start" not in made


def test_an_exec_in_a_paused_container_runs_nothing(
        tutor: Tutor, alice: Person, docker_client: docker.DockerClient) -> None:
    """A container paused since the last line is refused by the engine, then read afresh."""
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")
    container = _engine(tutor, docker_client, alice, "c")
    container.pause()
    try:
        reply = tutor.handle(alice, "docker exec c touch /ran")
        assert "Error response from daemon" in reply.text()
    finally:
        container.unpause()
    assert "No such file" in tutor.handle(alice, "docker exec c ls /ran").text()


def test_an_exec_in_a_container_removed_behind_the_learners_back_is_no_such_container(
        tutor: Tutor, alice: Person, docker_client: docker.DockerClient) -> None:
    """Its kept id answers 404: the name is forgotten and looked up afresh."""
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")
    _engine(tutor, docker_client, alice, "c").remove(force=True)
    assert "No such container: c" in tutor.handle(alice, "docker exec c true").text()


def test_a_container_the_engine_may_restart_is_read_before_its_exec(
        tutor: Tutor, alice: Person) -> None:
    """With a restart policy its restart count changes by itself: the view reads it."""
    tutor.handle(alice, "docker run -d --restart unless-stopped --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")
    with count_engine_requests() as made:
        tutor.handle(alice, "docker exec c true")
    assert made[READS] == 1


def test_redis_restarted_by_the_last_line_is_waited_for_before_its_exec(
        tutor: Tutor, alice: Person) -> None:
    """`restart` keeps the id; the exec right after it meets a Redis still starting and waits."""
    tutor.handle(alice, "docker run -d --name r -v d:/data redis")
    tutor.handle(alice, "docker exec r redis-cli set k v")
    tutor.handle(alice, "docker exec r redis-cli save")
    for _ in range(3):
        tutor.handle(alice, "docker restart -t 0 r")
        reply = tutor.handle(alice, "docker exec r redis-cli get k")
        assert reply.text().strip().endswith("v"), reply.text()
