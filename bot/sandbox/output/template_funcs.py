"""The functions of Go templates: Go's built-ins and Docker's, over template values.

:mod:`bot.sandbox.output.templates` reads templates and :mod:`~bot.sandbox.output.template_run`
runs them; this module holds what a template computes with: :data:`FUNCTIONS`, Go's
``text/template`` built-ins (``and or not len index slice print printf println html js
urlquery eq ne lt le gt ge``; ``call`` always fails, as there is nothing to call) and the
docker CLI's (``json split join title lower upper pad truncate``), each as Go and Docker
write it, with Go's types (``len`` counts bytes, ``truncate`` cuts bytes).

Every function takes the rendering's :class:`~bot.sandbox.output.template_values.Budget`
first: what could multiply text (``pad``'s counts, ``join``'s separator) is charged before
it is built, what is linear in its arguments right after.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote_plus

from bot.sandbox.output import gofmt, gonum
from bot.sandbox.output.template_values import (
    INT_MAX,
    INT_MIN,
    NO_VALUE,
    Budget,
    Method,
    Nil,
    Struct,
    TemplateError,
    truthy,
    type_name,
)

Function = Callable[..., Any]

PART_COST = 32
"""What one item of a list a template builds counts for, in characters (a Python object)."""


def _fail(message: str) -> TemplateError:
    return TemplateError(message, parsing=False)


# -- JSON, as Docker's json function writes it ------------------------------------------------


def _json_float(value: float) -> str:
    if math.isinf(value) or math.isnan(value):
        raise _fail(f"error calling json: json: unsupported value: {gonum.format_float(value, 'g', -1)}")
    magnitude = abs(value)
    verb = "e" if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21) else "f"
    text = gonum.format_float(value, verb, -1)
    if verb == "e" and len(text) >= 4 and text[-4] == "e" and text[-3] == "-" \
            and text[-2] == "0":
        text = text[:-2] + text[-1]  # e-07 -> e-7, as encoding/json writes it
    return text


def _json_parts(value: Any, out: list[str], budget: Budget) -> None:
    budget.step()
    if value is None or isinstance(value, Nil):
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_json_float(value))
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        out.append(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    elif isinstance(value, dict):
        in_order = isinstance(value, Struct) and not value.json_sorted
        keys = list(value) if in_order else sorted(value)
        keys = [k for k in keys if not (isinstance(value[k], Nil) and value[k].omit)
                and not isinstance(value[k], Method)]
        out.append("{")
        for i, key in enumerate(keys):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False) + ":")
            _json_parts(value[key], out, budget)
        out.append("}")
    else:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _json_parts(item, out, budget)
        out.append("]")


def go_json(value: Any, budget: Budget | None = None) -> str:
    """Docker's ``json``: compact JSON, struct fields in order, map keys sorted, no HTML escapes."""
    budget = budget or Budget()
    out: list[str] = []
    _json_parts(value, out, budget)
    text = "".join(out)
    budget.charge(len(text))
    return text


# -- argument checks ----------------------------------------------------------------------


def _need(name: str, args: Sequence[Any], count: int) -> None:
    if len(args) != count:
        raise _fail(f"wrong number of args for {name}: want {count} got {len(args)}")


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(f"wrong type for value; expected string; got {type_name(value)}")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(f"wrong type for value; expected int; got {type_name(value)}")
    if not INT_MIN <= value <= INT_MAX:
        raise _fail(f"{value} overflows int")
    return value


def _utf8(text: str, budget: Budget) -> bytes:
    """``text`` as Go holds it (UTF-8 bytes); encoding a long non-ASCII text is charged."""
    if not text.isascii():
        budget.charge(len(text))
    return text.encode("utf-8", "surrogatepass")


def _byte_len(text: str, budget: Budget) -> int:
    return len(text) if text.isascii() else len(_utf8(text, budget))


# -- Go's built-ins -------------------------------------------------------------------------


def _fn_len(budget: Budget, *args: Any) -> int:
    _need("len", args, 1)
    value = args[0]
    if isinstance(value, str):
        return _byte_len(value, budget)
    if isinstance(value, list | tuple | dict) and not isinstance(value, Struct):
        return len(value)
    if isinstance(value, Nil) and value.kind in ("map", "slice"):
        return 0
    if value is None:  # Go's own words for it
        raise _fail("error calling len: reflect: call of reflect.Value.Type on zero Value")
    raise _fail(f"error calling len: len of type {type_name(value)}")


def _fn_index(budget: Budget, *args: Any) -> Any:
    if not args:
        raise _fail("wrong number of args for index: want at least 1 got 0")
    value = args[0]
    for key in args[1:]:
        if isinstance(value, Nil) and value.kind == "map":
            return ""
        if isinstance(value, dict) and not isinstance(value, Struct):
            if not isinstance(key, str):
                raise _fail(f"error calling index: value has type {type_name(key)}; "
                            "should be string")
            if key not in value:
                return "" if all(isinstance(v, str) for v in value.values()) else None
            value = value[key]
        elif isinstance(value, list | tuple | str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise _fail(f"error calling index: cannot index slice/array with type "
                            f"{type_name(key)}")
            length = _byte_len(value, budget) if isinstance(value, str) else len(value)
            if not 0 <= key < length:
                raise _fail(f"error calling index: index out of range: {key}")
            value = _utf8(value, budget)[key] if isinstance(value, str) else value[key]
        elif value is None:
            raise _fail("error calling index: index of untyped nil")
        else:
            raise _fail(f"error calling index: can't index item of type {type_name(value)}")
    return value


def _fn_slice(budget: Budget, *args: Any) -> Any:
    if not args:
        raise _fail("wrong number of args for slice: want at least 1 got 0")
    value, indexes = args[0], args[1:]
    if len(indexes) > 3:
        raise _fail(f"error calling slice: too many slice indexes: {len(indexes)}")
    if isinstance(value, str):
        if len(indexes) == 3:
            raise _fail("error calling slice: cannot 3-index slice a string")
        length = _byte_len(value, budget)
    elif isinstance(value, list | tuple):
        length = len(value)
    elif value is None:
        raise _fail("error calling slice: slice of untyped nil")
    else:
        raise _fail(f"error calling slice: can't slice item of type {type_name(value)}")
    bounds = [0, length, length]
    for i, given in enumerate(indexes):
        if given is None:
            raise _fail("error calling slice: cannot index slice/array with nil")
        if not isinstance(given, int) or isinstance(given, bool):
            raise _fail(f"error calling slice: cannot index slice/array with type "
                        f"{type_name(given)}")
        index = _int(given)
        if not 0 <= index <= length:
            raise _fail(f"error calling slice: index out of range: {index}")
        bounds[i] = index
    if len(indexes) < 3:
        bounds[2] = length
    if bounds[0] > bounds[1]:
        raise _fail(f"error calling slice: invalid slice index: {bounds[0]} > {bounds[1]}")
    if bounds[1] > bounds[2]:
        raise _fail(f"error calling slice: invalid slice index: {bounds[1]} > {bounds[2]}")
    budget.charge((bounds[1] - bounds[0]) * (1 if isinstance(value, str) else PART_COST))
    if isinstance(value, str):
        return _utf8(value, budget)[bounds[0]:bounds[1]].decode("utf-8", "replace")
    return list(value[bounds[0]:bounds[1]])


def _eval_args(args: Sequence[Any], budget: Budget) -> str:
    """Go's ``evalArgs``: one string as it is, else each printable (nil: ``<no value>``)."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return gofmt.sprint([NO_VALUE if a is None else a for a in args], budget)


def _html(budget: Budget, *args: Any) -> str:
    text = _eval_args(args, budget)
    budget.room(6 * len(text))
    out = (text.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")
           .replace(">", "&gt;").replace('"', "&#34;").replace("\0", "\ufffd"))
    budget.charge(len(out))
    return out


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026",
       "=": "\\u003D"}


def _js(budget: Budget, *args: Any) -> str:
    text = _eval_args(args, budget)
    budget.room(10 * len(text))
    out = []
    for ch in text:
        if ch in _JS:
            out.append(_JS[ch])
        elif ch < " ":
            out.append(f"\\u00{ord(ch):02X}")
        elif ord(ch) >= 0x80 and not gonum.is_print(ch):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    result = "".join(out)
    budget.charge(len(result))
    return result


def _urlquery(budget: Budget, *args: Any) -> str:
    text = _eval_args(args, budget)
    budget.room(9 * len(text))
    out = quote_plus(text, safe="~", encoding="utf-8", errors="replace")
    budget.charge(len(out))
    return out


def _call(budget: Budget, *args: Any) -> Any:
    if not args:
        raise _fail("wrong number of args for call: want at least 1 got 0")
    raise _fail(f"error calling call: non-function of type {type_name(args[0])}")


def _compare(name: str) -> Function:
    def basic(value: Any) -> str:
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int):
            return "int"
        if isinstance(value, float):
            return "float"
        if isinstance(value, str):
            return "string"
        if value is None:
            return "nil"
        return "other"

    def test(a: Any, b: Any) -> bool:
        ka, kb = basic(a), basic(b)
        if name in ("eq", "ne"):
            if ka != kb:
                if "nil" in (ka, kb):  # nil equals only nil, and is no error
                    return (ka == kb) == (name == "eq")
                raise _fail(f"error calling {name}: incompatible types for comparison")
            if ka == "other" and (isinstance(a, list | dict) or isinstance(b, list | dict)):
                raise _fail(f"error calling {name}: non-comparable type "
                            f"{gofmt.sprint([a], Budget())}: {type_name(a)}")
            return bool(a == b) == (name == "eq")
        if ka in ("nil", "other") or kb in ("nil", "other"):
            raise _fail(f"error calling {name}: invalid type for comparison")
        if ka != kb:
            raise _fail(f"error calling {name}: incompatible types for comparison")
        if ka in ("bool", "nil", "other"):
            raise _fail(f"error calling {name}: invalid type for comparison")
        return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[name]  # type: ignore[no-any-return]

    def fn(budget: Budget, *args: Any) -> bool:
        budget.charge(sum(len(a) for a in args if isinstance(a, str)))  # comparing reads them
        if name == "eq":
            if len(args) < 2:
                raise _fail(f"wrong number of args for eq: want at least 1 got {len(args)}"
                            if not args else "error calling eq: missing argument for comparison")
            return any(test(args[0], other) for other in args[1:])
        _need(name, args, 2)
        return test(args[0], args[1])

    return fn


# -- Docker's -------------------------------------------------------------------------------


def _fn_json(budget: Budget, *args: Any) -> str:
    _need("json", args, 1)
    return go_json(args[0], budget)


def _fn_split(budget: Budget, *args: Any) -> list[str]:
    _need("split", args, 2)
    text, sep = _string(args[0]), _string(args[1])
    budget.room(PART_COST * (len(text) + 1))  # at most one part a character, each an object
    parts = text.split(sep) if sep else list(text)
    budget.charge(len(text) + PART_COST * len(parts))
    return parts


def _fn_join(budget: Budget, *args: Any) -> str:
    _need("join", args, 2)
    items, sep = args
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        if not isinstance(items, Nil):
            raise _fail(f"can't handle {gofmt.sprint([items], budget)} for arg of type "
                        "[]string")
        items = []
    sep = _string(sep)
    budget.charge(sum(len(i) for i in items) + len(sep) * max(len(items) - 1, 0))
    return sep.join(items)


def _fn_title(budget: Budget, *args: Any) -> str:
    _need("title", args, 1)
    text = _string(args[0])
    budget.charge(3 * len(text))  # a character at a time: dearer than a copy
    out, previous = [], " "
    for ch in text:
        separator = not (previous.isalnum() or previous == "_") if previous.isascii() \
            else previous.isspace()
        out.append(ch.upper() if separator else ch)
        previous = ch
    result = "".join(out)
    budget.charge(len(result))
    return result


def _case(name: str, convert: Callable[[str], str]) -> Function:
    def fn(budget: Budget, *args: Any) -> str:
        _need(name, args, 1)
        text = _string(args[0])
        budget.room(3 * len(text))
        result = convert(text)
        budget.charge(len(result))
        return result
    return fn


def _fn_pad(budget: Budget, *args: Any) -> str:
    _need("pad", args, 3)
    text, left, right = _string(args[0]), _int(args[1]), _int(args[2])
    if not text:
        return text
    if left < 0 or right < 0:
        raise _fail("error calling pad: strings: negative Repeat count")
    budget.charge(left + len(text) + right)  # before the spaces are built
    return " " * left + text + " " * right


def _fn_truncate(budget: Budget, *args: Any) -> str:
    _need("truncate", args, 2)
    text, length = _string(args[0]), _int(args[1])
    budget.charge(len(text))  # Go slices bytes: the text is encoded, then decoded
    data = _utf8(text, budget)
    if len(data) < length:
        return text
    if length < 0:
        raise _fail(f"error calling truncate: runtime error: slice bounds out of range "
                    f"[:{length}]")
    return data[:length].decode("utf-8", "replace")


def _fn_not(budget: Budget, *args: Any) -> bool:
    _need("not", args, 1)
    return not truthy(args[0])


def _fn_printf(budget: Budget, *args: Any) -> str:
    if not args:
        raise _fail("wrong number of args for printf: want at least 1 got 0")
    return gofmt.sprintf(_string(args[0]), args[1:], budget)


FUNCTIONS: dict[str, Function] = {
    "json": _fn_json,
    "index": _fn_index,
    "slice": _fn_slice,
    "len": _fn_len,
    "join": _fn_join,
    "split": _fn_split,
    "lower": _case("lower", str.lower),
    "upper": _case("upper", str.upper),
    "title": _fn_title,
    "truncate": _fn_truncate,
    "pad": _fn_pad,
    "print": lambda budget, *a: gofmt.sprint(a, budget),
    "println": lambda budget, *a: gofmt.sprintln(a, budget),
    "printf": _fn_printf,
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
    "call": _call,
    "not": _fn_not,
    "eq": _compare("eq"),
    "ne": _compare("ne"),
    "lt": _compare("lt"),
    "le": _compare("le"),
    "gt": _compare("gt"),
    "ge": _compare("ge"),
}
"""The template functions by name (``and`` and ``or`` are the runner's: they short-circuit)."""

LAZY = frozenset({"and", "or"})
"""Functions whose arguments are evaluated one at a time, stopping at the answer."""

