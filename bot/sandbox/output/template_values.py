"""The values a Go template computes with, and the budget every rendering runs under.

A template runs over plain Python data standing for Go values: ``str``, ``bool``, ``int``
(Go's ``int``, 64 bits), ``float`` (``float64``), ``list`` (a slice), ``dict`` (a map,
printed with its keys sorted), :class:`Struct` (a struct, printed in field order),
``None`` (a nil interface: ``<no value>``) and :class:`Nil` (a typed nil: a nil map
prints ``map[]``, a nil slice ``[]``, a nil pointer ``<nil>``).

:class:`Budget` bounds a rendering by construction: every character a template builds is
charged *before* it is allocated where a count could multiply it (a width, a precision,
``pad``), and right after for what is linear in values already paid for; steps are
charged as characters too, so a step that builds much costs as much as many steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

NO_VALUE = "<no value>"

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""Go's ``int`` on the CLI's platforms: values past it are refused, never computed."""

MAX_VALUE_CHARS = 1_000_000
"""The longest text one value (a ``printf``, a ``pad``...) may be."""

MAX_WORK = 4_000_000
"""What one rendering may build in all, in characters (steps count as :data:`STEP_COST`)."""

STEP_COST = 128
"""What one step of a rendering counts for, in characters built."""

MAX_STEPS = MAX_WORK // STEP_COST
"""The most steps a rendering that builds nothing may take."""

TOO_MUCH_TEXT = "template: the template builds too much text"
TOO_MUCH_WORK = "template: the template does too much work"
TOO_SLOW = "template: the template took too long"


class TemplateError(ValueError):
    """A template that cannot be read (``parsing``) or run over the object."""

    def __init__(self, message: str, *, parsing: bool) -> None:
        super().__init__(message)
        self.parsing = parsing


class Struct(dict[str, Any]):
    """A dict that stands for a Go struct: printed ``{v1 v2 ...}`` with fields in order.

    ``go_type`` names the Go type (for ``%T`` and error messages); ``pointer`` marks a
    struct reached through a pointer (``printf "%v"`` prints it ``&{...}``).
    """

    go_type = "struct"
    pointer = False
    json_sorted = False

    def typed(self, go_type: str, *, pointer: bool = False, json_sorted: bool = False) -> Struct:
        """This struct, typed: its Go type, pointer or not, and JSON keys sorted or not.

        ``json_sorted``: its JSON is a map's, as ``ps``'s rows marshal themselves.
        """
        self.go_type = go_type
        self.pointer = pointer
        self.json_sorted = json_sorted
        return self


class Method:
    """A Go method of a struct, taking ``arity`` string arguments (``{{.Label "a"}}``)."""

    __slots__ = ("arity", "fn", "name")

    def __init__(self, name: str, arity: int, fn: Callable[..., Any]) -> None:
        self.name = name
        self.arity = arity
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        """Call it as Go would: the right number of strings, or Go's complaint.

        Raises:
            TemplateError: Wrong number or type of arguments.
        """
        if len(args) != self.arity:
            raise TemplateError(f"wrong number of args for {self.name}: want {self.arity} "
                                f"got {len(args)}", parsing=False)
        for arg in args:
            if not isinstance(arg, str):
                raise TemplateError(f"wrong type for value; expected string; got "
                                    f"{type_name(arg)}", parsing=False)
        return self.fn(*args)


class Nil:
    """A typed nil: ``map`` prints ``map[]``, ``slice`` prints ``[]``, ``ptr`` prints ``<nil>``."""

    __slots__ = ("go_type", "kind", "omit")

    def __init__(self, kind: str, go_type: str = "", *, omit: bool = False) -> None:
        self.kind = kind
        self.omit = omit  # a field tagged `json:",omitempty"`: JSON leaves it out
        self.go_type = go_type or {"map": "map[string]string", "slice": "[]string"}.get(
            kind, "*struct")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Nil) and other.kind == self.kind

    def __hash__(self) -> int:
        return hash(self.kind)

    def __repr__(self) -> str:
        return f"Nil({self.kind!r})"


class Budget:
    """What one rendering may still build and how long it may take.

    Args:
        work: Characters (and steps, at :data:`STEP_COST` each) it may build in all.
        deadline: A ``time.monotonic()`` time past which it stops, or ``None``.
    """

    def __init__(self, work: int = MAX_WORK, deadline: float | None = None) -> None:
        self.left = work
        self.deadline = deadline
        self.steps = 0

    def charge(self, chars: int) -> None:
        """Pay for ``chars`` characters about to be (or just) built.

        Raises:
            TemplateError: One value would pass :data:`MAX_VALUE_CHARS`, or the rendering
                its whole budget.
        """
        if chars > MAX_VALUE_CHARS or chars > self.left:
            raise TemplateError(TOO_MUCH_TEXT, parsing=False)
        self.left -= chars

    def room(self, chars: int) -> None:
        """Check, without paying, that ``chars`` more characters could still be built.

        Raises:
            TemplateError: They could not.
        """
        if chars > MAX_VALUE_CHARS or chars > self.left:
            raise TemplateError(TOO_MUCH_TEXT, parsing=False)

    def step(self) -> None:
        """Pay for one step; look at the clock every 256 steps.

        Raises:
            TemplateError: The work budget or the deadline is spent.
        """
        self.steps += 1
        if self.left < STEP_COST:
            raise TemplateError(TOO_MUCH_WORK, parsing=False)
        self.left -= STEP_COST
        if self.deadline is not None and self.steps % 256 == 0 \
                and time.monotonic() > self.deadline:
            raise TemplateError(TOO_SLOW, parsing=False)


def size_of(value: Any) -> int:
    """A cheap measure of what building ``value`` cost (its length, for text and lists)."""
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    return 1


def truthy(value: Any) -> bool:
    """Go's template truth: false, 0, nil and empty strings, lists and maps are false."""
    if isinstance(value, Struct):
        return True
    if isinstance(value, bool):
        return value
    if value is None or isinstance(value, Nil):
        return False
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def type_name(value: Any) -> str:
    """The Go type a value stands for, as Go's messages name it (``%T``)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Nil):
        return value.go_type
    if isinstance(value, Struct):
        return value.go_type
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return "[]string"
        return "[]interface {}"
    if isinstance(value, dict):
        if all(isinstance(v, str) for v in value.values()):
            return "map[string]string"
        return "map[string]interface {}"
    return "<nil>"
