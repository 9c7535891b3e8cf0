"""Go's ``fmt`` printing (``Sprintf``, ``Sprint``, ``Sprintln``) over template values, bounded.

A port of the parts of Go's ``fmt/print.go`` and ``fmt/format.go`` a template reaches:
every verb (``%v %+v %#v %T %t %d %b %o %O %x %X %c %q %U %e %E %f %F %g %G %s %p``),
every flag (``+ - # 0`` and space), widths and precisions (also ``*`` and ``%[n]d``),
and Go's own complaints (``%!d(string=x)``, ``%!s(MISSING)``, ``%!(EXTRA ...)``,
``%!(NOVERB)``). Like Go, a width or precision of eight digits or more is no number.

Every piece is charged to the rendering's :class:`~bot.sandbox.output.template_values.Budget`
before it is written; padding before it is built. ``%999999s`` is refused, never built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.sandbox.output.gonum import (
    arg_number,
    can_backquote,
    format_float,
    int_from_arg,
    is_print,
    parsenum,
    quote,
    quote_rune,
    sharp_float,
    to_base,
)
from bot.sandbox.output.template_values import (
    NO_VALUE,
    Budget,
    Method,
    Nil,
    Struct,
    type_name,
)

_FAKE_POINTER = "0xc000010000"
"""What a pointer inside a value prints as (Go prints an address; the tutor has none)."""


class _Printer:
    """One ``Sprintf``'s state: the flags of the current verb and the text so far."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.out: list[str] = []
        self.clear()

    def clear(self) -> None:
        self.plus = self.minus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid = self.prec = 0
        self.wid_present = self.prec_present = False

    def write(self, text: str) -> None:
        self.budget.charge(len(text))
        self.out.append(text)

    def padding(self, count: int) -> None:
        if count <= 0:
            return
        self.budget.charge(count)  # before the padding is built
        self.out.append(("0" if self.zero and not self.minus else " ") * count)

    def pad(self, text: str) -> None:
        if not self.wid_present or self.wid == 0:
            self.write(text)
            return
        if self.minus:
            self.write(text)
            self.padding(self.wid - len(text))
        else:
            self.padding(self.wid - len(text))
            self.write(text)

    # -- the kinds ------------------------------------------------------------------------

    def fmt_bool(self, value: bool, verb: str) -> None:
        if verb in "tv":
            self.pad("true" if value else "false")
        else:
            self.bad_verb(verb, value)

    def fmt_integer(self, value: int, verb: str) -> None:
        if verb in "vd":
            self.integer(value, 10, verb, "0123456789abcdefx")
        elif verb == "b":
            self.integer(value, 2, verb, "0123456789abcdefx")
        elif verb in "oO":
            self.integer(value, 8, verb, "0123456789abcdefx")
        elif verb == "x":
            self.integer(value, 16, verb, "0123456789abcdefx")
        elif verb == "X":
            self.integer(value, 16, verb, "0123456789ABCDEFX")
        elif verb == "c":
            self.pad(chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value < 0xE000
                     else "\ufffd")
        elif verb == "q":
            self.pad(quote_rune(value, ascii_only=self.plus))
        elif verb == "U":
            self.unicode(value)
        else:
            self.bad_verb(verb, value)

    def integer(self, value: int, base: int, verb: str, digits: str) -> None:
        negative = value < 0
        magnitude = -value if negative else value
        if self.wid_present or self.prec_present:
            self.budget.room(3 + self.wid + self.prec)
        prec = 0
        if self.prec_present:
            prec = self.prec
            if prec == 0 and magnitude == 0:
                zero, self.zero = self.zero, False
                self.padding(self.wid)
                self.zero = zero
                return
        elif self.zero and not self.minus and self.wid_present:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        text = to_base(magnitude, base, digits)
        if prec > len(text):
            text = "0" * (prec - len(text)) + text
        if self.sharp:
            if base == 2:
                text = "0b" + text
            elif base == 8 and not text.startswith("0"):
                text = "0" + text
            elif base == 16:
                text = "0" + digits[16] + text
        if verb == "O":
            text = "0o" + text
        if negative:
            text = "-" + text
        elif self.plus:
            text = "+" + text
        elif self.space:
            text = " " + text
        zero, self.zero = self.zero, False
        self.pad(text)
        self.zero = zero

    def unicode(self, value: int) -> None:
        prec = max(4, self.prec if self.prec_present else 0)
        self.budget.room(prec + 16)
        text = "U+" + f"{value & 0xFFFFFFFFFFFFFFFF:X}".rjust(prec, "0")
        if self.sharp and 0 <= value <= 0x10FFFF and is_print(chr(value)):
            text += f" '{chr(value)}'"
        zero, self.zero = self.zero, False
        self.pad(text)
        self.zero = zero

    def fmt_float(self, value: float, verb: str) -> None:
        if verb not in "vbgGxXfFeE":
            self.bad_verb(verb, value)
            return
        prec = -1 if verb in "vbgGxX" else 6
        if self.prec_present:
            prec = self.prec
        self.budget.room(abs(prec) + 330 + self.wid)  # before the digits are built
        go_verb = {"v": "g", "F": "f"}.get(verb, verb)
        num = format_float(value, go_verb, prec)
        if num[0] not in "+-":
            num = "+" + num
        if self.sharp and go_verb != "b" and num[1] not in "IN":
            num = sharp_float(num, go_verb, prec)
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            zero, self.zero = self.zero, False
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad(num)
            self.zero = zero
            return
        if self.plus or num[0] != "+":
            if self.zero and not self.minus and self.wid_present and self.wid > len(num):
                self.write(num[0])
                self.padding(self.wid - len(num))
                self.write(num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    def fmt_string(self, value: str, verb: str) -> None:
        if verb == "v" and self.sharp_v:
            self.pad(quote(value))
        elif verb in "vs":
            self.pad(self.truncate(value))
        elif verb in "xX":
            if self.prec_present:
                value = value[: self.prec]  # at least as many bytes as the precision keeps
            self.budget.charge(len(value))  # encoding reads every character
            self.hex_string(value.encode("utf-8", "replace"), verb)
        elif verb == "q":
            value = self.truncate(value)
            self.budget.charge(len(value))  # quoting reads every character
            if self.sharp and can_backquote(value):
                self.pad("`" + value + "`")
            else:
                self.pad(quote(value, ascii_only=self.plus))
        else:
            self.bad_verb(verb, value)

    def truncate(self, value: str) -> str:
        if self.prec_present and self.prec < len(value):
            return value[: self.prec]
        return value

    def hex_string(self, data: bytes, verb: str) -> None:
        digits = "0123456789abcdefx" if verb == "x" else "0123456789ABCDEFX"
        length = len(data)
        if self.prec_present and self.prec < length:
            length = self.prec
        width = 2 * length
        if width <= 0:
            if self.wid_present:
                self.padding(self.wid)
            return
        if self.space:
            width = width * (2 if self.sharp else 1) + length - 1
        elif self.sharp:
            width += 2
        self.budget.room(width + self.wid)
        if self.wid_present and self.wid > width and not self.minus:
            self.padding(self.wid - width)
        parts = []
        prefix = "0" + digits[16] if self.sharp else ""
        for i in range(length):
            item = digits[data[i] >> 4] + digits[data[i] & 15]
            if self.space:
                parts.append(prefix + item)
            else:
                parts.append(item)
        self.write((" " if self.space else "").join(parts) if self.space
                   else prefix + "".join(parts))
        if self.wid_present and self.wid > width and self.minus:
            self.padding(self.wid - width)

    def bad_verb(self, verb: str, value: Any) -> None:
        self.write("%!" + verb + "(")
        if value is None:
            self.write("<nil>")
        else:
            self.write(type_name(value) + "=")
            self.print_arg(value, "v", depth=1)
        self.write(")")

    # -- dispatch -------------------------------------------------------------------------

    def print_arg(self, value: Any, verb: str, depth: int = 0) -> None:
        self.budget.step()
        if value is None:
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, None)
            return
        if verb == "T":
            self.pad(self.truncate(type_name(value)))
            return
        if verb == "p":
            if isinstance(value, list | dict | Struct):
                self.pad(_FAKE_POINTER)
            else:
                self.bad_verb(verb, value)
            return
        if isinstance(value, bool):
            self.fmt_bool(value, verb)
        elif isinstance(value, int):
            self.fmt_integer(value, verb)
        elif isinstance(value, float):
            self.fmt_float(value, verb)
        elif isinstance(value, str):
            self.fmt_string(value, verb)
        elif isinstance(value, Nil):
            self.nil(value, verb, depth)
        elif isinstance(value, Struct):
            self.struct(value, verb, depth)
        elif isinstance(value, dict):
            self.write("map[")
            for i, key in enumerate(sorted(value)):
                if i:
                    self.write(" ")
                self.print_arg(key, verb, depth + 1)
                self.write(":")
                self.print_arg(value[key], verb, depth + 1)
            self.write("]")
        elif isinstance(value, list | tuple):
            self.write("[")
            for i, item in enumerate(value):
                if i:
                    self.write(" ")
                self.print_arg(item, verb, depth + 1)
            self.write("]")
        else:
            self.bad_verb(verb, None)

    def nil(self, value: Nil, verb: str, depth: int) -> None:
        if value.kind == "map":
            self.write("map[]")
        elif value.kind == "slice":
            self.write("[]")
        elif verb in "vs" or depth:
            self.pad("<nil>")
        else:
            self.fmt_integer(0, verb)

    def struct(self, value: Struct, verb: str, depth: int) -> None:
        if value.pointer:
            if depth:
                self.pad(_FAKE_POINTER)
                return
            self.write("&")
        self.write("{")
        fields = [(k, v) for k, v in value.items() if not isinstance(v, Method)]
        for i, (name, item) in enumerate(fields):
            if i:
                self.write(" ")
            if self.plus_v:
                self.write(name + ":")
            if item is None:
                self.write("<nil>")
            else:
                self.print_arg(item, verb, depth + 1)
        self.write("}")


def sprintf(fmt: str, args: Sequence[Any], budget: Budget) -> str:
    """Go's ``fmt.Sprintf(fmt, args...)``, every piece charged to ``budget``.

    Raises:
        TemplateError: The text would pass the budget (a huge width, say).
    """
    p = _Printer(budget)
    state: dict[str, Any] = {"reordered": False, "good": True}
    end, i, n = len(fmt), 0, 0
    after_index = False
    while i < end:
        state["good"] = True
        start = i
        while i < end and fmt[i] != "%":
            i += 1
        if i > start:
            p.write(fmt[start:i])
        if i >= end:
            break
        i += 1
        p.clear()
        while i < end and fmt[i] in "#0+- ":
            c = fmt[i]
            if c == "#":
                p.sharp = True
            elif c == "0":
                p.zero = not p.minus
            elif c == "+":
                p.plus = True
            elif c == "-":
                p.minus, p.zero = True, False
            else:
                p.space = True
            i += 1
        n, i, after_index = arg_number(state, n, fmt, i, len(args))
        if i < end and fmt[i] == "*":
            i += 1
            p.wid, p.wid_present, n = int_from_arg(args, n)
            if not p.wid_present:
                p.write("%!(BADWIDTH)")
            if p.wid < 0:
                p.wid, p.minus, p.zero = -p.wid, True, False
            after_index = False
        else:
            p.wid, p.wid_present, i = parsenum(fmt, i, end)
            if after_index and p.wid_present:
                state["good"] = False
        if i + 1 < end and fmt[i] == ".":
            i += 1
            if after_index:
                state["good"] = False
            n, i, after_index = arg_number(state, n, fmt, i, len(args))
            if i < end and fmt[i] == "*":
                i += 1
                p.prec, p.prec_present, n = int_from_arg(args, n)
                if p.prec < 0:
                    p.prec, p.prec_present = 0, False
                if not p.prec_present:
                    p.write("%!(BADPREC)")
                after_index = False
            else:
                p.prec, p.prec_present, i = parsenum(fmt, i, end)
                if not p.prec_present:
                    p.prec, p.prec_present = 0, True
        if not after_index:
            n, i, after_index = arg_number(state, n, fmt, i, len(args))
        if i >= end:
            p.write("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            p.write("%")
        elif not state["good"]:
            p.write(f"%!{verb}(BADINDEX)")
        elif n >= len(args):
            p.write(f"%!{verb}(MISSING)")
        else:
            if verb == "v":
                p.sharp_v, p.sharp = p.sharp, False
                p.plus_v, p.plus = p.plus, False
            p.print_arg(args[n], verb)
            n += 1
    if not state["reordered"] and n < len(args):
        p.clear()
        p.write("%!(EXTRA ")
        for k, arg in enumerate(args[n:]):
            if k:
                p.write(", ")
            if arg is None:
                p.write("<nil>")
            else:
                p.write(type_name(arg) + "=")
                p.print_arg(arg, "v")
        p.write(")")
    return "".join(p.out)


def sprint(args: Sequence[Any], budget: Budget) -> str:
    """Go's ``fmt.Sprint``: a space between operands when neither is a string."""
    p = _Printer(budget)
    for k, arg in enumerate(args):
        if k and not isinstance(arg, str) and not isinstance(args[k - 1], str):
            p.write(" ")
        p.print_arg(arg, "v")
    return "".join(p.out)


def sprintln(args: Sequence[Any], budget: Budget) -> str:
    """Go's ``fmt.Sprintln``: operands always spaced, then a newline."""
    p = _Printer(budget)
    for k, arg in enumerate(args):
        if k:
            p.write(" ")
        p.print_arg(arg, "v")
    p.write("\n")
    return "".join(p.out)


def printable(value: Any, budget: Budget) -> str:
    """What ``{{pipeline}}`` prints: ``<no value>`` for nil, a top-level pointer followed."""
    if value is None:
        return NO_VALUE
    if isinstance(value, Struct) and value.pointer:
        plain = Struct(value).typed(value.go_type)
        return sprint([plain], budget)
    return sprint([value], budget)
