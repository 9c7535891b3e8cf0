"""The tree of a parsed Go template (:mod:`bot.sandbox.output.templates` builds it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Operand:
    """One word of a command: ``kind`` is field, var, chain, str, num, bool, nil, ident, pipe.

    ``value`` is the literal, the function or variable name, or the inner pipe; ``fields``
    the field names that follow (``$x.A.B``, ``(pipe).A``, ``.A.B``).
    """

    kind: str
    value: Any
    pos: int
    text: str
    fields: list[str] = field(default_factory=list)


@dataclass
class Pipe:
    """A pipeline: commands joined by ``|``, maybe declaring (``:=``) or assigning (``=``)."""

    commands: list[list[Operand]]
    pos: int
    text: str
    decl: list[str] = field(default_factory=list)
    assign: bool = False


@dataclass
class Node:
    """One node: text, action, if, range, with, break or continue."""

    kind: str
    text: str = ""
    pipe: Pipe | None = None
    body: list[Node] = field(default_factory=list)
    otherwise: list[Node] = field(default_factory=list)


@dataclass
class Rendered:
    """A rendering's text, whether it was cut at the cap, and how many characters were not kept.

    ``dropped`` is exact when the template ran to its end, a lower bound when its budget
    ran out while only counting.
    """

    text: str
    cut: bool = False
    dropped: int = 0
