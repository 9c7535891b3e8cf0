"""Container primitives on the real engine: each fails on an unsolved sandbox, passes on a solved one."""

from __future__ import annotations

import pytest

from bot.errors import CommandRefused
from bot.identity import Person
from bot.tutor.core import Tutor
from tests.check_helpers import do, verify

pytestmark = pytest.mark.docker

BOX = "docker run -d --name box busybox sleep 600"


def test_container_exists_fails_until_the_container_runs(tutor: Tutor, alice: Person) -> None:
    """`container_exists` says the container is missing, then stopped, then passes once it runs."""
    missing = verify(tutor, alice, "container_exists", name="box", running=True)
    assert not missing.passed and missing.state == "container-missing"
    do(tutor, alice, BOX, "docker stop -t 0 box")
    stopped = verify(tutor, alice, "container_exists", name="box", running=True)
    assert not stopped.passed and stopped.state == "container-stopped"
    assert "docker start box" in stopped.message
    assert verify(tutor, alice, "container_exists", name="box").passed
    do(tutor, alice, "docker start box")
    assert verify(tutor, alice, "container_exists", name="box", running=True, image="busybox").passed


def test_container_exists_checks_the_image(tutor: Tutor, alice: Person) -> None:
    """A container from another image fails `container_exists` with `image`, volunteered."""
    do(tutor, alice, BOX)
    result = verify(tutor, alice, "container_exists", name="box", image="redis")
    assert not result.passed and result.state == "container-wrong-image" and result.volunteer


def test_container_absent_fails_while_it_exists(tutor: Tutor, alice: Person) -> None:
    """`container_absent` fails on a stopped container too, and passes after `docker rm`."""
    do(tutor, alice, BOX, "docker stop -t 0 box")
    present = verify(tutor, alice, "container_absent", name="box")
    assert not present.passed and present.state == "container-present"
    assert "docker rm box" in present.message
    do(tutor, alice, "docker rm box")
    assert verify(tutor, alice, "container_absent", name="box").passed


def test_no_containers_lists_what_is_left(tutor: Tutor, alice: Person) -> None:
    """`no_containers` names every leftover container and passes once all are gone."""
    do(tutor, alice, BOX, "docker run -d --name other busybox sleep 600")
    left = verify(tutor, alice, "no_containers")
    assert not left.passed and left.state == "containers-left"
    assert "`box`" in left.message and "`other`" in left.message
    do(tutor, alice, "docker rm -f box other")
    assert verify(tutor, alice, "no_containers").passed


def test_mount_at_tells_missing_wrong_and_right_volumes(tutor: Tutor, alice: Person) -> None:
    """`mount_at` fails without a mount and with the wrong volume, then passes with the right one."""
    assert verify(tutor, alice, "mount_at", container="box", target="/data").state == (
        "container-missing")
    do(tutor, alice, BOX)
    bare = verify(tutor, alice, "mount_at", container="box", target="/data", volume="keep")
    assert not bare.passed and bare.state == "mount-missing" and bare.volunteer
    assert "-v keep:/data" in bare.message
    do(tutor, alice, "docker rm -f box", "docker run -d --name box -v other:/data busybox sleep 600")
    wrong = verify(tutor, alice, "mount_at", container="box", target="/data", volume="keep")
    assert not wrong.passed and wrong.state == "mount-wrong-volume"
    as_tmpfs = verify(tutor, alice, "mount_at", container="box", target="/data", kind="tmpfs")
    assert as_tmpfs.state == "mount-wrong-kind"
    do(tutor, alice, "docker rm -f box", "docker run -d --name box -v keep:/data busybox sleep 600")
    assert verify(tutor, alice, "mount_at", container="box", target="/data", volume="keep").passed


def test_mount_at_reads_a_bind_mounts_source_from_history(tutor: Tutor, alice: Person) -> None:
    """A workspace subfolder bind is refused; `"$PWD"` and `--mount` binds pass."""
    with pytest.raises(CommandRefused, match="only your whole workspace"):
        do(tutor, alice, "docker run -d --name devbox -v $(pwd)/sub:/app busybox sleep 600")
    do(tutor, alice, 'docker run -d --name devbox -v "$PWD":/app busybox sleep 600')
    assert verify(tutor, alice, "mount_at", container="devbox", target="/app", kind="bind",
                  source=".").passed
    do(tutor, alice, "docker rm -f devbox",
       "docker run -d --name devbox --mount type=bind,source=.,target=/app "
       "--mount type=tmpfs,destination=/cache busybox sleep 600")
    assert verify(tutor, alice, "mount_at", container="devbox", target="/app", kind="bind",
                  source=".").passed
    assert verify(tutor, alice, "mount_at", container="devbox", target="/cache", kind="tmpfs").passed


def test_file_contains_reads_the_file_itself(tutor: Tutor, alice: Person) -> None:
    """`file_contains` fails for a missing file and for other text, and passes for the text."""
    do(tutor, alice, BOX)
    missing = verify(tutor, alice, "file_contains", container="box", path="/x", text="hello")
    assert not missing.passed and missing.state == "file-missing"
    do(tutor, alice, "docker exec box sh -c 'echo bye > /x'")
    other = verify(tutor, alice, "file_contains", container="box", path="/x", text="hello")
    assert not other.passed and other.state == "text-missing"
    do(tutor, alice, "docker exec box sh -c 'echo hello world > /x'")
    assert verify(tutor, alice, "file_contains", container="box", path="/x", text="hello").passed


def test_file_absent_fails_once_the_file_is_there(tutor: Tutor, alice: Person) -> None:
    """`file_absent` passes on a fresh container and fails after the file is written."""
    assert verify(tutor, alice, "file_absent", container="box", path="/x").state == (
        "container-missing")
    do(tutor, alice, BOX)
    assert verify(tutor, alice, "file_absent", container="box", path="/x").passed
    do(tutor, alice, "docker exec box touch /x")
    present = verify(tutor, alice, "file_absent", container="box", path="/x")
    assert not present.passed and present.state == "file-present"


def test_redis_key_is_read_by_the_tutor(tutor: Tutor, alice: Person) -> None:
    """`redis_key` fails for a missing key and a wrong value, and passes once the key holds it."""
    do(tutor, alice, "docker run -d --name cache redis")
    missing = verify(tutor, alice, "redis_key", container="cache", key="k", value="v")
    assert not missing.passed and missing.state == "key-missing"
    do(tutor, alice, "docker exec cache redis-cli set k w")
    wrong = verify(tutor, alice, "redis_key", container="cache", key="k", value="v")
    assert not wrong.passed and wrong.state == "wrong-value"
    do(tutor, alice, "docker exec cache redis-cli set k v")
    assert verify(tutor, alice, "redis_key", container="cache", key="k", value="v").passed
