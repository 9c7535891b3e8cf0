"""What the tutor looks at itself around a learner's command, kept as facts in the log.

Some proofs cannot be read from the engine's state after the fact, nor from what the
learner typed: *which* Redis value a container loaded from a volume as it started, or
whether a volume was created by the learner's command or was there before. The tutor
looks at those itself, inside the learner's serialised turn (``Tutor._serial``), so no
learner command can come between the event and the look:

* :func:`before_command` notes the learner's volumes before ``volume create`` (``run``
  names the volumes it created in its own facts, under the same key);
* :func:`after_command` returns facts to add to the command's log entry: the volumes it
  created (``created_volumes``), how the containers it stopped ended (``ended``: exit
  code, OOM kill, the cause their log gives), the containers it started (``started_views``, for
  ``start`` and ``restart``, whose own facts name only ids), and what each primitive's
  *observer* saw in them (``observed``).

A primitive that needs a look registers an observer with :func:`observer`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from bot.errors import TutorError
from bot.identity import Person

if TYPE_CHECKING:
    from bot.checks.reader import EngineReader
    from bot.lessons.model import Lesson
    from bot.sandbox import Command

CREATED_VOLUMES = "created_volumes"
FRESH_VOLUMES = "fresh_volumes"
STARTED_VIEWS = "started_views"
ENDED = "ended"
OBSERVED = "observed"

Observer = Callable[["EngineReader", Person, dict[str, Any], list[dict[str, Any]]], list[dict[str, Any]]]
"""Takes the sandbox, the learner, the check's parameters and the containers a command
started (as facts, each with ``how``: ``run``, ``start`` or ``restart``; a ``run``'s also
with ``fresh``: the unique ids of the volumes it created that started empty, the sandbox's
``fresh_volumes`` fact); returns records."""

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


def _ended(sandbox: EngineReader, person: Person, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """How each container a ``stop``, ``restart`` or ``kill`` ended, with its log's cause.

    Read at once, while the container still exists (a ``docker rm`` next takes its log).
    """
    key = {"stop": "stopped", "kill": "killed"}.get(str(facts.get("verb")))
    if key is None:
        return []
    found = []
    for item in facts.get(key) or []:
        name = str(item.get("name", ""))
        how = sandbox.ending(person, name) if name else None
        if how is not None and not how.get("running"):
            found.append({"id": str(item.get("id", "")), "name": name, **how})
    return found


def _started(sandbox: EngineReader, person: Person, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers a command started and that still run, as facts with ``how``."""
    verb = facts.get("verb")
    if verb == "run":
        container = facts.get("container")
        if isinstance(container, dict) and facts.get("detach"):
            return [{**container, "how": "run", "fresh": list(facts.get(FRESH_VOLUMES) or [])}]
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
        ended = _ended(sandbox, person, facts)
        if ended:
            added[ENDED] = ended
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
