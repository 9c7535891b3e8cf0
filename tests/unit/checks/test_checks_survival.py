"""The key's trail through a volume, read from logged facts alone (no engine needed).

These cover what the engine tests cannot reach today: a command whose outcome the engine
never reported, a verb the sandbox does not offer yet, and the database and time scoping
of possible writes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pytest_mock import MockerFixture

from bot.checks.framework import CheckContext
from bot.checks.immortal import survival
from bot.checks.immortal.survival import Trail
from bot.identity import Person
from bot.progress import CommandEntry
from bot.sandbox.engine.sandbox import Sandbox

VOLUME = {"kind": "volume", "name": "my-redis-data", "uid": "u1", "target": "/data",
          "anonymous": False}
PLAIN = ["docker-entrypoint.sh", "redis-server"]


def box(name: str, letter: str, *, command: list[str] = PLAIN) -> dict[str, Any]:
    """A container fact on the volume."""
    return {"id": letter * 64, "name": name, "image": "redis", "mounts": [VOLUME],
            "command": command}


W, R, H = box("redis-1", "a"), box("redis-2", "b"), box("helper", "c")


def entry(text: str, facts: dict[str, Any] | None, status: int = 0) -> CommandEntry:
    """A logged docker command."""
    return CommandEntry(0, datetime.now(UTC), "data-persistence", "challenge", "docker", text,
                        status, 5, "", facts)


def run(fact: dict[str, Any], **extra: Any) -> CommandEntry:
    """`docker run -d` of a container."""
    return entry(f"docker run -d --name {fact['name']} -v my-redis-data:/data redis",
                 {"verb": "run", "container": fact, "argv": [], "detach": True, **extra})


def exec_(fact: dict[str, Any], *argv: str, status: int = 0) -> CommandEntry:
    """`docker exec` in a container."""
    return entry(f"docker exec {fact['name']} {' '.join(argv)}",
                 {"verb": "exec", "container": fact, "argv": list(argv)}, status)


def trail(*entries: CommandEntry) -> Trail:
    """The trail of `mykey` from redis-1 on my-redis-data at /data."""
    ctx = CheckContext(Person("console", "t", "T"), cast(Sandbox, None), list(entries))
    return Trail(ctx, "redis-1", "my-redis-data", "/data", "mykey")


CREATED = {"created_volumes": [{"name": "my-redis-data", "uid": "u1"}]}


def test_writes_by_the_writer_carry_value_database_and_volume() -> None:
    """redis-1's SET is a write with its value; its `sh -c` pipe is opaque, not a taint."""
    found = trail(run(W, **CREATED), exec_(W, "redis-cli", "-n", "2", "set", "mykey", "v"),
                  exec_(W, "sh", "-c", "echo 'set mykey x' | redis-cli"))
    [write] = found.writes
    assert (write.db, write.value, write.uid) == (2, "v", "u1")
    assert [e.text for e in found.opaque] == ["docker exec redis-1 sh -c echo 'set mykey x' | redis-cli"]
    assert found.taints("u1") == [] and found.created == {"u1": 0}


def test_other_containers_writes_are_taints_by_database() -> None:
    """Another container's SET taints its database; a read and another key do not."""
    found = trail(run(H), exec_(H, "redis-cli", "-n", "1", "set", "mykey", "v"),
                  exec_(H, "redis-cli", "get", "mykey"), exec_(H, "redis-cli", "set", "other", "v"),
                  exec_(H, "redis-cli", "eval", "return 1", "0", status=1))
    taints = found.taints("u1")
    assert [(t.name, t.db, t.why) for t in taints] == [("helper", 1, "write"),
                                                       ("helper", None, "unknown")]


def test_a_command_the_engine_never_reported_is_a_taint() -> None:
    """An exec into redis-2 that failed at the engine (exit -2, no facts) may have written."""
    found = trail(run(W, **CREATED), run(R),
                  entry("docker exec redis-2 redis-cli set mykey v", None, -2),
                  entry("docker exec redis-1 redis-cli set mykey v", None, -2))
    assert [(t.name, t.why) for t in found.taints("u1")] == [("redis-2", "lost")]


def test_a_verb_the_trail_does_not_know_may_write_into_what_it_names() -> None:
    """A future verb (a `docker cp` into redis-2) counts as a possible write into redis-2."""
    found = trail(run(W, **CREATED), run(R),
                  entry("docker cp dump.rdb redis-2:/data/dump.rdb",
                        {"verb": "cp", "container": {"id": R["id"], "name": "redis-2"}}))
    assert [(t.name, t.why) for t in found.taints("u1")] == [("redis-2", "unknown")]


def test_a_container_whose_own_command_can_write_is_a_taint() -> None:
    """A busybox `cp` on the volume, or a Redis with a socket option, taints; `sleep` does not."""
    sleeper = box("idle", "d", command=["sleep", "600"])
    copier = box("copier", "e", command=["cp", "/o/dump.rdb", "/data/dump.rdb"])
    socket = box("sock", "f", command=[*PLAIN, "--unixsocket", "/data/r.sock"])
    found = trail(run(sleeper), run(copier), run(socket))
    assert [(t.name, t.why) for t in found.taints("u1")] == [("copier", "command"),
                                                             ("sock", "command")]


def _whole(entries: list[CommandEntry]) -> Trail:
    """The trail built from every row, nothing kept used."""
    return Trail(CheckContext(Person("console", "whole", "W"), cast(Sandbox, None),
                              list(entries)), "redis-1", "my-redis-data", "/data", "mykey",
                 resume=False)


def _challenge_lines() -> list[CommandEntry]:
    return [run(W, **CREATED), exec_(W, "redis-cli", "set", "mykey", "v"),
            exec_(W, "redis-cli", "save"), entry("docker rm -f redis-1", {
                "verb": "rm", "removed": [{**W, "was_running": True, "force": True}]}),
            run(R), exec_(R, "redis-cli", "get", "mykey")]


def test_a_learners_trail_is_resumed_from_their_last_line_not_rebuilt(
        monkeypatch: pytest.MonkeyPatch, mocker: MockerFixture) -> None:
    """Line after line, each row is registered about twice in all, not once per line after it."""
    monkeypatch.delenv(survival.VERIFY_ENV, raising=False)
    person = Person("console", f"memo-{id(monkeypatch)}", "M")
    lines = _challenge_lines() * 10
    registered = mocker.spy(Trail, "_register")
    history: list[CommandEntry] = []
    trails = []
    for line in lines:
        history.append(line)
        trails.append(Trail(CheckContext(person, cast(Sandbox, None), list(history)),
                            "redis-1", "my-redis-data", "/data", "mykey"))
    assert registered.call_count <= 2 * len(lines)  # rebuilt each line: 1 + 2 + ... + 60
    mocker.stopall()
    for k, resumed in enumerate(trails, start=1):
        assert resumed._state() == _whole(lines[:k])._state()


def test_a_row_read_afresh_or_a_new_lesson_start_is_not_resumed_from(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows that are not the very objects kept (re-read, another start) rebuild the trail."""
    monkeypatch.setenv(survival.VERIFY_ENV, "1")
    person = Person("console", f"fresh-{id(monkeypatch)}", "F")
    lines = _challenge_lines()
    for k in range(1, len(lines) + 1):
        Trail(CheckContext(person, cast(Sandbox, None), lines[:k]), "redis-1", "my-redis-data",
              "/data", "mykey")
    copies = [replace(line) for line in lines]  # equal rows, other objects
    again = Trail(CheckContext(person, cast(Sandbox, None), copies), "redis-1",
                  "my-redis-data", "/data", "mykey")
    assert again._state() == _whole(lines)._state()
    shorter = Trail(CheckContext(person, cast(Sandbox, None), lines[:2]), "redis-1",
                    "my-redis-data", "/data", "mykey")
    assert shorter._state() == _whole(lines[:2])._state()


def test_the_verification_fails_loudly_on_a_kept_trail_that_went_wrong(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept trail changed behind the memo's back is caught when the test suite verifies."""
    monkeypatch.setenv(survival.VERIFY_ENV, "1")
    person = Person("console", f"wrong-{id(monkeypatch)}", "W")
    lines = _challenge_lines()
    for k in range(1, 4):
        Trail(CheckContext(person, cast(Sandbox, None), lines[:k]), "redis-1", "my-redis-data",
              "/data", "mykey")
    memo = (person.key, "redis-1", "my-redis-data", "/data", "mykey")
    _, kept = survival._kept[memo]
    kept.writes.append(survival.Write(0, "x", "u1", 0, "forged"))
    with pytest.raises(AssertionError, match="differs from the whole history"):
        Trail(CheckContext(person, cast(Sandbox, None), lines[:4]), "redis-1",
              "my-redis-data", "/data", "mykey")
