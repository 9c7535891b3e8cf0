"""The values and functions of Go templates: how Go prints, Docker's template functions.

:mod:`bot.sandbox.output.templates` reads and runs templates; this module holds what a template
computes with: Go's ``%v`` printing (:func:`go_value`), Docker's ``json``
(:func:`go_json`), ``printf`` (:func:`go_sprintf`), truth, and :data:`FUNCTIONS`.
Nothing here evaluates anything: each function takes plain values and returns one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

NO_VALUE = "<no value>"


class Struct(dict[str, Any]):
    """A dict that stands for a Go struct: printed ``{v1 v2 ...}`` with fields in order."""


class TemplateError(ValueError):
    """A template that cannot be read (``parsing``) or run over the object."""

    def __init__(self, message: str, *, parsing: bool) -> None:
        super().__init__(message)
        self.parsing = parsing


# -- printing, as Go's fmt and encoding/json do ---------------------------------------------


def go_value(value: Any, *, top: bool = True) -> str:
    """``value`` as Go's ``%v`` prints the matching Go value (``<no value>`` for nil)."""
    if value is None:
        return NO_VALUE if top else "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, Struct):
        return "{" + " ".join(go_value(v, top=False) for v in value.values()) + "}"
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_value(value[k], top=False)}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_value(v, top=False) for v in value) + "]"
    return str(value)


def _sorted_maps(value: Any) -> Any:
    if isinstance(value, Struct):
        return {k: _sorted_maps(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {k: _sorted_maps(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted_maps(v) for v in value]
    return value


def go_json(value: Any) -> str:
    """Docker's ``json`` template function: compact JSON, map keys sorted, no HTML escapes."""
    return json.dumps(_sorted_maps(value), separators=(",", ":"), ensure_ascii=False)


def truthy(value: Any) -> bool:
    """Go's template truth: false, 0, nil and empty strings, lists and maps are false."""
    if isinstance(value, Struct):
        return True
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


_VERB = re.compile(r"%([-+ #0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")


def go_sprintf(fmt: str, args: Sequence[Any]) -> str:
    """Go's ``fmt.Sprintf`` for the verbs people use: ``%s %v %d %q %t %x %%`` with widths."""
    out: list[str] = []
    last = 0
    n = 0
    for match in _VERB.finditer(fmt):
        out.append(fmt[last : match.start()])
        last = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if n >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[n]
        n += 1
        if verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
            text = str(arg)
        elif verb == "q" and isinstance(arg, str):
            text = json.dumps(arg, ensure_ascii=False)
        elif verb == "t" and isinstance(arg, bool):
            text = go_value(arg)
        elif verb == "x" and isinstance(arg, str):
            text = arg.encode().hex()
        elif verb in ("s", "v"):
            text = go_value(arg, top=False)
        else:
            text = f"%!{verb}({type_name(arg)}={go_value(arg, top=False)})"
        if precision and verb == "s":
            text = text[: int(precision)]
        if width:
            text = text.ljust(int(width)) if "-" in flags else text.rjust(int(width))
        out.append(text)
    out.append(fmt[last:])
    if n < len(args):
        extra = ", ".join(f"{type_name(a)}={go_value(a, top=False)}" for a in args[n:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def type_name(value: Any) -> str:
    """The Go type a value stands for, as Go's error messages name it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _go_sprint(args: Sequence[Any]) -> str:
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_value(arg, top=False))
    return "".join(out)


def _need(name: str, args: Sequence[Any], count: int) -> None:
    if len(args) != count:
        raise TemplateError(f"wrong number of args for {name}: want {count} got {len(args)}",
                            parsing=False)


def _one(name: str, args: Sequence[Any]) -> bool:
    """Check that a function got one argument (``True``, so it chains with ``and``)."""
    _need(name, args, 1)
    return True


def _fn_len(*args: Any) -> int:
    _need("len", args, 1)
    if isinstance(args[0], str | list | tuple | dict):
        return len(args[0])
    raise TemplateError(f"error calling len: len of type {type_name(args[0])}", parsing=False)


def _fn_index(*args: Any) -> Any:
    if not args:
        raise TemplateError("wrong number of args for index: want at least 1 got 0",
                            parsing=False)
    value = args[0]
    for key in args[1:]:
        if isinstance(value, dict) and isinstance(key, str):
            if key not in value:
                strings = all(isinstance(v, str) for v in value.values())
                return "" if strings else None
            value = value[key]
        elif isinstance(value, list | tuple) and isinstance(key, int):
            if not 0 <= key < len(value):
                raise TemplateError(f"error calling index: index out of range: {key}",
                                    parsing=False)
            value = value[key]
        elif value is None:
            raise TemplateError("error calling index: index of untyped nil", parsing=False)
        else:
            raise TemplateError(f"error calling index: cannot index {type_name(value)} "
                                f"with {type_name(key)}", parsing=False)
    return value


def _fn_join(*args: Any) -> str:
    _need("join", args, 2)
    items, sep = args
    if not isinstance(items, list | tuple) or not isinstance(sep, str):
        raise TemplateError("error calling join: want a list and a separator", parsing=False)
    return sep.join(go_value(i, top=False) for i in items)


def _fn_split(*args: Any) -> list[str]:
    _need("split", args, 2)
    return str(args[0]).split(str(args[1])) if args[1] else list(str(args[0]))


def _one_string(name: str, convert: Callable[[str], str]) -> Callable[..., str]:
    def fn(*args: Any) -> str:
        _need(name, args, 1)
        return convert(go_value(args[0], top=False))
    return fn


def _fn_truncate(*args: Any) -> str:
    _need("truncate", args, 2)
    text, size = go_value(args[0], top=False), args[1]
    return text[:size] if isinstance(size, int) else text


def _fn_pad(*args: Any) -> str:
    _need("pad", args, 3)
    text, left, right = go_value(args[0], top=False), args[1], args[2]
    return " " * int(left) + text + " " * int(right)


def _compare(name: str, test: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def fn(*args: Any) -> bool:
        if len(args) < 2:
            raise TemplateError(f"wrong number of args for {name}: want 2 got {len(args)}",
                                parsing=False)
        try:
            if name == "eq":
                return any(test(args[0], other) for other in args[1:])
            return test(args[0], args[1])
        except TypeError:
            raise TemplateError(f"error calling {name}: incompatible types for comparison",
                                parsing=False) from None
    return fn


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": lambda *a: _one("json", a) and go_json(a[0]),
    "index": _fn_index,
    "len": _fn_len,
    "join": _fn_join,
    "split": _fn_split,
    "lower": _one_string("lower", str.lower),
    "upper": _one_string("upper", str.upper),
    "title": _one_string("title", lambda s: re.sub(r"\b[a-z]", lambda m: m.group().upper(), s)),
    "truncate": _fn_truncate,
    "pad": _fn_pad,
    "print": lambda *a: _go_sprint(a),
    "println": lambda *a: " ".join(go_value(x, top=False) for x in a) + "\n",
    "printf": lambda *a: go_sprintf(str(a[0]), a[1:]) if a else "",
    "not": lambda *a: _one("not", a) and not truthy(a[0]),
    "and": lambda *a: next((x for x in a if not truthy(x)), a[-1] if a else None),
    "or": lambda *a: next((x for x in a if truthy(x)), a[-1] if a else None),
    "eq": _compare("eq", lambda x, y: x == y),
    "ne": _compare("ne", lambda x, y: x != y),
    "lt": _compare("lt", lambda x, y: x < y),
    "le": _compare("le", lambda x, y: x <= y),
    "gt": _compare("gt", lambda x, y: x > y),
    "ge": _compare("ge", lambda x, y: x >= y),
}
"""The template functions: Go's built-ins and Docker's own (``json``, ``join``, ``lower``...)."""
