"""The tutor's own look at a learner's Redis: one exec, the same record as one exec per question."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bot.checks import observe
from bot.checks.observe import read_redis_key
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.tutor.core import Tutor

FORGED = "hi\n@@end\n@@db 1\n" + base64.b64encode(b"string@@rc=0\n").decode() + "\r\nlast\n\n"
"""A value that looks like the frames of the one-exec answer, with CRLF and trailing newlines."""


class Counting:
    """An engine reader that counts the execs the tutor makes (and can answer some itself)."""

    def __init__(self, sandbox: Sandbox, answer: tuple[int, str] | None = None) -> None:
        self.sandbox = sandbox
        self.answer = answer
        self.execs: list[list[str]] = []

    def exec_capture(self, person: Person, name: str, argv: list[str], *,
                     timeout: float = 10.0) -> tuple[int, str] | None:
        """Count, then answer as told (first exec only) or as the engine does."""
        self.execs.append(argv)
        if self.answer is not None and len(self.execs) == 1:
            return self.answer
        return self.sandbox.exec_capture(person, name, argv, timeout=timeout)


def one_by_one(sandbox: Sandbox, person: Person, name: str, key: str) -> dict[str, Any]:
    """The reading question by question, as the tutor made it before."""
    return observe._read_one_by_one(sandbox, person, name, key, wait=5.0)  # type: ignore[arg-type]


@pytest.mark.docker
def test_one_exec_reads_what_one_exec_per_question_reads(tutor: Tutor, alice: Person) -> None:
    """Values in several databases, a forged frame, a list and AOF: one exec, the same record."""
    tutor.handle(alice, "docker run -d --name r -v data:/data redis redis-server --appendonly yes")
    sandbox = tutor.sandbox
    assert isinstance(sandbox, Sandbox)
    sandbox.exec_capture(alice, "r", ["sh", "-c", "until redis-cli ping; do sleep 0.1; done >/dev/null"])
    for argv in (["redis-cli", "set", "k", FORGED], ["redis-cli", "-n", "3", "set", "k", "three"],
                 ["redis-cli", "-n", "5", "rpush", "k", "a"],
                 ["redis-cli", "-n", "7", "set", "other", "x"]):
        assert sandbox.exec_capture(alice, "r", argv) is not None
    counting = Counting(sandbox)
    record = read_redis_key(counting, alice, "r", "k")  # type: ignore[arg-type]
    assert len(counting.execs) == 1
    assert record == one_by_one(sandbox, alice, "r", "k")
    assert record["values"] == {"0": FORGED.replace("\r\n", "\n"), "3": "three"}
    assert record["others"] == {"5": "list"}
    assert record["aof"] is True


@pytest.mark.docker
def test_a_container_without_redis_is_told_at_once(tutor: Tutor, alice: Person) -> None:
    """A busybox container is no Redis: one exec says so without waiting out the five seconds."""
    tutor.handle(alice, "docker run -d --name b busybox sleep 600")
    sandbox = tutor.sandbox
    assert isinstance(sandbox, Sandbox)
    counting = Counting(sandbox)
    record = read_redis_key(counting, alice, "b", "k")  # type: ignore[arg-type]
    assert record == {"reachable": False, "why": "no answer"}
    assert len(counting.execs) == 1


@pytest.mark.docker
@pytest.mark.parametrize("answer", [
    (0, "@@pong\n" + "A" * 40),                       # cut off by the read limit: no @@end
    (126, "OCI runtime exec failed: sh: not found"),  # no shell in the image
    (0, "@@pong\nnot-base64!\nAAAA\n@@end"),          # frames that do not decode
])
def test_an_answer_that_is_not_whole_is_asked_question_by_question(
    tutor: Tutor, alice: Person, answer: tuple[int, str],
) -> None:
    """When the one-exec answer is not whole, the tutor asks again one question at a time."""
    tutor.handle(alice, "docker run -d --name r redis")
    sandbox = tutor.sandbox
    assert isinstance(sandbox, Sandbox)
    sandbox.exec_capture(alice, "r", ["redis-cli", "set", "k", "v"])
    counting = Counting(sandbox, answer)
    record = read_redis_key(counting, alice, "r", "k")  # type: ignore[arg-type]
    assert record["reachable"] is True
    assert record["values"] == {"0": "v"}
    assert counting.execs[0][:2] == ["sh", "-c"]
    assert counting.execs[1] == ["redis-cli", "--raw", "ping"]  # then question by question
