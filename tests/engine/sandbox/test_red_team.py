"""Red team, third round (issue 19 item 7): the categories not tried before, each pinned.

Processes that try to outlive the line (``setsid``, ``nohup``, a zombie-making parent);
``kill -s``, ``rename`` and ``container prune`` aimed at the tutor's own helper
containers; ``edit`` paths; links in the workspace the tutor reads; Unicode look-alikes
in names. The file also runs in the security set on the hardened engine
(``.ci/engine.sh security``).
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from bot.errors import CommandRefused, UsageError
from bot.identity import Person
from bot.sandbox.resources.execs import EXEC_GRACE
from bot.tutor.core import Tutor
from tests.conftest import LimitedTutor, timed_reply

pytestmark = pytest.mark.docker

LIMIT = 3.0


@pytest.fixture
def quick(limited_tutor: LimitedTutor) -> Tutor:
    """A tutor whose lines may run 3 s, with no flood limit."""
    return limited_tutor(foreground_seconds=LIMIT, commands_per_minute=100_000)


def _processes(client: docker.DockerClient, tutor: Tutor, person: Person, name: str) -> list[str]:
    container = client.containers.get(tutor.sandbox.namespace(person).engine_name(name))
    container.reload()
    if container.status != "running":
        return []
    return [" ".join(p) for p in container.top().get("Processes") or []]


@pytest.mark.parametrize("escape", [
    "setsid sleep 1011 & sleep 1012",
    "nohup sleep 1021 >/dev/null 2>&1 & sleep 1022",
    "setsid sh -c 'trap \"\" HUP TERM; sleep 1031' & sleep 1032",
    "(sh -c 'sleep 1041 & exec true') ; sleep 1042",  # a zombie-making parent
])
def test_a_process_that_leaves_its_session_still_ends_with_the_line(
    quick: Tutor, alice: Person, docker_client: docker.DockerClient, escape: str
) -> None:
    """setsid, nohup, ignored signals, a parent that exits: nothing of the exec runs past the limit."""
    timed_reply(quick, alice, "docker run -d --name bomb busybox sleep 600")
    answer, took = timed_reply(quick, alice, f'docker exec bomb sh -c "{escape}"')
    assert took < LIMIT + EXEC_GRACE + 3, took
    assert "stopped" in answer, answer
    left = _processes(docker_client, quick, alice, "bomb")
    assert not any("sleep 10" in p for p in left), left


@pytest.fixture
def helpers(quick: Tutor, alice: Person, bob: Person) -> Iterator[list[str]]:
    """The engine ids of tutor-owned containers near Alice: her workspace helper and Bob's."""
    tutor = quick
    for person in (alice, bob):
        tutor.handle(person, "edit notes.txt hi")
    held = []  # the helpers' context managers: let go, they remove their containers
    for person in (alice, bob):
        workspace = tutor.sandbox._workspace(tutor.sandbox.namespace(person))  # type: ignore[attr-defined]
        held.append(workspace._helper(writable=False))
    ids = [manager.__enter__().id for manager in held]
    yield ids
    for manager in held:
        manager.__exit__(None, None, None)


def test_kill_rename_and_prune_never_reach_the_tutors_own_containers(
    quick: Tutor, alice: Person, helpers: list[str], docker_client: docker.DockerClient
) -> None:
    """By full id, id prefix or engine name, the tutor's helpers are "No such container"."""
    tutor = quick
    for helper in helpers:
        name = docker_client.containers.get(helper).name
        for ref in (helper, helper[:12], helper[:4], name):
            for line in (f"docker kill -s KILL {ref}", f"docker rename {ref} mine",
                         f"docker rm -f {ref}", f"docker stop {ref}"):
                try:
                    answer = tutor.handle(alice, line).text()
                except (CommandRefused, UsageError) as refused:
                    answer = str(refused)
                assert "No such container" in answer or "Invalid" in answer or "refused" in answer, (
                    line, answer)
    assert "Total reclaimed space" in tutor.handle(alice, "docker container prune -f").text()
    for helper in helpers:
        assert docker_client.containers.get(helper).id == helper  # still there, untouched


def test_renaming_to_a_helpers_or_another_learners_name_stays_in_ones_own_namespace(
    tutor: Tutor, alice: Person, bob: Person, docker_client: docker.DockerClient
) -> None:
    """`rename` to `.workspace`, to the disk lease's or to Bob's engine name is refused or Alice's."""
    tutor.handle(alice, "docker run -d --name box busybox sleep 600")
    tutor.handle(bob, "docker run -d --name box busybox sleep 600")
    bob_engine = tutor.sandbox.namespace(bob).engine_name("box")
    for target in (".workspace", "-disk-lease"):  # a helper's names: not a learner's name
        with pytest.raises(CommandRefused, match="name"):
            tutor.handle(alice, f"docker rename box {target}")
    for target in (bob_engine.replace("-box", "-x"),):  # Bob's engine name: Alice's own
        tutor.handle(alice, f"docker rename box {target}")
        renamed = tutor.sandbox.namespace(alice).engine_name(target)
        assert docker_client.containers.get(renamed).labels["docker-tutor.learner"] == \
            tutor.sandbox.namespace(alice).learner
        tutor.handle(alice, f"docker rename {target} box")
    assert docker_client.containers.get(bob_engine).status == "running"


@pytest.mark.parametrize("path", [
    "../outside.txt", "/etc/passwd", "a/../../b", "x" * 300, "notes\u200b.txt", ".hidden",
])
def test_edit_paths_that_leave_or_hide_are_refused(tutor: Tutor, alice: Person, path: str) -> None:
    """Parents, absolute paths, overlong, hidden and invisible-character names: one clear refusal."""
    with pytest.raises((UsageError, CommandRefused)) as refused:
        tutor.handle(alice, f"edit {path} text")
    message = str(refused.value)
    assert "file name" in message or "path" in message, message
    assert "\n" not in message and tutor.sandbox.read_workspace_file(alice, "outside.txt") is None


def test_a_link_planted_in_the_workspace_is_never_followed_by_the_tutor(
    tutor: Tutor, alice: Person
) -> None:
    """A container links `$(pwd)/peek` to /etc/shadow: `edit` refuses it, the tutor reads nothing."""
    tutor.handle(alice, "docker run --rm -v $(pwd):/app busybox sh -c "
                        "'ln -s /etc/shadow /app/peek; ln /app/peek /app/hard 2>/dev/null; true'")
    with pytest.raises(UsageError):
        tutor.handle(alice, "edit peek gotcha")
    assert tutor.sandbox.read_workspace_file(alice, "peek") is None
    assert tutor.sandbox.read_workspace_file(alice, "hard") is None


@pytest.mark.parametrize("line", [
    "docker run -d --name r\u0435dis-1 redis",  # Cyrillic e
    "docker volume create \uff4d\uff59-data",  # fullwidth letters
    "docker run -d --name redis\u20131 redis",  # an en dash
    "docker network create \u0430pp",  # Cyrillic a
])
def test_unicode_look_alikes_in_names_are_refused_with_their_reason(
    tutor: Tutor, alice: Person, line: str
) -> None:
    """A name that only looks like ASCII is refused, saying what is allowed; nothing is made."""
    with pytest.raises(CommandRefused) as refused:
        tutor.handle(alice, line)
    assert "letters, digits" in str(refused.value) or "name" in str(refused.value)
    assert tutor.sandbox.containers(alice) == [] and tutor.sandbox.volumes(alice) == []
