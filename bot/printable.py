"""Learner text made safe to show, log and store, whatever characters it holds.

A learner controls every character of what they type, and the console may hand the
tutor lines with bytes that are not UTF-8 (decoded with ``surrogateescape`` into lone
surrogates, which no strict encoder accepts). Terminal escape sequences (``ESC [``,
C1 controls) and bidirectional overrides could rewrite an instructor's terminal. Every
piece of learner text that goes to a log, the database or a terminal passes through
:func:`printable` first.
"""

from __future__ import annotations

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Characters that reorder text on screen ("Trojan Source"); shown escaped."""

_KEEP = frozenset("\n\t")


def unsafe_char(ch: str) -> bool:
    """Whether ``ch`` may not reach a terminal or an encoder as it is.

    True for C0 and C1 control characters other than newline and tab (``ESC``, ``NUL``,
    ``CR``, ``DEL``, ``U+0080``-``U+009F``), lone surrogates (invalid UTF-8 read with
    ``surrogateescape``), non-characters ``U+FFFE``/``U+FFFF`` and bidirectional
    controls.
    """
    if ch in _KEEP:
        return False
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF:
        return True
    return ch in BIDI_CONTROLS or (code & 0xFFFE) == 0xFFFE


def describe_char(ch: str) -> str:
    """A printable name for one character: ``0x1b``, ``U+202E``, or a byte that was not UTF-8."""
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"the byte \\x{code - 0xDC00:02x} (not UTF-8)"
    if code < 0x100:
        return f"{code:#04x}"
    return f"U+{code:04X}"


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # one byte of invalid UTF-8, as surrogateescape read it
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def printable(text: str, limit: int | None = None) -> str:
    r"""``text`` with every unsafe character written as an escape, always valid UTF-8.

    Newlines and tabs stay; ``ESC`` becomes ``\x1b``, a byte read with
    ``surrogateescape`` becomes ``\xff``, any other lone surrogate ``\udXXX``, a
    bidirectional override ``\u202e``. Safe for a log line, a database column and an
    instructor's terminal.

    Args:
        text: Any string, including lone surrogates.
        limit: Cut the result to this many characters (with ``…``) when given.

    Returns:
        Text that ``str.encode("utf-8")`` accepts and that holds no control character
        other than newline and tab.
    """
    if not any(unsafe_char(ch) for ch in text):
        out = text
    else:
        out = "".join(_escape(ch) if unsafe_char(ch) else ch for ch in text)
    if limit is not None and len(out) > limit:
        out = out[: max(0, limit - 1)] + "\u2026"
    return out


def first_unsafe(text: str) -> str | None:
    """The first character of ``text`` that :func:`unsafe_char` flags, or ``None``."""
    return next((ch for ch in text if unsafe_char(ch)), None)


def one_line(text: str, limit: int = 60) -> str:
    """``text`` for quoting inside a one-line message, cut to ``limit`` characters.

    As :func:`printable`, with newlines and tabs escaped too.
    """
    return printable(text.replace("\n", "\\n").replace("\t", "\\t"), limit)
