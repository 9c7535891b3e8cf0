"""Running a parsed Go template, as Go's ``text/template`` executes it, within a budget.

Variables live on one stack, as in Go: a declaration (``{{$x := ...}}``) pushes, the end of
``if``/``range``/``with`` pops back, ``{{$x = ...}}`` assigns the nearest. ``range`` walks
slices, maps (keys sorted) and integers; ``break`` and ``continue`` stop it; ``and`` and
``or`` evaluate their arguments lazily. Every step and every character built is charged
to the :class:`~bot.sandbox.output.template_values.Budget`; the output stops at the cap.

For ``docker inspect``, a typed run that fails is run again over the raw JSON map, with
``missingkey=error``, as the docker CLI does (so its error messages are the CLI's).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.sandbox.output import gofmt
from bot.sandbox.output.template_funcs import FUNCTIONS
from bot.sandbox.output.template_tree import Node, Operand, Pipe, Rendered
from bot.sandbox.output.template_values import (
    Budget,
    Method,
    Nil,
    Struct,
    TemplateError,
    truthy,
    type_name,
)

log = logging.getLogger("docker_tutor.sandbox")

_UNSET = object()

ARITY = {"len": 1, "not": 1, "json": 1, "split": 2, "join": 2, "title": 1, "lower": 1,
         "upper": 1, "pad": 3, "truncate": 2, "ne": 2, "lt": 2, "le": 2, "gt": 2, "ge": 2,
         "printf": -1, "index": -1, "slice": -1, "call": -1, "eq": -1, "and": -1, "or": -1}
"""Arguments each function takes (``-n``: at least n), checked before any is evaluated."""

SIGNATURES = {"lower": "s", "upper": "s", "title": "s", "split": "ss", "pad": "sii", "join": "ls",
              "truncate": "si", "printf": "s"}
"""The typed parameters of functions (``s`` string, ``i`` int), checked as Go converts."""


class _Break(Exception):
    """``{{break}}``."""


class _Continue(Exception):
    """``{{continue}}``."""


def _at(op: Operand | Pipe, message: str) -> TemplateError:
    return TemplateError(f'template: :1:{op.pos}: executing "" at <{op.text}>: {message}',
                         parsing=False)


class _Run:
    def __init__(self, root: Any, limit: int, budget: Budget, *, missing_error: bool) -> None:
        self.root = root
        self.limit = limit
        self.budget = budget
        self.missing_error = missing_error
        self.out: list[str] = []
        self.size = 0
        self.full = False
        self.dropped = 0
        self.vars: list[tuple[str, Any]] = []

    def emit(self, text: str) -> None:
        """Keep ``text`` up to the cap; past it only count it.

        The run goes on, as Go's would, so an error later in the template is still the answer.
        """
        room = self.limit - self.size
        if len(text) > room:
            self.out.append(text[:room])
            self.size = self.limit
            self.dropped += len(text) - room
            self.full = True
            return
        self.out.append(text)
        self.size += len(text)

    # -- nodes ----------------------------------------------------------------------------

    def nodes(self, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            self.budget.step()
            if node.kind == "text":
                self.emit(node.text)
            elif node.kind == "break":
                raise _Break
            elif node.kind == "continue":
                raise _Continue
            elif node.kind == "action":
                assert node.pipe is not None  # noqa: S101 - every action has one
                value = self.pipe(node.pipe, dot)
                if not node.pipe.decl:
                    self.emit(gofmt.printable(value, self.budget))
            else:
                mark = len(self.vars)
                try:
                    self.control(node, dot)
                finally:
                    del self.vars[mark:]

    def control(self, node: Node, dot: Any) -> None:
        assert node.pipe is not None  # noqa: S101 - every control node has one
        if node.kind == "range":
            self.range(node, dot)
            return
        value = self.pipe(node.pipe, dot, declare=node.kind != "range")
        if truthy(value):
            self.nodes(node.body, value if node.kind == "with" else dot)
        else:
            self.nodes(node.otherwise, dot)

    def range(self, node: Node, dot: Any) -> None:
        assert node.pipe is not None  # noqa: S101 - every range has one
        pipe = node.pipe
        value = self.pipe(pipe, dot, declare=False)
        items: Any
        if isinstance(value, dict) and not isinstance(value, Struct):
            items = ((k, value[k]) for k in sorted(value))
            count = len(value)
        elif isinstance(value, list | tuple):
            items = enumerate(value)
            count = len(value)
        elif value is None or (isinstance(value, Nil) and value.kind != "ptr"):
            items, count = iter(()), 0
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(pipe.decl) > 1:
                raise _at(pipe, f"can't use {value} to iterate over more than one variable")
            items = ((i, i) for i in range(max(value, 0)))
            count = max(value, 0)
        else:
            raise _at(pipe, f"range can't iterate over {gofmt.printable(value, self.budget)}")
        if count == 0:
            self.nodes(node.otherwise, dot)
            return
        mark = len(self.vars)
        for key, item in items:
            self.budget.step()  # an empty body still costs its iterations
            del self.vars[mark:]
            if len(pipe.decl) == 1:
                self.vars.append((pipe.decl[0], item))
            elif len(pipe.decl) == 2:
                self.vars.append((pipe.decl[0], key))
                self.vars.append((pipe.decl[1], item))
            try:
                self.nodes(node.body, item)
            except _Break:
                break
            except _Continue:
                continue

    # -- pipelines ------------------------------------------------------------------------

    def pipe(self, pipe: Pipe, dot: Any, *, declare: bool = True) -> Any:
        value: Any = _UNSET
        for command in pipe.commands:
            value = self.command(command, dot, pipe, value)
        if pipe.decl and declare:
            if pipe.assign:
                self.assign(pipe.decl[0], value)
            else:
                self.vars.append((pipe.decl[0], value))
        return value

    def assign(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise TemplateError(f"template: :1: undefined variable: {name}", parsing=False)

    def variable(self, name: str, dot_root: Any) -> Any:
        if name == "$":
            return dot_root
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise TemplateError(f"template: :1: undefined variable: {name}", parsing=False)

    def command(self, command: list[Operand], dot: Any, pipe: Pipe, final: Any) -> Any:
        self.budget.step()
        head = command[0]
        if head.kind == "ident":
            return self.call(head, command[1:], dot, final)
        value = self.operand(head, dot, method=True)
        if isinstance(value, Method):
            args = [self.operand(op, dot) for op in command[1:]]
            if final is not _UNSET:
                args.append(final)
            return self.method(head, value, args)
        if len(command) > 1 or final is not _UNSET:
            raise _at(head, "can't give argument to non-function " + head.text)
        return value

    def method(self, head: Operand, method: Method, args: list[Any]) -> Any:
        try:
            return method(*args)
        except TemplateError as exc:
            raise _at(head, str(exc)) from None

    def call(self, head: Operand, args: list[Operand], dot: Any, final: Any) -> Any:
        name = head.value
        given = len(args) + (final is not _UNSET)
        want = ARITY.get(name, 0)
        if (want > 0 and given != want) or (want < 0 and given < -want):
            wanted = f"at least {-want}" if want < 0 else str(want)
            raise _at(head, f"wrong number of args for {name}: want {wanted} got {given}")
        if name in ("and", "or"):
            value: Any = None
            for op in args:
                value = self.operand(op, dot)
                if truthy(value) == (name == "or"):
                    return value
            return final if final is not _UNSET else value
        values = []
        for i, op in enumerate(args):  # each converted as it is evaluated, as Go does
            values.append(self.operand(op, dot))
            self.check_types(head, name, args, values, only=i)
        if final is not _UNSET:
            values.append(final)
        where = f"{name} {' '.join(op.text for op in args)}".strip()
        if name == "call" and values:  # nothing in a template's data can be called
            raise TemplateError(
                f'template: :1:{head.pos}: executing "" at <{where}>: error calling call: '
                f"non-function {args[0].text if args else '<pipe>'} of type "
                f"{type_name(values[0])}", parsing=False)
        self.check_types(head, name, args, values, only=len(values) - 1)
        try:
            return FUNCTIONS[name](self.budget, *values)
        except TemplateError as exc:
            if str(exc).startswith("template: the template"):
                raise
            raise TemplateError(f'template: :1:{head.pos}: executing "" at <{where}>: {exc}',
                                parsing=False) from None

    def check_types(self, head: Operand, name: str, args: list[Operand],
                    values: list[Any], *, only: int) -> None:
        """Go's argument conversion: a string or int parameter takes nothing else."""
        for i, want in enumerate(SIGNATURES.get(name, "")[: len(values)]):
            if i != only:
                continue
            value = values[i]
            if want == "l":
                ok = isinstance(value, Nil) or (isinstance(value, list | tuple) and all(
                    isinstance(v, str) for v in value))
            elif want == "s":
                ok = isinstance(value, str)
            else:
                ok = isinstance(value, int) and not isinstance(value, bool)
            if ok:
                continue
            kind = {"s": "string", "i": "int", "l": "[]string"}[want]
            op = args[i] if i < len(args) else head
            if i < len(args) and op.kind == "nil":
                raise _at(op, f"cannot assign nil to {kind}")
            if i < len(args) and want == "l" and op.kind in ("str", "num", "bool"):
                raise _at(op, f"can't handle {op.text} for arg of type []string")
            if i < len(args) and op.kind in ("str", "num", "bool", "nil"):
                found = "integer" if want == "i" else kind
                raise _at(op, f"expected {found}; found {op.text}")
            raise _at(op, f"wrong type for value; expected {kind}; got {type_name(value)}")

    def operand(self, op: Operand, dot: Any, *, method: bool = False) -> Any:
        self.budget.step()
        kind = op.kind
        if kind == "pipe":
            mark = len(self.vars)
            value = self.pipe(op.value, dot)
            del self.vars[mark:]
        elif kind == "ident":
            return self.call(op, [], dot, _UNSET)
        elif kind == "var":
            value = self.variable(op.value, self.root)
        elif kind == "field":
            value = dot
        else:
            return op.value
        for name in op.fields:
            value = self.field(op, value, name)
        if isinstance(value, Method) and not method:
            return self.method(op, value, [])  # a method as an argument: called bare
        return value

    def field(self, op: Operand, value: Any, name: str) -> Any:
        self.budget.step()
        if isinstance(value, Struct):
            if name in value:
                return value[name]
            raise _at(op, f"can't evaluate field {name} in type {value.go_type}")
        if isinstance(value, dict):
            if name in value:
                return value[name]
            if self.missing_error:
                raise _at(op, f'map has no entry for key "{name}"')
            return None
        if isinstance(value, Nil):
            if value.kind == "map":
                return None
            raise _at(op, f"nil pointer evaluating {value.go_type}.{name}")
        if value is None:
            raise _at(op, f"nil pointer evaluating interface {{}}.{name}")
        raise _at(op, f"can't evaluate field {name} in type {type_name(value)}")


def _plain(value: Any) -> Any:
    """A typed value as the CLI's raw fallback sees it: maps, ``float64`` numbers, ``nil``."""
    if isinstance(value, Nil):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _once(nodes: list[Node], obj: Any, limit: int, budget: Budget, *,
          missing_error: bool) -> Rendered:
    run = _Run(obj, limit, budget, missing_error=missing_error)
    try:
        run.nodes(nodes, obj)
    except TemplateError as exc:
        if not (run.full and str(exc).startswith("template: the template")):
            raise
        # The budget ran out while the output was already cut: what was kept stands.
    return Rendered("".join(run.out), cut=run.full, dropped=run.dropped)


def render_unguarded(nodes: list[Node], obj: Any, *, limit: int, budget: Budget,
                     fallback: bool = False) -> Rendered:
    """:func:`render` without its last-resort guard (the property tests call this one)."""
    if not fallback:
        return _once(nodes, obj, limit, budget, missing_error=False)
    try:
        return _once(nodes, obj, limit, budget, missing_error=False)
    except TemplateError as exc:
        if str(exc).startswith("template: the template"):
            raise
    return _once(nodes, _plain(obj), limit, budget, missing_error=True)


def render(nodes: list[Node], obj: Any, *, limit: int, budget: Budget,
           fallback: bool = False) -> Rendered:
    """Run ``nodes`` over ``obj`` (see :func:`bot.sandbox.output.templates.render`).

    Raises:
        TemplateError: The template cannot run over ``obj`` or passed its budget.
    """
    try:
        return render_unguarded(nodes, obj, limit=limit, budget=budget, fallback=fallback)
    except TemplateError:
        raise
    except (RecursionError, MemoryError, OverflowError, ValueError, TypeError,
            LookupError, ArithmeticError) as exc:  # a bug: the bounds should make it impossible
        log.exception("template interpreter fault")
        raise TemplateError("template: the template cannot be run here",
                            parsing=False) from exc
