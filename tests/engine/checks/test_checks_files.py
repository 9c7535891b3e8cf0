"""File and storage-lifetime primitives on the real engine: unsolved fails, solved passes."""

from __future__ import annotations

import pytest

from bot.errors import CommandRefused
from bot.identity import Person
from bot.tutor.core import Tutor
from tests.check_helpers import do, verify

pytestmark = pytest.mark.docker

SCRATCH = "docker run -d --name scratchpad busybox sleep 600"
NOTE = "docker exec scratchpad sh -c 'echo remember me > /note.txt'"
FRESH_LOOK = "docker run --rm --name scratchpad2 busybox cat /note.txt"
DEVBOX = "docker run -d --name devbox -v $(pwd):/app busybox sleep 600"
CACHEBOX = "docker run -d --name cachebox --tmpfs /cache busybox sleep 600"
TEMP = "docker exec cachebox sh -c 'echo temp > /cache/x.txt'"
LOOK_TEMP = "docker exec cachebox cat /cache/x.txt"


def test_writable_layer_lost_walks_through_each_stage(tutor: Tutor, alice: Person) -> None:
    """Each missing part of the ephemeral experiment is named; the full sequence passes."""
    assert verify(tutor, alice, "writable_layer_lost").state == "no-write"
    do(tutor, alice, SCRATCH, NOTE)
    alive = verify(tutor, alice, "writable_layer_lost")
    assert not alive.passed and alive.state == "writer-alive" and not alive.volunteer
    do(tutor, alice, FRESH_LOOK)
    early = verify(tutor, alice, "writable_layer_lost")
    assert early.state == "writer-alive" and early.volunteer
    do(tutor, alice, "docker rm -f scratchpad")
    assert verify(tutor, alice, "writable_layer_lost").state == "no-fresh-look"
    do(tutor, alice, FRESH_LOOK)
    done = verify(tutor, alice, "writable_layer_lost", path="/note.txt")
    assert done.passed, done.message
    assert done.evidence["path"] == "/note.txt"


def test_writable_layer_lost_checks_a_fresh_container_that_still_runs(
    tutor: Tutor, alice: Person
) -> None:
    """A running fresh container that lacks the file passes; one that has it is refused."""
    do(tutor, alice, SCRATCH, NOTE, "docker rm -f scratchpad",
       "docker run -d --name second busybox sleep 600", "docker exec second cat /note.txt")
    assert verify(tutor, alice, "writable_layer_lost").passed
    do(tutor, alice, "docker run -d --name third busybox sleep 600",
       "docker exec third sh -c 'echo x >> /etc/passwd'", "docker rm -f third",
       "docker run --rm busybox cat /etc/passwd")
    found = verify(tutor, alice, "writable_layer_lost", path="/etc/passwd")
    assert not found.passed and found.state == "fresh-has-file" and found.volunteer


def test_writable_layer_lost_ignores_files_in_volumes(tutor: Tutor, alice: Person) -> None:
    """A file written into a volume is not in the writable layer, so it does not count."""
    do(tutor, alice, "docker run -d --name v -v keep:/data busybox sleep 600",
       "docker exec v sh -c 'echo x > /data/n.txt'")
    assert verify(tutor, alice, "writable_layer_lost").state == "no-write"


def test_bind_edit_seen_needs_edit_then_read(tutor: Tutor, alice: Person) -> None:
    """No bind, no edit, no read each fail; edit then `cat` in the same container passes."""
    assert verify(tutor, alice, "bind_edit_seen", container="devbox").state == "container-missing"
    do(tutor, alice, "docker run -d --name devbox busybox sleep 600")
    nobind = verify(tutor, alice, "bind_edit_seen", container="devbox")
    assert nobind.state == "no-bind" and nobind.volunteer
    do(tutor, alice, "docker rm -f devbox", DEVBOX)
    assert verify(tutor, alice, "bind_edit_seen", container="devbox").state == "no-edit"
    do(tutor, alice, "edit notes.txt hello from the host")
    assert verify(tutor, alice, "bind_edit_seen", container="devbox").state == "no-read"
    do(tutor, alice, "docker exec devbox cat /app/notes.txt")
    done = verify(tutor, alice, "bind_edit_seen", container="devbox", target="/app")
    assert done.passed, done.message
    assert done.evidence["container_path"] == "/app/notes.txt"


def test_bind_edit_seen_maps_subfolders_and_refuses_outside_edits(
    tutor: Tutor, alice: Person
) -> None:
    """`-v $(pwd)/src:/app` is refused; with `$(pwd):/app`, `src/a.txt` is `/app/src/a.txt`."""
    with pytest.raises(CommandRefused, match="only your whole workspace"):
        do(tutor, alice, "docker run -d --name devbox -v $(pwd)/src:/app busybox sleep 600")
    do(tutor, alice, "docker run -d --name devbox -v $(pwd):/app busybox sleep 600",
       "edit src/a.txt inside", "docker exec devbox cat /app/src/a.txt")
    assert verify(tutor, alice, "bind_edit_seen", container="devbox").passed


def test_bind_edit_seen_requires_the_new_text_to_show(tutor: Tutor, alice: Person) -> None:
    """A read that did not show the edit (the file was changed back inside) is volunteered."""
    do(tutor, alice, DEVBOX, "edit notes.txt first",
       "docker exec devbox sh -c 'echo changed inside > /app/notes.txt; cat /app/notes.txt'")
    missed = verify(tutor, alice, "bind_edit_seen", container="devbox")
    assert not missed.passed and missed.state == "read-missed" and missed.volunteer


def test_tmpfs_cleared_needs_restart_and_a_second_look(tutor: Tutor, alice: Person) -> None:
    """Write, restart, look again: each missing part is named, then the tmpfs check passes."""
    assert verify(tutor, alice, "tmpfs_cleared", container="cachebox").state == "container-missing"
    do(tutor, alice, "docker run -d --name cachebox busybox sleep 600")
    plain = verify(tutor, alice, "tmpfs_cleared", container="cachebox", target="/cache")
    assert plain.state == "no-tmpfs" and plain.volunteer
    do(tutor, alice, "docker rm -f cachebox", CACHEBOX)
    assert verify(tutor, alice, "tmpfs_cleared", container="cachebox").state == "no-write"
    do(tutor, alice, TEMP, LOOK_TEMP)
    assert verify(tutor, alice, "tmpfs_cleared", container="cachebox").state == "not-restarted"
    do(tutor, alice, "docker restart -t 0 cachebox")
    assert verify(tutor, alice, "tmpfs_cleared", container="cachebox").state == "no-read"
    do(tutor, alice, LOOK_TEMP)
    done = verify(tutor, alice, "tmpfs_cleared", container="cachebox", target="/cache")
    assert done.passed, done.message


def test_tmpfs_cleared_with_mount_syntax_and_stop_start(tutor: Tutor, alice: Person) -> None:
    """`--mount type=tmpfs` and `docker stop` + `docker start` work as well as `--tmpfs` + restart."""
    do(tutor, alice,
       "docker run -d --name cachebox --mount type=tmpfs,destination=/cache busybox sleep 600",
       TEMP, "docker stop -t 0 cachebox", "docker start cachebox", LOOK_TEMP)
    assert verify(tutor, alice, "tmpfs_cleared").passed


def test_bind_edit_seen_accepts_any_container_name(tutor: Tutor, alice: Person) -> None:
    """Without a name, any running container with the workspace at the target passes."""
    do(tutor, alice, "docker run -d --name leftover busybox sleep 600")
    assert verify(tutor, alice, "bind_edit_seen", target="/app").state == "container-missing"
    do(tutor, alice, "docker run -d --name vol -v stuff:/app busybox sleep 600")
    wrong = verify(tutor, alice, "bind_edit_seen", target="/app")
    assert wrong.state == "no-bind" and wrong.volunteer and "`vol`" in wrong.message
    do(tutor, alice, "docker run -d --name web -v $(pwd):/app busybox sleep 600",
       "edit notes.txt from my editor")
    assert verify(tutor, alice, "bind_edit_seen", target="/app").state == "no-read"
    do(tutor, alice, "docker exec web cat /app/notes.txt")
    done = verify(tutor, alice, "bind_edit_seen", target="/app")
    assert done.passed and "`web`" in done.message


def test_tmpfs_cleared_accepts_any_name_and_names_a_missing_tmpfs(
    tutor: Tutor, alice: Person
) -> None:
    """Without a name any tmpfs container passes; a write under /cache without tmpfs is named."""
    do(tutor, alice, "docker run -d --name box busybox sleep 600",
       "docker exec box sh -c 'mkdir -p /cache && echo temp > /cache/x.txt'")
    misplaced = verify(tutor, alice, "tmpfs_cleared", target="/cache")
    assert misplaced.state == "no-tmpfs" and misplaced.volunteer and "`box`" in misplaced.message
    do(tutor, alice, "docker run -d --name ram --tmpfs /cache busybox sleep 600",
       "docker exec ram sh -c 'echo temp > /cache/x.txt'", "docker restart -t 0 ram",
       "docker exec ram cat /cache/x.txt")
    done = verify(tutor, alice, "tmpfs_cleared", target="/cache")
    assert done.passed and "`ram`" in done.message


def test_a_fake_cat_on_the_containers_path_cannot_fake_a_file(tutor: Tutor, alice: Person) -> None:
    """The file checks read through the engine's archive endpoint: a planted `cat` is never run."""
    do(tutor, alice,
       "docker run -d --name box -e PATH=/fk:/usr/bin:/bin busybox sleep 600",
       "docker exec box sh -c \"mkdir /fk && printf '#!/bin/sh\\necho planted text\\n' > /fk/cat"
       " && chmod 755 /fk/cat && ln -s /bin/busybox /fk/test\"")
    assert do(tutor, alice, "docker exec box /fk/cat /nowhere")[0].text().strip() == "planted text"
    result = verify(tutor, alice, "file_contains", container="box", path="/nowhere",
                    text="planted text")
    assert (result.passed, result.state) == (False, "file-missing")
    do(tutor, alice, "docker exec box sh -c \"echo real text > /here\"")
    assert verify(tutor, alice, "file_contains", container="box", path="/here",
                  text="real text").passed
