"""A small, bounded interpreter for the Go templates of ``--format`` (``inspect``, ``ps``).

Learners type what they read in Docker's documentation: ``{{.State.Status}}``,
``{{range $i, $e := .Config.Env}}{{$i}}={{$e}}{{end}}``, ``{{json .Mounts}}``,
``{{$s := .State.Status}}``, ``{{printf "%8.3f" 3.14159}}``, ``{{if ...}}{{else}}{{end}}``.
This module reads such a template into a tree, as Go's ``text/template/parse`` does;
:mod:`~bot.sandbox.output.template_run` runs the tree over plain Python data (the
learner-safe view of an object). Nothing is ever evaluated as Python: the only operations
are field look-ups, variables and the functions of :data:`FUNCTIONS`.

Bounded by construction: a template is at most :data:`MAX_TEMPLATE_CHARS` long (the
parser allows 256 characters), nesting is at most :data:`MAX_DEPTH` deep, integers stay
within Go's ``int``, and every run is under a
:class:`~bot.sandbox.output.template_values.Budget` of characters built and steps taken,
checked before text is built, and a deadline. The output stops at ``limit`` characters
(:class:`Rendered.cut` says so).
"""

from __future__ import annotations

import math
import re
from typing import Any

from bot.sandbox.output import gofmt, template_run
from bot.sandbox.output.template_funcs import FUNCTIONS, LAZY, go_json
from bot.sandbox.output.template_tree import Node, Operand, Pipe, Rendered
from bot.sandbox.output.template_values import (
    INT_MAX,
    INT_MIN,
    MAX_STEPS,
    NO_VALUE,
    Budget,
    Method,
    Nil,
    Struct,
    TemplateError,
)

__all__ = [
    "FUNCTIONS", "MAX_DEPTH", "MAX_STEPS", "MAX_TEMPLATE_CHARS", "NO_VALUE", "Method", "Nil", "Node",
    "Rendered",
    "Struct", "TemplateError", "go_json", "go_sprintf", "go_value", "parse", "render",
]

MAX_TEMPLATE_CHARS = 1024
"""The longest template this module reads (the parser allows 256 characters)."""

MAX_DEPTH = 16
"""The deepest nesting of ``if``/``range``/``with`` and parentheses."""


def go_sprintf(fmt: str, args: list[Any]) -> str:
    """Go's ``fmt.Sprintf`` (see :mod:`bot.sandbox.output.gofmt`), under a fresh budget."""
    return gofmt.sprintf(fmt, args, Budget())


def go_value(value: Any, *, top: bool = True) -> str:
    """``value`` as a template action prints it (``top``) or as ``%v`` does inside a value."""
    if top:
        return gofmt.printable(value, Budget())
    return gofmt.sprint([value], Budget())


# -- reading -----------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""[ \t\r\n]*(?:
        (?P<str>"(?:[^"\\\n]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<char>'(?:[^'\\\n]|\\[^'\n]{1,9})')
      | (?P<decl>:=)
      | (?P<assign>=)
      | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
      | (?P<num>[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+
                     |(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?))
      | (?P<dot>\.)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[(),|])
    )""",
    re.X,
)
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", '"': '"', "'": "'"}


def _error(message: str) -> TemplateError:
    return TemplateError(f"template: :1: {message}", parsing=True)


def _unquote(text: str) -> str:
    """Go's ``strconv.Unquote`` of a double- or single-quoted literal."""
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        sizes = {"x": 2, "u": 4, "U": 8}
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in sizes:
            digits = body[i + 2 : i + 2 + sizes[nxt]]
            if len(digits) != sizes[nxt] or not all(c in "0123456789abcdefABCDEF"
                                                    for c in digits):
                raise _error(f"invalid syntax: {text}")
            code = int(digits, 16)
            if code > 0x10FFFF or (nxt != "x" and 0xD800 <= code < 0xE000):
                raise _error(f"invalid syntax: {text}")
            out.append(chr(code))
            i += 2 + sizes[nxt]
        elif nxt in "01234567" and re.fullmatch(r"[0-7]{3}", body[i + 1 : i + 4]):
            out.append(chr(int(body[i + 1 : i + 4], 8) & 0xFF))
            i += 4
        else:
            raise _error(f"invalid syntax: {text}")
    return "".join(out)


def _number(text: str) -> int | float:
    """A number literal as Go's parser reads it; an int past Go's ``int`` is refused."""
    clean = text.replace("_", "")
    lowered = clean.lower().lstrip("+-")
    integer = lowered.startswith(("0x", "0o", "0b")) or not any(c in lowered for c in ".e")
    try:
        if integer:
            value = int(clean, 0) if lowered[:2] in ("0x", "0o", "0b") else int(clean, 10)
        else:
            number = float(clean)
    except ValueError:
        raise _error(f'bad number syntax: "{text}"') from None
    if integer:
        if not INT_MIN <= value <= INT_MAX:
            raise _error(f'integer overflow: "{text}"')
        return value
    if not math.isfinite(number):
        raise _error(f'bad number syntax: "{text}"')
    return number


class _Scope:
    """The variables visible while reading (Go refuses an undefined one at parse time)."""

    def __init__(self, template: str = "") -> None:
        self.names: list[str] = ["$"]
        self.template = template

    def byte_pos(self, index: int) -> int:
        """Go's position of a character: its offset in bytes of UTF-8."""
        head = self.template[:index]
        return index if head.isascii() else len(head.encode("utf-8", "surrogatepass"))

    def need(self, name: str) -> None:
        if name not in self.names:
            raise _error(f'undefined variable "{name}"')


def _lex(text: str, base: int) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        match = _TOKEN.match(text, i)
        if match is None or match.end() == i:
            bad = text[i:].strip()[:1]
            raise _error(f"unexpected {bad!r} in command")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind), base + match.start(kind)))
        i = match.end()
    return tokens


class _Reader:
    """Recursive descent over one action's tokens."""

    def __init__(self, tokens: list[tuple[str, str, int]], text: str, pos: int,
                 scope: _Scope) -> None:
        self.tokens = tokens
        self.i = 0
        self.text = text
        self.pos = pos
        self.scope = scope

    def declarations(self, allow_two: bool) -> tuple[list[str], bool]:
        t = self.tokens
        if len(t) >= 2 and t[0][0] == "var" and "." not in t[0][1] and t[1][0] in ("decl",
                                                                                  "assign"):
            self.i = 2
            if t[1][0] == "assign":
                self.scope.need(t[0][1])
            return [t[0][1]], t[1][0] == "assign"
        if (len(t) >= 4 and t[0][0] == "var" and t[1][1] == "," and t[2][0] == "var"
                and t[3][0] == "decl"):
            if not allow_two:
                raise _error("too many declarations in command")
            self.i = 4
            return [t[0][1], t[2][1]], False
        return [], False

    def pipe(self, depth: int) -> Pipe:
        if depth > MAX_DEPTH:
            raise _error("nested too deeply")
        commands: list[list[Operand]] = [[]]
        while self.i < len(self.tokens):
            kind, value, pos = self.tokens[self.i]
            if kind == "punct" and value == ")":
                break
            self.i += 1
            if kind == "punct" and value == "|":
                if not commands[-1]:
                    raise _error("missing command")
                commands.append([])
                continue
            if kind == "punct" and value == "(":
                inner = self.pipe(depth + 1)
                if self.i >= len(self.tokens) or self.tokens[self.i][1] != ")":
                    raise _error("unclosed left paren")
                close = self.tokens[self.i][2]
                self.i += 1
                fields: list[str] = []
                if (self.i < len(self.tokens) and self.tokens[self.i][0] == "field"
                        and self.tokens[self.i][2] == close + 1):
                    fields = [p for p in self.tokens[self.i][1].split(".") if p]
                    self.i += 1
                shown = " | ".join(" ".join(op.text for op in command)
                                   for command in inner.commands)
                commands[-1].append(Operand("pipe", inner, pos,
                                            f"({shown})" + "".join("." + f for f in fields),
                                            fields))
                continue
            commands[-1].append(self._operand(kind, value, pos))
        if not commands[-1]:
            raise _error("missing value for command")
        for command in commands:
            head = command[0]
            if head.kind in ("nil",):
                raise _error("nil is not a command")
        return Pipe(commands, self.pos, self.text)

    def _operand(self, kind: str, value: str, pos: int) -> Operand:
        if kind in ("str", "char"):
            text = _unquote(value)
            if kind == "char":
                if len(text) != 1:
                    raise _error(f"malformed character constant: {value}")
                return Operand("num", ord(text), pos, value)
            return Operand("str", text, pos, value)
        if kind == "raw":
            return Operand("str", value[1:-1], pos, value)
        if kind == "num":
            return Operand("num", _number(value), pos, value)
        if kind == "field":
            return Operand("field", None, pos, value, [p for p in value.split(".") if p])
        if kind == "dot":
            return Operand("field", None, pos, ".", [])
        if kind == "var":
            name, *fields = value.split(".")
            self.scope.need(name)
            return Operand("var", name, pos, value, fields)
        if kind in ("decl", "assign") or kind == "punct":
            raise _error(f"unexpected {value!r} in operand")
        if value in ("true", "false"):
            return Operand("bool", value == "true", pos, value)
        if value == "nil":
            return Operand("nil", None, pos, value)
        if value not in FUNCTIONS and value not in LAZY:
            raise _error(f'function "{value}" not defined')
        return Operand("ident", value, pos, value)


def _read_pipe(text: str, pos: int, depth: int, scope: _Scope, *,
               control: str = "") -> Pipe:
    if not text.strip():
        raise _error(f"missing value for {control or 'command'}")
    tokens = [(kind, value, scope.byte_pos(at)) for kind, value, at in _lex(text, pos)]
    reader = _Reader(tokens, text.strip(), scope.byte_pos(pos), scope)
    decl, assign = reader.declarations(control == "range")
    pipe = reader.pipe(depth + 1)
    if reader.i < len(reader.tokens):
        raise _error(f"unexpected {reader.tokens[reader.i][1]!r} in operand")
    pipe.decl, pipe.assign = decl, assign
    if not assign:
        scope.names.extend(decl)  # visible after the pipe is read (Go's rule)
    return pipe


def parse(fmt: str) -> list[Node]:
    """Read a template into its tree.

    Raises:
        TemplateError: For what Go's ``text/template`` would refuse to parse (and for
            ``define``/``template``/``block``, which a ``--format`` line has no use for).
    """
    if len(fmt) > MAX_TEMPLATE_CHARS:
        raise TemplateError("template: too long", parsing=True)
    root: list[Node] = []
    stack: list[tuple[Node, list[Node], int]] = []
    scope = _Scope(fmt)
    current = root
    last = 0
    trim_next = False
    for match in _ACTION.finditer(fmt):
        text = fmt[last : match.start()]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if match.group(1):
            text = text.rstrip(" \t\r\n")
        if text:
            current.append(Node("text", text=text))
        trim_next = bool(match.group(3))
        last = match.end()
        body = match.group(2).strip(" \t\r\n")
        pos = match.start(2)
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise _error("unclosed comment")
            continue
        word, _, rest = body.partition(" ")
        word, rest = word.strip(), rest.strip()
        if word == "end":
            if not stack:
                raise _error("unexpected {{end}}")
            _node, current, mark = stack.pop()
            del scope.names[mark:]
            continue
        if word == "else":
            if not stack or stack[-1][0].kind not in ("if", "range", "with"):
                raise _error("unexpected {{else}}")
            node, parent, mark = stack[-1]
            current = node.otherwise
            chained = rest.split(" ", 1)[0]
            if chained in ("if", "with") and node.kind in ("if", "with"):
                inner = _control_node(chained, rest[len(chained):], pos, len(stack), scope)
                current.append(inner)
                stack[-1] = (inner, parent, mark)  # one {{end}} closes the whole chain
                current = inner.body
            continue
        if word in ("if", "range", "with"):
            if len(stack) >= MAX_DEPTH:
                raise _error("nested too deeply")
            mark = len(scope.names)
            node = _control_node(word, rest, pos, len(stack), scope)
            current.append(node)
            stack.append((node, current, mark))
            current = node.body
            continue
        if word in ("break", "continue"):
            if not any(n.kind == "range" for n, _, _ in stack):
                raise _error(f"{{{{{word}}}}} outside {{{{range}}}}")
            current.append(Node(word))
            continue
        if word in ("define", "template", "block"):
            raise _error(f"{{{{{word}}}}} is not supported here")
        if not body:
            raise _error("missing value for command")
        current.append(Node("action", pipe=_read_pipe(body, pos, len(stack), scope)))
    tail = fmt[last:]
    if trim_next:
        tail = tail.lstrip(" \t\r\n")
    if "{{" in tail:
        raise _error("unclosed action")
    if tail:
        current.append(Node("text", text=tail))
    if stack:
        raise _error("unexpected EOF")
    return root


def _control_node(word: str, rest: str, pos: int, depth: int, scope: _Scope) -> Node:
    return Node(word, pipe=_read_pipe(rest, pos + len(word) + 1, depth, scope, control=word))


def render(nodes: list[Node], obj: Any, *, limit: int, budget: Budget | None = None,
           fallback: bool = False) -> Rendered:
    """Run a parsed template over ``obj``, stopping at ``limit`` characters.

    Args:
        nodes: The parsed template.
        obj: The value ``.`` starts as.
        limit: The most characters the output may have.
        budget: What the rendering may build and how long it may take (shared by the
            renderings of one line); a fresh one when not given.
        fallback: For ``docker inspect``: when the typed run fails, run again over the
            object as plain JSON data, as the docker CLI retries over the raw map.

    Raises:
        TemplateError: When the template cannot run over this object, or would pass its
            budget; never any other exception.
    """
    return template_run.render(nodes, obj, limit=limit, budget=budget or Budget(),
                               fallback=fallback)
