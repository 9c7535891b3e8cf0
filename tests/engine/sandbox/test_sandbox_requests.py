"""Engine round trips per learner command, on the real engine, with ownership intact.

Requests are counted where every answer of the engine is counted, whichever transport
carried it (:mod:`tests.engine_requests`).
"""

from __future__ import annotations

import docker
import pytest
from pytest_mock import MockerFixture

from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.naming import LABEL_VOLUMES
from bot.sandbox.policy.parser import parse
from bot.tutor.core import Tutor
from tests.engine_requests import EngineRequests

pytestmark = pytest.mark.docker

def test_a_learner_exec_costs_at_most_four_engine_requests(
    tutor: Tutor, alice: Person, mocker: MockerFixture
) -> None:
    """`docker exec c redis-cli get k` costs one lookup and the exec's three requests."""
    tutor.handle(alice, "docker run -d --name c -v data:/data redis")
    tutor.handle(alice, "docker exec c redis-cli set k v")
    volume = tutor.sandbox.volume(alice, "data")
    assert volume is not None
    made = EngineRequests(mocker)
    outcome = tutor.sandbox.run_command(alice, parse("docker exec c redis-cli get k"))
    assert made() <= 4
    assert (outcome.exit_code, outcome.output) == (0, "v\n")  # bare, as the CLI prints without -t
    (mount,) = outcome.facts["container"]["mounts"]
    assert (mount["name"], mount["uid"], mount["target"]) == ("data", volume.uid, "/data")
    assert outcome.facts["redis"] == {"op": "get", "key": "k", "writes": [], "saves": False}
    made.reset()
    tutor.handle(alice, "docker exec c redis-cli get k")
    assert made() <= 4


def test_reading_a_container_needs_no_volume_list(
    tutor: Tutor, alice: Person, mocker: MockerFixture
) -> None:
    """A container's view costs one request, its anonymous volume recorded at `run`."""
    tutor.handle(alice, "docker run -d --name r redis")
    made = EngineRequests(mocker)
    view = tutor.sandbox.container(alice, "r")
    assert made() == 1
    assert view is not None and view.running
    (mount,) = view.mounts
    assert mount.anonymous and mount.target == "/data" and len(mount.uid) == 16
    (listed,) = [v for v in tutor.sandbox.volumes(alice) if v.anonymous]
    assert (listed.name, listed.uid) == (mount.name, mount.uid)


def test_a_container_without_recorded_volumes_is_read_from_the_volume_list(
    tutor: Tutor, alice: Person, docker_client: docker.DockerClient
) -> None:
    """A container made before volumes were recorded still shows its volume's name and uid."""
    tutor.handle(alice, "docker volume create old-data")
    volume = tutor.sandbox.volume(alice, "old-data")
    assert volume is not None
    ns = tutor.sandbox.namespace(alice)
    labels = ns.labels("old", **{"docker-tutor.image": "busybox"})
    assert LABEL_VOLUMES not in labels
    docker_client.containers.create(
        "busybox:latest", ["sleep", "600"], name=ns.engine_name("old"), labels=labels,
        network_mode="none", volumes={ns.engine_name("old-data"): {"bind": "/d", "mode": "rw"}},
    )
    view = tutor.sandbox.container(alice, "old")
    assert view is not None
    (mount,) = view.mounts
    assert (mount.kind, mount.name, mount.uid, mount.target) == ("volume", "old-data",
                                                                 volume.uid, "/d")


def test_a_container_with_the_learners_engine_name_but_other_labels_is_not_theirs(
    tutor: Tutor, alice: Person, docker_client: docker.DockerClient, mocker: MockerFixture
) -> None:
    """Ownership is the labels: a look-alike engine name reaches nothing, changes nothing."""
    ns = tutor.sandbox.namespace(alice)
    impostor = docker_client.containers.run(
        "busybox:latest", ["sleep", "600"], name=ns.engine_name("web"), detach=True,
        network_mode="none",
        labels={**ns.labels("web"), "docker-tutor.learner": "0" * 12},
    )
    assert tutor.sandbox.container(alice, "web") is None
    assert tutor.sandbox.exec_capture(alice, "web", ["true"]) is None
    made = EngineRequests(mocker)
    for text in ("docker exec web true", "docker rm -f web", "docker stop web",
                 f"docker rm -f {impostor.id[:12]}", "docker logs web"):
        outcome = tutor.sandbox.run_command(alice, parse(text))
        # `rm -f` of a missing container prints the error and exits 0, as the docker CLI does
        assert outcome.exit_code == (0 if text.startswith("docker rm -f") else 1)
        assert "No such container" in outcome.output
    assert made.mutating() == 0
    assert made() > 0  # the lines did read the engine: the spy sees what they send
    impostor.reload()
    assert impostor.status == "running"


def test_a_key_read_by_the_tutor_looks_the_container_up_once(tutor: Tutor, alice: Person) -> None:
    """`redis_get` finds the container once and asks in one witness (exists and get together)."""
    from bot.sandbox import count_engine_requests

    tutor.handle(alice, "docker run -d --name c redis")
    tutor.handle(alice, "docker exec c redis-cli set k v")
    witness = {"GET /containers/{id}/json": 1, "POST /containers/create": 1,
               "POST /containers/{id}/attach": 1, "POST /containers/{id}/start": 1,
               "DELETE /containers/{id}": 1}  # the inspect, then the witness's four
    with count_engine_requests() as made:
        assert tutor.sandbox.redis_get(alice, "c", "k") == (True, "v")
    assert dict(made) == witness
    with count_engine_requests() as made:
        assert tutor.sandbox.redis_get(alice, "c", "missing") == (True, None)
    assert dict(made) == witness
    tutor.handle(alice, "docker stop -t 0 c")
    with count_engine_requests() as made:
        assert tutor.sandbox.redis_get(alice, "c", "k") == (False, None)
    assert dict(made) == {"GET /containers/{id}/json": 1}


def test_the_tutors_reads_of_a_name_are_made_once_per_line(tutor: Tutor, alice: Person) -> None:
    """Within one learner line a name is read once; the next line, or a command, reads it afresh."""
    from bot.sandbox import count_engine_requests, learner_line

    tutor.handle(alice, "docker run -d --name c redis")
    sandbox = tutor.sandbox
    with learner_line() as line:
        first = sandbox.container(alice, "c")
        again = sandbox.container(alice, "c")
        views = sandbox.containers(alice)
        missing = sandbox.container(alice, "nothing-here")  # absent from the line's listing
    assert first is not None and again == first and [v.name for v in views] == ["c"]
    assert missing is None
    assert line["GET /containers/{id}/json"] == 2  # `c` once, and once in the listing
    assert line["GET /containers/json"] == 1
    with learner_line() as line:
        sandbox.container(alice, "c")
        sandbox.run_command(alice, parse("docker stop -t 0 c"))  # a command forgets the reads
        view = sandbox.container(alice, "c")
    assert view is not None and not view.running
    assert line["GET /containers/{id}/json"] == 3
    with count_engine_requests() as outside:  # outside a line: every read asks the engine
        sandbox.container(alice, "c")
        sandbox.container(alice, "c")
    assert outside["GET /containers/{id}/json"] == 2


def test_the_challenge_path_costs_at_most_27_engine_requests(tutor: Tutor, alice: Person) -> None:
    """The six lines of the Immortal Database challenge, checks and the tutor's witness included.

    The docker CLI sends 22 for them (measured through a logging proxy, bench/engine_proxy.py).
    The tutor's witness of what `redis-2` loaded reads its snapshot file: one archive of
    the volume's folder in `redis-2` (the image's Redis release is asked once per image and
    engine, before the count); `redis-1` on a volume its run made empty needs none; the
    stop's read of the stopped container serves how it ended (exit code 0: its log is not
    read) and the check's diagnosis. `stop` and `rm` act by the id the line before read
    (recall.Identities), as the CLI acts by name: no read before either.
    A fresh tutor also asks once per image for its facts, its link-free `/data` and
    whether `/data` is empty (which later learners do not pay).
    """
    from bot.reply import Event
    from bot.sandbox import count_engine_requests
    from tests.check_helpers import CHALLENGE_SOLUTION, to_challenge

    to_challenge(tutor, alice)
    sandbox = tutor.sandbox
    assert isinstance(sandbox, Sandbox)
    image = sandbox.client.images.get("redis").id
    assert sandbox._redis_release(("t", "t"), image) is not None  # once per image and engine
    with count_engine_requests() as made:
        replies = [tutor.handle(alice, line) for line in CHALLENGE_SOLUTION]
    assert Event.CHALLENGE_COMPLETED in replies[-1].events
    made.pop("GET /info", None)  # the storage driver, once per engine and process
    if made["POST /containers/create"] == 3:  # ...and its probe of the size option (btrfs)
        made["POST /containers/create"] -= 1
        made["DELETE /containers/{id}"] -= 1
    assert sum(made.values()) <= 27, made
    assert made["GET /images/{name}/json"] == 1  # the second run reuses the image's facts
    assert made["HEAD /containers/{id}/archive"] == 1  # and its link-free /data
    assert made["GET /containers/{id}/archive"] == 2  # /data empty in the image; redis-2's snapshot
    assert made["POST /containers/{id}/attach"] == 0  # no witness started: the file look
    assert made["GET /containers/{id}/logs"] == 0  # redis-1 ended cleanly: no log to explain it
    assert made["GET /volumes"] == 2  # one list per run: no look before, none at rm
    assert made["GET /volumes/{id}"] == 0  # the witness trusts the container's own record
    assert made["GET /containers/json"] == 3  # one per run (its quota), the rm's diagnosis
    assert made["GET /containers/{id}/json"] == 5  # one per line but rm's; stop's after it


def test_a_redis_data_command_lends_its_read_to_the_line_and_a_shutdown_does_not(
    tutor: Tutor, alice: Person
) -> None:
    """After `redis-cli set` the line's read of the container is free; after `shutdown` it is asked."""
    from bot.sandbox import learner_line

    tutor.handle(alice, "docker run -d --name c redis")
    sandbox = tutor.sandbox
    with learner_line() as line:
        outcome = sandbox.run_command(alice, parse("docker exec c redis-cli set k v"))
        before = sum(line.values())
        view = sandbox.container(alice, "c")
    assert outcome.exit_code == 0 and view is not None and view.running
    assert sum(line.values()) == before
    with learner_line() as line:
        sandbox.run_command(alice, parse("docker exec c redis-cli shutdown nosave"))
        before = sum(line.values())
        sandbox.container(alice, "c")
    assert sum(line.values()) == before + 1


def test_the_names_of_a_learners_containers_cost_one_list_that_serves_the_line(
    tutor: Tutor, alice: Person
) -> None:
    """`container_names` lists once, inspects nothing; in a line, an absent name then costs nothing."""
    from bot.sandbox import count_engine_requests, learner_line

    tutor.handle(alice, "docker run -d --name a busybox sleep 60")
    tutor.handle(alice, "docker run -d --name b busybox sleep 60")
    with count_engine_requests() as made:
        assert tutor.sandbox.container_names(alice) == ["a", "b"]
    assert dict(made) == {"GET /containers/json": 1}
    with learner_line() as line:
        assert tutor.sandbox.container_names(alice) == ["a", "b"]
        assert tutor.sandbox.container(alice, "redis-2") is None  # known absent
        assert tutor.sandbox.container_names(alice) == ["a", "b"]
        view = tutor.sandbox.container(alice, "b")
    assert view is not None and view.running
    assert dict(line) == {"GET /containers/json": 1, "GET /containers/{id}/json": 1}
