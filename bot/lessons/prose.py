"""What a step's prose promises: the commands it prints and what they print.

A lesson section lists what to type under a **Try it** heading, one numbered item per
command (a ``docker ...`` line or a tutor word such as ``edit``), and says what some of
them print in sentences of a fixed form:

    Step 3 prints `remember me`.
    Step 5 fails with `cat: can't open '/note.txt': No such file or directory`.

``lessons validate`` requires every Try-it command to be in the step's solution, in the
same order, every claim to name a Try-it docker command, and every other ``docker ...``
command quoted in the prose to be one the sandbox accepts. ``lessons selftest`` then runs
the solution and requires each claim to hold: the command's output contains the quoted
text, and it succeeded (``prints``) or failed (``fails with``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import CommandRefused
from bot.sandbox import parse
from bot.sandbox.policy import VERB_OPTIONS

_TRY_IT = re.compile(r"^\s*\*\*Try it\*\*\s*$", re.IGNORECASE)
_ITEM = re.compile(r"^\s*(\d+)\.\s+`([^`]+)`\s*$")
_CLAIM = re.compile(r"\b[Ss]tep (\d+) (prints|fails with) `([^`]+)`")
_SPAN = re.compile(r"`(docker [^`]+)`")


@dataclass(frozen=True)
class TryItem:
    """One numbered command under **Try it**: its number, text and line in the file."""

    number: int
    text: str
    line: int

    @property
    def docker(self) -> bool:
        """Whether it is a docker command (not a tutor word)."""
        return self.text.startswith("docker ")


@dataclass(frozen=True)
class Claim:
    """A sentence saying what a Try-it command prints (``prints``) or fails with."""

    step: int
    fails: bool
    text: str
    line: int


def try_items(body: str) -> list[TryItem]:
    """The numbered commands of the step's **Try it** list (empty without one)."""
    items: list[TryItem] = []
    inside = False
    for number, line in enumerate(body.splitlines(), start=1):
        if _TRY_IT.match(line):
            inside = True
            continue
        if not inside:
            continue
        item = _ITEM.match(line)
        if item:
            items.append(TryItem(int(item.group(1)), item.group(2).strip(), number))
        elif line.strip() and items:
            break
    return items


def claims(body: str) -> list[Claim]:
    """Every "Step N prints `...`" and "Step N fails with `...`" sentence."""
    return [Claim(int(m.group(1)), m.group(2) == "fails with", m.group(3), number)
            for number, line in enumerate(body.splitlines(), start=1)
            for m in _CLAIM.finditer(line)]


def solution_positions(items: Sequence[TryItem], solution: Sequence[str]) -> dict[int, int]:
    """Where each Try-it item is in the solution, matching in order (item number -> index).

    Items not found (in order) are left out.
    """
    found: dict[int, int] = {}
    at = 0
    for item in items:
        for index in range(at, len(solution)):
            if " ".join(solution[index].split()) == " ".join(item.text.split()):
                found[item.number] = index
                at = index + 1
                break
    return found


def quoted_commands(body: str) -> list[tuple[int, str]]:
    """Every ``docker ...`` command quoted in the prose, with its line.

    A span that names only a verb and options (```docker rm -f```, ```docker stop```) is
    a mention of the command, not one to type, and is left out.
    """
    found = []
    for number, line in enumerate(body.splitlines(), start=1):
        for match in _SPAN.finditer(line):
            if _operands(match.group(1).split()[1:]):
                found.append((number, match.group(1)))
    return found


def _operands(words: list[str]) -> list[str]:
    """The words after a verb that are not options nor option values."""
    verb = words[:1]
    if words[:1] in (["volume"], ["container"], ["image"]) and len(words) > 1:
        verb = words[:2]
    key = " ".join(verb) if verb[:1] != ["container"] else " ".join(verb[1:])
    takes_value = {name for opt in VERB_OPTIONS.get(key, ()) if opt.value for name in opt.names}
    operands, skip = [], False
    for word in words[len(verb):]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in takes_value
        else:
            operands.append(word)
    return operands


def refused(command: str) -> str | None:
    """Why the sandbox would refuse a quoted command (``None``: it parses)."""
    try:
        parse(command)
    except CommandRefused as error:
        return error.message
    return None


def prose_problems(body: str, solution: Sequence[str]) -> list[tuple[int, str]]:
    """Every broken promise of a step's prose that can be seen without running anything.

    Returns:
        ``(line in the Markdown file, message)`` pairs.
    """
    problems: list[tuple[int, str]] = []
    items = try_items(body)
    placed = solution_positions(items, solution)
    for item in items:
        if item.number not in placed:
            problems.append((item.line, f"Try it item {item.number} `{item.text}` is not in the "
                             "step's solution (in this order), so `lessons selftest` never runs "
                             "it"))
    numbered = {item.number: item for item in items}
    for claim in claims(body):
        said = numbered.get(claim.step)
        if said is None or not said.docker:
            problems.append((claim.line, f"the text says what step {claim.step} prints, but "
                             f"the Try it list has no docker command {claim.step}"))
    for line, command in quoted_commands(body):
        why = refused(command)
        if why is not None:
            problems.append((line, f"the sandbox refuses `{command}`, quoted in the text: {why}"))
    return problems
