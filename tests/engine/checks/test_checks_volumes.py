"""Volume primitives on the real engine: each fails on an unsolved sandbox, passes on a solved one."""

from __future__ import annotations

import pytest

from bot.identity import Person
from bot.tutor.core import Tutor
from tests.check_helpers import do, verify

pytestmark = pytest.mark.docker

WRITE_RM = "docker run --rm -v notes:/notes busybox sh -c 'echo kept > /notes/a.txt'"
READ_RM = "docker run --rm -v notes:/notes busybox cat /notes/a.txt"
WRITER = "docker run -d --name writer -v notes:/notes busybox sleep 600"
READER = "docker run -d --name reader -v notes:/notes busybox sleep 600"


def test_volume_exists_and_volume_absent(tutor: Tutor, alice: Person) -> None:
    """`volume_exists` fails until the volume is made; `volume_absent` fails until it is removed."""
    missing = verify(tutor, alice, "volume_exists", name="notes")
    assert not missing.passed and missing.state == "volume-missing"
    assert verify(tutor, alice, "volume_absent", name="notes").passed
    do(tutor, alice, "docker volume create notes")
    assert verify(tutor, alice, "volume_exists", name="notes").passed
    present = verify(tutor, alice, "volume_absent", name="notes")
    assert not present.passed and present.state == "volume-present"
    do(tutor, alice, "docker volume rm notes")
    assert verify(tutor, alice, "volume_absent", name="notes").passed


def test_volume_absent_names_the_containers_in_the_way(tutor: Tutor, alice: Person) -> None:
    """A volume still used by a stopped container: the message says to remove the container first."""
    do(tutor, alice, WRITER, "docker stop -t 0 writer")
    result = verify(tutor, alice, "volume_absent", name="notes")
    assert not result.passed and "`writer`" in result.message and "docker rm -f writer" in result.message


def test_no_volumes_lists_the_leftovers(tutor: Tutor, alice: Person) -> None:
    """`no_volumes` names the volumes left and passes once they are removed."""
    do(tutor, alice, "docker volume create notes", "docker volume create more")
    left = verify(tutor, alice, "no_volumes")
    assert not left.passed and left.state == "volumes-left" and "`more`" in left.message
    do(tutor, alice, "docker volume rm notes more")
    assert verify(tutor, alice, "no_volumes").passed


def test_handoff_after_removal_needs_the_writer_gone(tutor: Tutor, alice: Person) -> None:
    """Reading while the writer lives is not enough; a `--rm` writer then a new reader passes."""
    first = verify(tutor, alice, "volume_handoff", volume="notes", after_removal=True)
    assert not first.passed and first.state == "no-write"
    do(tutor, alice, WRITER, "docker exec writer sh -c 'echo kept > /notes/a.txt'")
    assert verify(tutor, alice, "volume_handoff", volume="notes", after_removal=True).state == (
        "no-read")
    do(tutor, alice, READ_RM)
    alive = verify(tutor, alice, "volume_handoff", volume="notes", after_removal=True)
    assert not alive.passed and alive.state == "writer-alive"
    do(tutor, alice, "docker rm -f writer", READ_RM)
    done = verify(tutor, alice, "volume_handoff", volume="notes", after_removal=True)
    assert done.passed, done.message
    assert "after `writer` was gone" in done.message


def test_handoff_after_removal_with_rm_containers(tutor: Tutor, alice: Person) -> None:
    """The lesson's two `--rm` containers pass: the writer removed itself before the read."""
    do(tutor, alice, "docker volume create notes", WRITE_RM, READ_RM)
    assert verify(tutor, alice, "volume_handoff", volume="notes", after_removal=True).passed


def test_handoff_notices_a_recreated_volume(tutor: Tutor, alice: Person) -> None:
    """Removing and re-creating the volume loses the file; the read fails and nothing passes."""
    do(tutor, alice, WRITE_RM, "docker volume rm notes", "docker volume create notes", READ_RM)
    result = verify(tutor, alice, "volume_handoff", volume="notes", after_removal=True)
    assert not result.passed and result.state == "volume-recreated" and result.volunteer


def test_handoff_at_once_needs_two_running_containers(tutor: Tutor, alice: Person) -> None:
    """A reader without the volume is explained; two running containers sharing it pass."""
    do(tutor, alice, WRITER, "docker run -d --name reader busybox sleep 600",
       "docker exec writer sh -c 'echo live > /notes/b.txt'", "docker exec reader cat /notes/b.txt")
    off = verify(tutor, alice, "volume_handoff", volume="notes", at_once=True)
    assert not off.passed and off.state == "reader-not-on-volume" and off.volunteer
    assert "-v notes:/notes" in off.message
    do(tutor, alice, "docker rm -f reader", READER, "docker exec reader cat /notes/b.txt")
    done = verify(tutor, alice, "volume_handoff", volume="notes", at_once=True)
    assert done.passed, done.message
    do(tutor, alice, "docker stop -t 0 writer")
    later = verify(tutor, alice, "volume_handoff", volume="notes", at_once=True)
    assert not later.passed and later.state == "not-at-once"


def test_handoff_of_rm_containers_is_not_at_once(tutor: Tutor, alice: Person) -> None:
    """Two `--rm` containers never ran together, so `at_once` fails on them."""
    do(tutor, alice, WRITE_RM, READ_RM)
    result = verify(tutor, alice, "volume_handoff", volume="notes", at_once=True)
    assert not result.passed and result.state == "not-at-once"
