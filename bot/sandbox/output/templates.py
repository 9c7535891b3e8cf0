"""A small, bounded interpreter for the Go templates of ``--format`` (``inspect``, ``ps``).

Learners type what they read in Docker's documentation: ``{{.State.Status}}``,
``{{range .Mounts}}{{.Source}}{{end}}``, ``{{json .Mounts}}``,
``{{index .Config.Labels "x"}}``, ``{{printf "%s" .Name}}``, ``{{if ...}}{{else}}{{end}}``.
This module reads such a template into a tree and runs it over plain Python data (the
learner-safe view of an object, in the learner's names). Nothing is ever evaluated as
Python: the only operations are field look-ups and the functions of :data:`FUNCTIONS`
(in :mod:`bot.sandbox.output.template_funcs`, with Go's printing rules).

Bounded by construction: a template is at most :data:`MAX_TEMPLATE_CHARS` long (the
parser also caps it), nesting is at most :data:`MAX_DEPTH` deep, every step of the run
is counted against :data:`MAX_STEPS`, and the output stops growing at ``limit``
characters (:class:`Rendered.cut` says so).

A dict is a Go *map* (printed ``map[k:v]``, keys sorted) unless it is a :class:`Struct`
(printed ``{v1 v2}`` in field order), as Docker's typed objects print.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.output.template_funcs import (
    FUNCTIONS,
    NO_VALUE,
    Struct,
    TemplateError,
    go_json,
    go_sprintf,
    go_value,
    truthy,
    type_name,
)

__all__ = [
    "FUNCTIONS", "MAX_DEPTH", "MAX_STEPS", "MAX_TEMPLATE_CHARS", "NO_VALUE", "Rendered",
    "Struct", "TemplateError", "go_json", "go_sprintf", "go_value", "parse", "render",
]

MAX_TEMPLATE_CHARS = 1024
"""The longest template this module reads (the parser allows 256 characters)."""

MAX_DEPTH = 16
"""The deepest nesting of ``if``/``range``/``with`` and parentheses."""

MAX_STEPS = 20_000
"""The most nodes one rendering may visit (a ``range`` visits its body once per item)."""

class _Full(Exception):
    """The output reached its cap: stop rendering."""


# -- the tree -------------------------------------------------------------------------------


@dataclass
class _Operand:
    kind: str  # field, var, str, num, bool, nil, ident, pipe
    value: Any
    pos: int


@dataclass
class _Pipe:
    commands: list[list[_Operand]]
    pos: int
    text: str


@dataclass
class _Node:
    kind: str  # text, action, if, range, with
    text: str = ""
    pipe: _Pipe | None = None
    body: list[_Node] = field(default_factory=list)
    otherwise: list[_Node] = field(default_factory=list)


# -- reading -----------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<field>(?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z0-9_]+)+|\.)
      | (?P<var>\$[A-Za-z0-9_]*)
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[()|])
    )""",
    re.X,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "r": "\r", "'": "'"}


def _unquote(text: str, pos: int) -> str:
    out, i = [], 1
    while i < len(text) - 1:
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise TemplateError(f"template: :1:{pos}: invalid syntax", parsing=True)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _lex(text: str, base: int) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        match = _TOKEN.match(text, i)
        if match is None or match.end() == i:
            bad = text[i:].strip()[:1]
            raise TemplateError(f"template: :1: unexpected {bad!r} in command", parsing=True)
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind), base + match.start(kind)))
        i = match.end()
    return tokens


class _Reader:
    """Recursive descent over one action's tokens."""

    def __init__(self, tokens: list[tuple[str, str, int]], text: str, pos: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.text = text
        self.pos = pos

    def pipe(self, depth: int) -> _Pipe:
        if depth > MAX_DEPTH:
            raise TemplateError("template: :1: nested too deeply", parsing=True)
        commands: list[list[_Operand]] = [[]]
        while self.i < len(self.tokens):
            kind, value, pos = self.tokens[self.i]
            if kind == "punct" and value == ")":
                break
            self.i += 1
            if kind == "punct" and value == "|":
                if not commands[-1]:
                    raise TemplateError("template: :1: missing command", parsing=True)
                commands.append([])
                continue
            if kind == "punct" and value == "(":
                inner = self.pipe(depth + 1)
                if self.i >= len(self.tokens) or self.tokens[self.i][1] != ")":
                    raise TemplateError("template: :1: unclosed left paren", parsing=True)
                self.i += 1
                commands[-1].append(_Operand("pipe", inner, pos))
                continue
            commands[-1].append(self._operand(kind, value, pos))
        if not commands[-1]:
            raise TemplateError("template: :1: missing value for command", parsing=True)
        return _Pipe(commands, self.pos, self.text)

    def _operand(self, kind: str, value: str, pos: int) -> _Operand:
        if kind == "str":
            return _Operand("str", _unquote(value, pos), pos)
        if kind == "raw":
            return _Operand("str", value[1:-1], pos)
        if kind == "num":
            return _Operand("num", float(value) if "." in value else int(value), pos)
        if kind == "field":
            if value.startswith("$"):
                raise TemplateError("template: :1: variables are not supported here",
                                    parsing=True)
            return _Operand("field", [p for p in value.split(".") if p], pos)
        if kind == "var":
            if value != "$":
                raise TemplateError(f"template: :1: undefined variable {value!r}",
                                    parsing=True)
            return _Operand("field", [], pos)
        if value in ("true", "false"):
            return _Operand("bool", value == "true", pos)
        if value == "nil":
            return _Operand("nil", None, pos)
        if value not in FUNCTIONS:
            raise TemplateError(f'template: :1: function "{value}" not defined', parsing=True)
        return _Operand("ident", value, pos)


def parse(fmt: str) -> list[_Node]:
    """Read a template into its tree.

    Raises:
        TemplateError: For what Go's ``text/template`` would refuse to parse (and for the
            few features this interpreter leaves out, such as variables).
    """
    if len(fmt) > MAX_TEMPLATE_CHARS:
        raise TemplateError("template: too long", parsing=True)
    root: list[_Node] = []
    stack: list[tuple[_Node, list[_Node]]] = []
    current = root
    last = 0
    trim_next = False
    for match in _ACTION.finditer(fmt):
        text = fmt[last : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        if text:
            current.append(_Node("text", text=text))
        trim_next = bool(match.group(3))
        last = match.end()
        body = match.group(2).strip()
        pos = match.start(2)
        if body.startswith("/*"):
            continue
        word, _, rest = body.partition(" ")
        if word == "end":
            if not stack:
                raise TemplateError("template: :1: unexpected {{end}}", parsing=True)
            _node, current = stack.pop()
            continue
        if word == "else":
            if not stack or stack[-1][0].kind not in ("if", "range", "with"):
                raise TemplateError("template: :1: unexpected {{else}}", parsing=True)
            node = stack[-1][0]
            current = node.otherwise
            if rest.strip().startswith("if "):
                chained = _Node("if", pipe=_read_pipe(rest.strip()[3:], pos, len(stack)))
                current.append(chained)
                stack[-1] = (chained, stack[-1][1])  # one {{end}} closes the whole chain
                current = chained.body
            continue
        if word in ("if", "range", "with"):
            if len(stack) >= MAX_DEPTH:
                raise TemplateError("template: :1: nested too deeply", parsing=True)
            node = _Node(word, pipe=_read_pipe(rest, pos, len(stack)))
            current.append(node)
            stack.append((node, current))
            current = node.body
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"template: :1: {{{{{word}}}}} is not supported here",
                                parsing=True)
        if not body:
            raise TemplateError("template: :1: missing value for command", parsing=True)
        current.append(_Node("action", pipe=_read_pipe(body, pos, len(stack))))
    tail = fmt[last:]
    if trim_next:
        tail = tail.lstrip()
    if "{{" in tail:
        raise TemplateError("template: :1: unclosed action", parsing=True)
    if tail:
        current.append(_Node("text", text=tail))
    if stack:
        raise TemplateError("template: :1: unexpected EOF", parsing=True)
    return root


def _read_pipe(text: str, pos: int, depth: int) -> _Pipe:
    if not text.strip():
        raise TemplateError("template: :1: missing value", parsing=True)
    if ":=" in text or "=" in text.replace("==", ""):
        raise TemplateError("template: :1: variables are not supported here", parsing=True)
    reader = _Reader(_lex(text, pos), text.strip(), pos)
    pipe = reader.pipe(depth + 1)
    if reader.i < len(reader.tokens):
        raise TemplateError(f"template: :1: unexpected {reader.tokens[reader.i][1]!r}",
                            parsing=True)
    return pipe


# -- running -----------------------------------------------------------------------------------


@dataclass
class Rendered:
    """A rendering's text, and how much was left out to stay under the cap."""

    text: str
    cut: bool = False


class _Run:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.out: list[str] = []
        self.size = 0
        self.steps = 0

    def emit(self, text: str) -> None:
        room = self.limit - self.size
        if len(text) > room:
            self.out.append(text[:room])
            self.size = self.limit
            raise _Full
        self.out.append(text)
        self.size += len(text)

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateError("template: the template does too much work", parsing=False)

    def nodes(self, nodes: list[_Node], dot: Any) -> None:
        for node in nodes:
            self.step()
            if node.kind == "text":
                self.emit(node.text)
                continue
            assert node.pipe is not None  # noqa: S101 - every non-text node has one
            value = self.pipe(node.pipe, dot)
            if node.kind == "action":
                self.emit(go_value(value))
            elif node.kind == "if":
                self.nodes(node.body if truthy(value) else node.otherwise, dot)
            elif node.kind == "with":
                if truthy(value):
                    self.nodes(node.body, value)
                else:
                    self.nodes(node.otherwise, dot)
            elif node.kind == "range":
                items: Any
                if isinstance(value, dict):
                    items = [value[k] for k in sorted(value)]
                elif isinstance(value, list | tuple) or value is None:
                    items = value or []
                elif isinstance(value, int) and not isinstance(value, bool):
                    items = list(range(min(value, MAX_STEPS)))
                else:
                    raise TemplateError(
                        f"template: :1:{node.pipe.pos}: range can't iterate over "
                        f"{go_value(value)}", parsing=False)
                if not items:
                    self.nodes(node.otherwise, dot)
                for item in items:
                    self.nodes(node.body, item)

    def pipe(self, pipe: _Pipe, dot: Any) -> Any:
        value: Any = None
        for i, command in enumerate(pipe.commands):
            value = self.command(command, dot, pipe, value if i else _UNSET)
        return value

    def command(self, command: list[_Operand], dot: Any, pipe: _Pipe, final: Any) -> Any:
        self.step()
        head = command[0]
        if head.kind == "ident":
            args = [self.operand(op, dot, pipe) for op in command[1:]]
            if final is not _UNSET:
                args.append(final)
            try:
                return FUNCTIONS[head.value](*args)
            except TemplateError as exc:
                raise TemplateError(
                    f'template: :1:{head.pos}: executing "" at <{head.value}>: {exc}',
                    parsing=False) from None
        if len(command) > 1 or final is not _UNSET:
            raise TemplateError(
                f'template: :1:{head.pos}: executing "" at <{pipe.text}>: '
                "can't give argument to non-function", parsing=False)
        return self.operand(head, dot, pipe)

    def operand(self, op: _Operand, dot: Any, pipe: _Pipe) -> Any:
        if op.kind == "pipe":
            return self.pipe(op.value, dot)
        if op.kind == "ident":
            return FUNCTIONS[op.value]()
        if op.kind != "field":
            return op.value
        value = dot
        shown = "." + ".".join(op.value)
        for name in op.value:
            if isinstance(value, dict):
                if name not in value:
                    raise TemplateError(
                        f'template: :1:{op.pos}: executing "" at <{shown}>: map has no entry '
                        f'for key "{name}"', parsing=False)
                value = value[name]
            elif value is None:
                raise TemplateError(
                    f'template: :1:{op.pos}: executing "" at <{shown}>: nil pointer '
                    f"evaluating interface {{}}.{name}", parsing=False)
            else:
                raise TemplateError(
                    f'template: :1:{op.pos}: executing "" at <{shown}>: can\'t evaluate '
                    f"field {name} in type {type_name(value)}", parsing=False)
        return value


_UNSET = object()


def render(nodes: list[_Node], obj: Any, *, limit: int) -> Rendered:
    """Run a parsed template over ``obj``, stopping at ``limit`` characters.

    Raises:
        TemplateError: When the template cannot run over this object.
    """
    run = _Run(limit)
    try:
        run.nodes(nodes, obj)
    except _Full:
        return Rendered("".join(run.out), cut=True)
    except RecursionError:
        raise TemplateError("template: nested too deeply", parsing=False) from None
    return Rendered("".join(run.out))
