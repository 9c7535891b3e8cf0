"""Characters and lengths of Slack ``mrkdwn``: escaping, literal text, code text.

Slack reads markup that CommonMark would show as text (``*x*`` at a word boundary,
``:emoji:``, stray backticks), so everything that is *text* is rendered so that Slack
cannot read it as markup:

* ``&``, ``<``, ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` (so ``<!channel>``,
  ``<@U123>`` and ``<http://x|y>`` are text);
* a ``*``, ``_`` or ``~`` that Slack could take for a delimiter becomes a look-alike
  (U+2217, U+02CD, U+223C), a backtick outside code becomes U+02CB (:data:`GRAVE`),
  and ``:name:`` gets a zero-width space after its first colon (no emoji);
* control characters become their visible pictures (``␀``, ``␛``), CRLF becomes LF.

Code keeps its exact text: inside a fence only runs of backticks are broken with a
zero-width space (so output cannot close the fence; a backtick before a zero-width
space of the text gets one too, so the shown text reads back exactly); inside inline
code a backtick becomes :data:`GRAVE` (Slack inline code cannot hold one).

Lengths are measured as Slack measures them: UTF-16 code units, after escaping.
"""

from __future__ import annotations

import re

FENCE = "```"
ZWSP = "\u200b"
"""Zero-width space: breaks a backtick run or an emoji name without showing."""

GRAVE = "\u02cb"
"""U+02CB, modifier letter grave accent: looks like a backtick but cannot delimit code."""

_LOOKALIKE = {"*": "\u2217", "_": "\u02cd", "~": "\u223c"}
"""Slack delimiters shown as text: asterisk operator, low macron, tilde operator."""

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_EMOJI = re.compile(r":(?=[A-Za-z0-9_+\-']+:)")
_BACKTICK_BREAK = re.compile("`(?=[`\u200b])")
"""A backtick before another one (or before a zero-width space the text already holds)."""
_DELIMITER = re.compile(r"[*_~]")


def slack_len(text: str) -> int:
    """How long Slack counts ``text``: UTF-16 code units (a non-BMP character counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ... ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1 controls, bidi overrides, lone surrogates


def clean(text: str) -> str:
    """Text Slack can carry and show: LF line ends, control characters as pictures.

    CRLF and lone CR become LF; other C0/C1 controls (not tab) become ``␀``-style
    pictures; bidirectional overrides and lone surrogates become ``�``.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub(_picture, text)


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code_text(text: str) -> str:
    """Text for inside a fence: cleaned, escaped, with backtick runs broken (no ``` inside).

    A zero-width space goes after every backtick that is followed by a backtick or by a
    zero-width space of the text itself, so the shown text reads back exactly: drop
    the one zero-width space right after each backtick, then unescape.
    """
    return _BACKTICK_BREAK.sub("`" + ZWSP, escape(clean(text)))


def code_cost(text: str) -> int:
    """``slack_len(code_text(text))`` for already cleaned text, without building it."""
    return (slack_len(text) + 4 * text.count("&") + 3 * (text.count("<") + text.count(">"))
            + len(_BACKTICK_BREAK.findall(text)))


def code_span(text: str) -> str:
    """Inline code showing ``text`` exactly (one line; a backtick shows as :data:`GRAVE`)."""
    inner = escape(clean(text).replace("\n", " ")).replace("`", GRAVE)
    return f"`{inner or ' '}`"


def _can_delimit(text: str, i: int) -> bool:
    """Whether Slack could read the ``*``/``_``/``~`` at ``i`` as opening or closing markup."""
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    opens = not before.isalnum() and not after.isspace()
    closes = not before.isspace() and not after.isalnum()
    return opens or closes


def literal(text: str) -> str:
    """Text shown exactly as typed in Slack mrkdwn (outside code): no markup can form.

    Escapes ``&``, ``<``, ``>``; a ``*``, ``_`` or ``~`` Slack could read as a delimiter
    becomes a look-alike, a backtick becomes :data:`GRAVE`, ``:name:`` gets a zero-width space
    (no emoji), control characters become pictures.
    """
    text = clean(text)
    text = _DELIMITER.sub(
        lambda m: _LOOKALIKE[m.group()] if _can_delimit(text, m.start()) else m.group(), text)
    text = _EMOJI.sub(":" + ZWSP, text.replace("`", GRAVE))
    return escape(text)



__all__ = [
    "FENCE",
    "GRAVE",
    "ZWSP",
    "clean",
    "code_cost",
    "code_span",
    "code_text",
    "escape",
    "literal",
    "slack_len",
]
