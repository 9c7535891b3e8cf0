"""Reading the command history: which files a container command touches, and `history_has`."""

from __future__ import annotations

import pytest

from bot.checks.history import bind_sources, paths_read, paths_written
from bot.identity import Person
from bot.tutor.core import Tutor
from tests.check_helpers import do, verify


@pytest.mark.parametrize(("argv", "written"), [
    (["sh", "-c", "echo remember me > /note.txt"], ["/note.txt"]),
    (["sh", "-c", "echo a >> /data/log; echo b 2>/dev/null >/x"], ["/data/log", "/x"]),
    (["touch", "/a", "/b"], ["/a", "/b"]),
    (["sh", "-c", "cp /etc/hosts /copy && mkdir -p /dir"], ["/copy", "/dir"]),
    (["sh", "-c", "echo x | tee -a /t"], ["/t"]),
    (["dd", "if=/dev/zero", "of=/zero", "count=1"], ["/zero"]),
    (["sh", "-c", "echo relative > note.txt"], []),
    (["cat", "/note.txt"], []),
])
def test_paths_written(argv: list[str], written: list[str]) -> None:
    """Redirections, touch, tee, cp, mkdir and dd are writes; relative paths are ignored."""
    assert paths_written(argv) == written


@pytest.mark.parametrize(("argv", "read"), [
    (["cat", "/note.txt"], ["/note.txt"]),
    (["ls", "-l", "/notes/"], ["/notes"]),
    (["sh", "-c", "test -f /x && head -n 1 /y"], ["/x", "/y"]),
    (["grep", "live", "/notes/b.txt"], ["/notes/b.txt"]),
    (["sh", "-c", "wc -l < /in"], ["/in"]),
    (["redis-cli", "get", "mykey"], []),
])
def test_paths_read(argv: list[str], read: list[str]) -> None:
    """cat, ls, test, head, grep and `<` are reads of the absolute paths they name."""
    assert paths_read(argv) == read


def test_bind_sources_understand_every_workspace_spelling() -> None:
    """`$(pwd)`, `"$PWD"`, `.` and `--mount type=bind` all name the workspace itself."""
    assert bind_sources("docker run -v $(pwd):/app busybox") == {"/app": ""}
    assert bind_sources('docker run -v "$PWD":/app busybox') == {"/app": ""}
    assert bind_sources("docker run -v .:/app busybox") == {"/app": ""}
    assert bind_sources("docker run -v $(pwd)/src:/app -v keep:/data busybox") == {"/app": "src"}
    assert bind_sources("docker run --mount type=bind,source=.,target=/w busybox") == {"/w": ""}
    assert bind_sources("docker run --privileged busybox") == {}


@pytest.mark.docker
def test_history_has_fails_until_the_command_ran(tutor: Tutor, alice: Person) -> None:
    """`history_has` fails before the command, passes after, and honours its filters."""
    before = verify(tutor, alice, "history_has", verb="volume rm", volume="notes")
    assert not before.passed and before.state == "not-in-history"
    assert "docker volume rm" in before.message
    do(tutor, alice, "docker volume create notes", "docker volume rm nothere")
    assert not verify(tutor, alice, "history_has", verb="volume rm", volume="notes").passed
    assert verify(tutor, alice, "history_has", verb="volume rm", succeeded=False).passed
    do(tutor, alice, "docker volume rm notes")
    assert verify(tutor, alice, "history_has", verb="volume rm", volume="notes").passed
    assert verify(tutor, alice, "history_has", verb="volume create", contains="notes").passed
    assert not verify(tutor, alice, "history_has", verb="edit").passed
    do(tutor, alice, "edit a.txt hi")
    assert verify(tutor, alice, "history_has", verb="edit").passed


@pytest.mark.docker
def test_history_has_matches_containers_by_name(tutor: Tutor, alice: Person) -> None:
    """`container` matches run/exec and the names `rm`, `stop` and `restart` acted on."""
    do(tutor, alice, "docker run -d --name box busybox sleep 600", "docker restart -t 0 box")
    assert verify(tutor, alice, "history_has", verb="restart", container="box").passed
    assert not verify(tutor, alice, "history_has", verb="restart", container="other").passed
    assert not verify(tutor, alice, "history_has", verb="rm", container="box").passed
    do(tutor, alice, "docker rm -f box")
    assert verify(tutor, alice, "history_has", verb="rm", container="box").passed
