"""`stop`, `rm` and `exec` by the id the learner's last line read, and why that holds (recall.Identities)."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from bot.config import Settings
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.sandbox import count_engine_requests
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.naming import LABEL_NAMESPACE
from bot.tutor.core import Tutor

pytestmark = pytest.mark.docker

READS = "GET /containers/{id}/json"


@pytest.fixture
def replica(settings: Settings, catalog: Catalog) -> Iterator[Tutor]:
    """A second tutor process on the same database and engine (another replica)."""
    store = ProgressStore(settings.database_url)
    box = Sandbox(settings, allowed_images=catalog.images)
    yield Tutor(settings, store, box, catalog)
    box.close()
    store.close()


def _status(client: docker.DockerClient, tutor: Tutor, person: Person, name: str) -> str:
    engine_name = tutor.sandbox.namespace(person).engine_name(name)
    return str(client.containers.get(engine_name).status)


def test_stop_and_rm_after_a_line_that_read_the_container_read_it_no_more(
        tutor: Tutor, alice: Person) -> None:
    """After `exec c ...`, `stop c` is the stop and one read after it; `rm c` is the removal alone."""
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")
    with count_engine_requests() as stop:
        reply = tutor.handle(alice, "docker stop -t 0 c")
    assert "c" in reply.text() and stop[READS] == 1 and stop["POST /containers/{id}/stop"] == 1
    with count_engine_requests() as rm:
        reply = tutor.handle(alice, "docker rm c")
    assert reply.text().strip().endswith("c") and rm[READS] == 0
    assert rm["DELETE /containers/{id}"] == 1
    assert tutor.sandbox.container(alice, "c") is None


def test_a_rename_on_another_replica_between_lines_is_seen(
        tutor: Tutor, replica: Tutor, alice: Person, docker_client: docker.DockerClient) -> None:
    """The store's line count tells this replica it missed a line: `stop c` stops the new `c`."""
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")  # this replica keeps c's id
    replica.handle(alice, "docker rename c d")
    replica.handle(alice, "docker run -d --name c busybox sleep 300")
    with count_engine_requests() as made:
        tutor.handle(alice, "docker stop -t 0 c")
    assert made[READS] == 2  # looked up afresh, then read once stopped
    assert _status(docker_client, tutor, alice, "c") == "exited"
    assert _status(docker_client, tutor, alice, "d") == "running"


def test_a_container_removed_behind_the_learners_back_is_no_such_container(
        tutor: Tutor, alice: Person, docker_client: docker.DockerClient) -> None:
    """Removed outside any line (housekeeping, an operator), its kept id answers 404: the CLI's words."""
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")
    engine_name = tutor.sandbox.namespace(alice).engine_name("c")
    docker_client.containers.get(engine_name).remove(force=True)
    reply = tutor.handle(alice, "docker stop c")
    assert "No such container: c" in reply.text()
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")
    docker_client.containers.get(engine_name).remove(force=True)
    assert "No such container: c" in tutor.handle(alice, "docker rm c").text()


@pytest.mark.parametrize("line", ["docker stop -t 0 c", "docker rm c", "docker exec c touch /ran"])
def test_an_impostor_with_the_learners_engine_name_is_never_acted_on(
        tutor: Tutor, alice: Person, docker_client: docker.DockerClient,
        namespace_prefix: str, line: str) -> None:
    """A container someone else made under the learner's engine name, once theirs is gone, is not theirs."""
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")  # the next line may act by the id it read
    engine_name = tutor.sandbox.namespace(alice).engine_name("c")
    docker_client.containers.get(engine_name).remove(force=True)
    impostor = docker_client.containers.run(
        "busybox", ["sleep", "300"], name=engine_name, detach=True, network_mode="none",
        labels={LABEL_NAMESPACE: namespace_prefix})
    try:
        assert "No such container: c" in tutor.handle(alice, line).text()
        impostor.reload()
        assert impostor.status == "running"
        assert impostor.exec_run(["ls", "/ran"]).exit_code != 0
    finally:
        impostor.remove(force=True)


def test_rm_of_a_running_container_known_from_the_last_line_is_refused_as_docker_does(
        tutor: Tutor, alice: Person, docker_client: docker.DockerClient) -> None:
    """Without -f the engine refuses a running container itself, in the CLI's words; it stays."""
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker exec c true")
    with count_engine_requests() as made:
        reply = tutor.handle(alice, "docker rm c")
    assert made[READS] == 0  # the engine's own refusal, not a read before it
    assert "You cannot remove a running container" in reply.text()
    assert "Stop the container before attempting removal or force remove" in reply.text()
    assert _status(docker_client, tutor, alice, "c") == "running"


def test_stop_of_a_stopped_container_known_from_the_last_line_says_it_was_not_running(
        tutor: Tutor, alice: Person) -> None:
    """The engine's 304 is what the stop's facts record: it was not running."""
    tutor.handle(alice, "docker run -d --name c busybox sleep 300")
    tutor.handle(alice, "docker stop -t 0 c")  # read after it: kept
    with count_engine_requests() as made:
        tutor.handle(alice, "docker stop -t 0 c")
    assert made[READS] == 1  # only the read after it
    (entry,) = tutor.store.history(alice, kind="docker", limit=1)
    assert entry.text == "docker stop -t 0 c"
    assert (entry.facts or {})["stopped"][0]["was_running"] is False
    assert entry.exit_status == 0
