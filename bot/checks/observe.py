"""What the tutor looks at itself around a learner's command, kept as facts in the log.

Some proofs cannot be read from the engine's state after the fact, nor from what the
learner typed: *which* Redis value a container loaded from a volume as it started, or
whether a volume was created by the learner's command or was there before. The tutor
looks at those itself, inside the learner's serialised turn (``Tutor._serial``), so no
learner command can come between the event and the look:

* :func:`before_command` notes the learner's volumes before ``volume create`` (``run``
  names the volumes it created in its own facts, under the same key);
* :func:`after_command` returns facts to add to the command's log entry: the volumes it
  created (``created_volumes``), the containers it started (``started_views``, for
  ``start`` and ``restart``, whose own facts name only ids), and what each primitive's
  *observer* saw in them (``observed``).

A primitive that needs a look registers an observer with :func:`observer`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from bot.errors import TutorError
from bot.identity import Person

if TYPE_CHECKING:
    from bot.checks.reader import EngineReader
    from bot.lessons.model import Lesson
    from bot.sandbox import Command

CREATED_VOLUMES = "created_volumes"
STARTED_VIEWS = "started_views"
OBSERVED = "observed"

Observer = Callable[["EngineReader", Person, dict[str, Any], list[dict[str, Any]]], list[dict[str, Any]]]
"""Takes the sandbox, the learner, the check's parameters and the containers a command
started (as facts, each with ``how``: ``run``, ``start`` or ``restart``); returns records."""

OBSERVERS: dict[str, Observer] = {}
"""Observers by primitive name."""


def observer(name: str) -> Callable[[Observer], Observer]:
    """Register the observer of the primitive ``name``."""

    def register(fn: Observer) -> Observer:
        OBSERVERS[name] = fn
        return fn

    return register


def before_command(sandbox: EngineReader, person: Person, command: Command) -> frozenset[str] | None:
    """The unique ids of the learner's volumes before a command that may create one.

    The command is vetted first (no engine call), so a command the policy refuses never
    reaches the engine, not even for this look.

    Returns ``None`` for commands that never create a volume (nothing to note).

    Raises:
        CommandRefused: The policy refuses the command.
    """
    if command.verb != "volume create":
        return None  # `run` says itself which volumes it created (its facts' CREATED_VOLUMES)
    sandbox.vet(person, command)
    return frozenset(v.uid for v in sandbox.volumes(person))


def _volumes_named(facts: dict[str, Any]) -> list[dict[str, str]]:
    found = [m for m in (facts.get("container") or {}).get("mounts") or []
             if isinstance(m, dict) and m.get("kind") == "volume"]
    volume = facts.get("volume")
    if isinstance(volume, dict):
        found.append(volume)
    return [{"name": str(v.get("name", "")), "uid": str(v.get("uid", ""))} for v in found]


def _started(sandbox: EngineReader, person: Person, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers a command started and that still run, as facts with ``how``."""
    verb = facts.get("verb")
    if verb == "run":
        container = facts.get("container")
        if isinstance(container, dict) and facts.get("detach"):
            return [{**container, "how": "run"}]
        return []
    key = {"start": "started", "restart": "restarted"}.get(str(verb))
    if key is None:
        return []
    started = []
    for item in facts.get(key) or []:
        view = sandbox.container(person, str(item.get("name", "")))
        if view is not None and view.id == item.get("id"):
            started.append({**view.as_fact(), "how": verb})
    return started


def after_command(
    sandbox: EngineReader, person: Person, lesson: Lesson | None, facts: dict[str, Any],
    before: frozenset[str] | None,
) -> dict[str, Any]:
    """Facts the tutor adds to a learner command's log entry (see the module docstring).

    Never raises for an engine that stops answering: what could not be looked at is
    simply not recorded (a proof that needs it then does not hold).
    """
    added: dict[str, Any] = {}
    if before is not None:
        created = [v for v in _volumes_named(facts) if v["uid"] and v["uid"] not in before]
        if created:
            added[CREATED_VOLUMES] = created
    try:
        started = _started(sandbox, person, facts)
    except TutorError:
        return added
    if facts.get("verb") in ("start", "restart") and started:
        added[STARTED_VIEWS] = started
    if not started or lesson is None:
        return added
    records: list[dict[str, Any]] = []
    for spec in _specs(lesson):
        watch = OBSERVERS.get(spec[0])
        if watch is None:
            continue
        try:
            records.extend(watch(sandbox, person, spec[1], started))
        except TutorError:
            continue
    if records:
        added[OBSERVED] = records
    return added


def _specs(lesson: Lesson) -> Iterable[tuple[str, dict[str, Any]]]:
    for step in lesson.steps:
        for spec in step.checks:
            yield spec.type, spec.params


# -- reading Redis as the tutor -------------------------------------------------------------


def _section(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and not name.startswith("#"):
            fields[name] = value
    return fields


_READ_SCRIPT = r"""
frame() { ( "$@"; echo "@@rc=$?" ) | base64 | tr -d '\n'; echo; }
command -v redis-cli >/dev/null 2>&1 || { echo "@@absent"; exit 0; }
tries=0
until [ "$(redis-cli --raw ping 2>/dev/null)" = PONG ]; do
  tries=$((tries + 1))
  [ "$tries" -ge "$2" ] && { echo "@@noanswer"; exit 0; }
  sleep 0.05
done
echo "@@pong"
frame redis-cli --raw info persistence
frame redis-cli --raw info keyspace
for db in $(redis-cli --raw info keyspace | sed -n 's/^db\([0-9][0-9]*\):.*/\1/p'); do
  echo "@@db $db"
  frame redis-cli --raw -n "$db" type "$1"
  frame redis-cli --raw -n "$db" get "$1"
done
echo "@@end"
"""
"""The tutor's look at a Redis in one exec: wait for PONG inside the container, then every
answer as one base64 line ending ``@@rc=<status>`` (a value can forge no frame), key as
``$1`` (never spliced into the script). One exec instead of one per question: an exec is
the dearest thing an engine does, and a class starting at once would pay it ~6 times each."""

_POLL_SECONDS = 0.05

_NO_ANSWER: dict[str, Any] = {"reachable": False, "why": "no answer"}


class _Reading:
    """What one look at a Redis found, database by database (both ways of asking fill it)."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.aof = fields.get("aof_enabled", "0").strip() == "1"
        self.values: dict[str, str] = {}
        self.others: dict[str, str] = {}

    def add(self, db: int, found: str, got: tuple[int, str] | None) -> bool:
        """Note the key's type in ``db`` and, for a string, its value; ``False``: no answer."""
        found = found.strip()
        if found == "string":
            if got is None or got[0] != 0:
                return False
            self.values[str(db)] = got[1][:-1] if got[1].endswith("\n") else got[1]
        elif found != "none":
            self.others[str(db)] = found
        return True

    def record(self) -> dict[str, Any]:
        """The facts logged for the look."""
        return {"reachable": True, "values": self.values, "others": self.others, "aof": self.aof}


def _frame(line: str) -> tuple[int, str] | None:
    """``(status, output)`` of one framed answer, or ``None`` when it is not one.

    The output is read as an exec's is (UTF-8, CRLF as LF), so both ways of
    asking record the same value.
    """
    try:
        raw = base64.b64decode(line, validate=True).decode("utf-8", "replace").replace("\r\n", "\n")
    except ValueError:
        return None
    output, sep, status = raw.rpartition("@@rc=")
    if not sep or not status.strip().isdigit():
        return None
    return int(status.strip()), output


def _read_at_once(sandbox: EngineReader, person: Person, name: str, key: str,
                  wait: float) -> dict[str, Any] | None:
    """:func:`read_redis_key` in one exec; ``None`` when the answer is not whole (read again)."""
    tries = max(1, round(wait / _POLL_SECONDS))
    result = sandbox.exec_capture(person, name, ["sh", "-c", _READ_SCRIPT, "sh", key, str(tries)],
                                  timeout=wait + 5)
    if result is None:
        return {"reachable": False, "why": "not running"}
    lines = result[1].splitlines()
    if lines[:1] in (["@@absent"], ["@@noanswer"]):
        return dict(_NO_ANSWER)
    if lines[:1] != ["@@pong"] or lines[-1:] != ["@@end"] or len(lines) < 4:
        return None
    persistence, keyspace = _frame(lines[1]), _frame(lines[2])
    if persistence is None or keyspace is None:
        return None
    if persistence[0] or keyspace[0]:
        return dict(_NO_ANSWER)
    reading = _Reading(_section(persistence[1]))
    databases = sorted(int(f[2:]) for f in _section(keyspace[1]) if f.startswith("db") and f[2:].isdigit())
    body = lines[3:-1]
    if len(body) != 3 * len(databases):
        return None
    for index, db in enumerate(databases):
        head, kind, got = body[3 * index], _frame(body[3 * index + 1]), _frame(body[3 * index + 2])
        if head != f"@@db {db}" or kind is None or got is None:
            return None
        if kind[0] or not reading.add(db, kind[1], got):
            return dict(_NO_ANSWER)
    return reading.record()


def read_redis_key(
    sandbox: EngineReader, person: Person, name: str, key: str, *, wait: float = 5.0
) -> dict[str, Any]:
    """The tutor's own reading of ``key`` in every database of the Redis in ``name``.

    Waits (up to ``wait`` seconds) for a Redis that is still starting or loading its
    data, then records which databases hold keys, the key's string value in each (or
    its type when it is not a string), and whether the append-only file is on. All of
    it is asked in one exec (:data:`_READ_SCRIPT`); only an answer that does not come
    back whole (a value past the read limit, a container without a shell) is asked
    again question by question.

    Returns:
        ``{"reachable": False}`` when Redis did not answer, else ``{"reachable": True,
        "values": {db: value}, "others": {db: type}, "aof": bool}``.
    """
    at_once = _read_at_once(sandbox, person, name, key, wait)
    if at_once is not None:
        return at_once
    return _read_one_by_one(sandbox, person, name, key, wait=wait)


def _read_one_by_one(
    sandbox: EngineReader, person: Person, name: str, key: str, *, wait: float
) -> dict[str, Any]:
    """:func:`read_redis_key` one exec per question (the answer that is always whole)."""
    deadline = time.monotonic() + wait
    while True:
        ping = sandbox.exec_capture(person, name, ["redis-cli", "--raw", "ping"], timeout=3)
        if ping is None:
            return {"reachable": False, "why": "not running"}
        if ping[0] == 0 and ping[1].strip() == "PONG":
            break
        if time.monotonic() >= deadline:
            return dict(_NO_ANSWER)
        time.sleep(0.05)
    info = sandbox.exec_capture(person, name, ["redis-cli", "--raw", "info"], timeout=3)
    if info is None or info[0] != 0:
        return dict(_NO_ANSWER)
    fields = _section(info[1])
    reading = _Reading(fields)
    for db in sorted(int(f[2:]) for f in fields if f.startswith("db") and f[2:].isdigit()):
        kind = sandbox.exec_capture(person, name, ["redis-cli", "--raw", "-n", str(db), "type", key],
                                    timeout=3)
        if kind is None or kind[0] != 0:
            return dict(_NO_ANSWER)
        got = (sandbox.exec_capture(person, name, ["redis-cli", "--raw", "-n", str(db), "get", key],
                                    timeout=3) if kind[1].strip() == "string" else None)
        if not reading.add(db, kind[1], got):
            return dict(_NO_ANSWER)
    return reading.record()
