"""Go's text for numbers and strings: ``strconv.FormatFloat``, ``Quote``, ``QuoteRune``.

What :mod:`bot.sandbox.output.gofmt` prints with. Callers bound precisions before asking.
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Any


def is_print(ch: str) -> bool:
    """Go's ``strconv.IsPrint`` (letters, marks, numbers, punctuation, symbols, space)."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


_PLAIN = re.compile(r"[ !#-\[\]-~]*")
"""Printable ASCII but the double quote and the backslash: quoted as it is."""


def quote(text: str, *, ascii_only: bool = False) -> str:
    """Go's ``strconv.Quote`` (``QuoteToASCII`` with ``ascii_only``)."""
    if _PLAIN.fullmatch(text):
        return '"' + text + '"'
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _CONTROL_ESCAPES:
            out.append(_CONTROL_ESCAPES[ch])
        elif (code < 0x80 or not ascii_only) and is_print(ch) and not 0xD800 <= code < 0xE000:
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_CONTROL_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                    "\t": "\\t", "\v": "\\v"}


def quote_rune(code: int, *, ascii_only: bool) -> str:
    """Go's ``strconv.QuoteRune`` (``QuoteRuneToASCII`` with ``ascii_only``)."""
    ch = chr(code) if 0 <= code <= 0x10FFFF and not 0xD800 <= code < 0xE000 else "\ufffd"
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + quote(ch, ascii_only=ascii_only)[1:-1] + "'"


def can_backquote(text: str) -> bool:
    """Go's ``strconv.CanBackquote``."""
    return all(ch == "\t" or (ch not in {"`", "\ufeff"} and is_print(ch)) for ch in text)


def _float_digits(value: float, prec: int | None) -> tuple[str, int]:
    """The digits and decimal point position of ``|value|`` (shortest when ``prec`` is None)."""
    if prec is None:
        digits_t, exponent = Decimal(repr(abs(value))).as_tuple()[1:]
    else:
        text = f"{abs(value):.{max(prec - 1, 0)}e}"
        mantissa, _, exp = text.partition("e")
        digits_t = tuple(int(c) for c in mantissa.replace(".", ""))
        exponent = int(exp) - len(digits_t) + 1
    digits = "".join(str(d) for d in digits_t).rstrip("0") or "0"
    assert isinstance(exponent, int)  # noqa: S101 - finite floats only reach here
    dp = len("".join(str(d) for d in digits_t)) + exponent
    if digits == "0":
        dp = 1
    return digits, dp


def format_float(value: float, verb: str, prec: int) -> str:
    """Go's ``strconv.FormatFloat`` for verbs ``e E f g G b x X`` (``prec`` -1: shortest)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if verb in "eE":
        if prec < 0:
            digits, dp = _float_digits(value, None)
            text = _fmt_e(digits, dp, len(digits) - 1)
        else:
            text = f"{abs(value):.{prec}e}"
        return sign + (text.upper() if verb == "E" else text)
    if verb == "f":
        if prec < 0:
            digits, dp = _float_digits(value, None)
            return sign + _fmt_f(digits, dp, max(len(digits) - dp, 0))
        return sign + f"{abs(value):.{prec}f}"
    if verb in "gG":
        shortest = prec < 0
        if prec == 0:
            prec = 1
        digits, dp = _float_digits(value, None if shortest else prec)
        if shortest:
            prec = len(digits)
        eprec = 6 if shortest else prec
        exp = dp - 1
        if exp < -4 or exp >= eprec:
            text = _fmt_e(digits, dp, min(prec, len(digits)) - 1)
            return sign + (text.upper() if verb == "G" else text)
        if prec > dp:
            prec = len(digits)
        return sign + _fmt_f(digits, dp, max(prec - dp, 0))
    bits = struct.unpack(">Q", struct.pack(">d", value))[0]
    biased, mant = (bits >> 52) & 0x7FF, bits & ((1 << 52) - 1)
    if biased == 0:
        biased = 1  # denormal
    else:
        mant |= 1 << 52
    exp = biased - 1023
    if verb == "b":
        return f"{sign}{mant}p{exp - 52:+d}"
    return sign + _fmt_x(mant, exp, prec, upper=verb == "X")


def _fmt_x(mant: int, exp: int, prec: int, *, upper: bool) -> str:
    """Go's ``strconv`` ``%x`` of a float: ``0x1.8p+00``, rounded to ``prec`` hex digits."""
    mask = (1 << 64) - 1
    if mant == 0:
        exp = 0
    mant = (mant << 8) & mask
    while mant != 0 and mant & (1 << 60) == 0:
        mant = (mant << 1) & mask
        exp -= 1
    if 0 <= prec < 15:
        shift = prec * 4
        extra = (mant << shift) & ((1 << 60) - 1)
        mant >>= 60 - shift
        if extra | (mant & 1) > 1 << 59:
            mant += 1
        mant = (mant << (60 - shift)) & mask
        if mant & (1 << 61):
            mant >>= 1
            exp += 1
    digits = "0123456789ABCDEF" if upper else "0123456789abcdef"
    out = ["0", "X" if upper else "x", str((mant >> 60) & 1)]
    mant = (mant << 4) & mask
    if prec < 0 and mant:
        out.append(".")
        while mant:
            out.append(digits[(mant >> 60) & 15])
            mant = (mant << 4) & mask
    elif prec > 0:
        out.append(".")
        for _ in range(prec):
            out.append(digits[(mant >> 60) & 15])
            mant = (mant << 4) & mask
    out.append("P" if upper else "p")
    out.append(f"{'-' if exp < 0 else '+'}{abs(exp):02d}")
    return "".join(out)


def sharp_float(num: str, verb: str, prec: int) -> str:
    """Go's ``#`` flag on a float: keep the point, and trailing zeros for ``%g``/``%v``/``%x``.

    ``num`` starts with its sign (``+`` or ``-``).
    """
    digits = (6 if prec == -1 else prec) if verb in "vgGx" else 0
    tail = ""
    body = num
    has_point = saw_nonzero = False
    for i in range(1, len(num)):
        ch = num[i]
        if ch == ".":
            has_point = True
        elif ch in "pP" or (ch in "eE" and verb not in "xX"):
            tail, body = num[i:], num[:i]
            break
        else:
            if ch != "0":
                saw_nonzero = True
            if saw_nonzero:
                digits -= 1
    if not has_point:
        if len(body) == 2 and body[1] == "0":
            digits -= 1
        body += "."
    return body + "0" * max(digits, 0) + tail


def _fmt_e(digits: str, dp: int, frac: int) -> str:
    first = digits[0]
    rest = digits[1:].ljust(frac, "0")[:frac]
    exp = dp - 1 if digits != "0" else 0
    mantissa = first + ("." + rest if frac > 0 else "")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_f(digits: str, dp: int, frac: int) -> str:
    if dp > 0:
        whole = digits[:dp].ljust(dp, "0")
        fraction = digits[dp:]
    else:
        whole = "0"
        fraction = "0" * -dp + digits
    fraction = fraction.ljust(frac, "0")[:frac]
    return whole + ("." + fraction if frac > 0 else "")


def too_large(x: int) -> bool:
    """Go's ``tooLarge``: a width or precision past a million is no number."""
    return not -1_000_000 < x < 1_000_000


def parsenum(s: str, start: int, end: int) -> tuple[int, bool, int]:
    """Go's ``parsenum``: a crazy long number consumes the rest of the format."""
    num, isnum, i = 0, False, start
    while i < end and "0" <= s[i] <= "9":
        if too_large(num):
            return 0, False, end
        num = num * 10 + ord(s[i]) - 48
        isnum = True
        i += 1
    return num, isnum, i


def to_base(value: int, base: int, digits: str) -> str:
    """``value`` (not negative) written in ``base`` with ``digits``."""
    if base == 10:
        return str(value)
    if base == 16:
        text = f"{value:x}"
        return text.upper() if digits[10] == "A" else text
    return f"{value:o}" if base == 8 else f"{value:b}"


def int_from_arg(args: Sequence[Any], n: int) -> tuple[int, bool, int]:
    """Go's ``intFromArg``: a ``*`` width or precision, and the next argument's number."""
    if n >= len(args):
        return 0, False, n
    value = args[n]
    ok = isinstance(value, int) and not isinstance(value, bool)
    num = value if ok else 0
    if too_large(num):
        return 0, False, n + 1
    return num, ok, n + 1


def arg_number(state: dict[str, Any], n: int, fmt: str, i: int,
               count: int) -> tuple[int, int, bool]:
    """Go's ``argNumber``: an explicit ``[n]`` index (``state`` notes reordering)."""
    if i >= len(fmt) or fmt[i] != "[":
        return n, i, False
    state["reordered"] = True
    close = fmt.find("]", i + 1)
    if close < 0 or len(fmt) - i < 3:
        state["good"] = False
        return n, i + 1, False
    index, ok, end = parsenum(fmt, i + 1, close)
    if not ok or end != close:
        state["good"] = False
        return n, close + 1, False
    if 0 <= index - 1 < count:
        return index - 1, close + 1, True
    state["good"] = False
    return n, close + 1, True
