"""Step awareness around a learner's command: whose step it is, and what it left behind.

* :func:`belongs_elsewhere`: a command naming only another step's containers or volumes
  (``redis-1`` typed on the tmpfs step after ``back``) belongs to that step: this step
  does not judge it, and the tutor says so in one short line.
* :func:`left_stopped`: a server run without ``-d`` hit the time limit and was stopped,
  but the container is still there: the retry would meet Docker's name conflict.
"""

from __future__ import annotations

import shlex
from typing import Any

from bot.checks.reader import EngineReader
from bot.identity import Person
from bot.lessons.model import Lesson, Step

NAME_PARAMS = ("writer", "reader", "volume", "name", "container")
"""Check parameters that name a learner's container or volume."""


def step_names(step: Step) -> set[str]:
    """The container and volume names a step's checks look for."""
    return {str(spec.params[key]) for spec in step.checks for key in NAME_PARAMS
            if isinstance(spec.params.get(key), str)}


def _words(text: str) -> set[str]:
    try:
        tokens = shlex.split(text)
    except ValueError:
        tokens = text.split()
    words: set[str] = set()
    for token in tokens:
        words.add(token)
        words.update(part for piece in token.split(",") for part in piece.split(":"))
        words.update(token.split("=")[1:])
    return words


def belongs_elsewhere(lesson: Lesson, step: Step, text: str) -> Step | None:
    """The step a docker command belongs to when that is not ``step`` (else ``None``).

    It names a container or volume that another step's checks look for, and none that
    this step's do. The first such step after ``step`` is named (else the first before).
    """
    if not text.startswith("docker"):
        return None
    words = _words(text)
    if words & step_names(step):
        return None
    index = lesson.index(step.id)
    ordered = [*lesson.steps[index + 1:], *lesson.steps[:index]]
    return next((other for other in ordered if words & step_names(other)), None)


def left_stopped(sandbox: EngineReader, person: Person, facts: dict[str, Any]) -> str:
    """What to say when a foreground ``run`` hit the time limit and left its container.

    ``""`` when the command was not such a run, or the container is gone (``--rm``).
    """
    if facts.get("verb") != "run" or facts.get("detach") or not facts.get("timed_out"):
        return ""
    name = str((facts.get("container") or {}).get("name", ""))
    view = sandbox.container(person, name) if name else None
    if view is None or view.running:
        return ""
    return (f"`{name}` is still there, stopped (`docker ps -a` lists it). Remove it with "
            f"`docker rm {name}` before you run it again with `-d`, or Docker will say the "
            "name is already in use.")
