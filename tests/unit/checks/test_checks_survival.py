"""The key's trail through a volume, read from logged facts alone (no engine needed).

These cover what the engine tests cannot reach today: a command whose outcome the engine
never reported, a verb the sandbox does not offer yet, and the database and time scoping
of possible writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from bot.checks.framework import CheckContext
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
