"""Safe cuts of Slack ``mrkdwn``: split into pieces or clip to a length.

Lengths are Slack's (UTF-16 code units, after escaping, see
:func:`~handlers.render.mrkdwn.text.slack_len`), and every cut (:func:`split_mrkdwn`,
:func:`clip_mrkdwn`) happens between whole entities and whole ``<...>`` links, closes an
inline code span or a fence it interrupts and reopens it in the next piece.
"""

from __future__ import annotations

import re

from handlers.render.mrkdwn.text import FENCE, slack_len

SECTION_LIMIT = 3000
"""Most characters Slack accepts in a section block's text."""

ELLIPSIS = "\u2026"

_ATOM = re.compile(r"&(?:amp|lt|gt);|<[^<>\n]{1,2000}>|.", re.S)


def safe_cut(text: str, budget: int, *, at_space: bool = True) -> int:
    """The longest prefix ``text[:i]`` of at most ``budget`` (Slack length) to cut at.

    Never inside an entity (``&amp;``) or a ``<...>`` link; at the last space in the
    second half of the budget when ``at_space`` and there is one. Returns 0 only if the
    first character alone is over the budget.
    """
    used = 0
    end = 0
    space = 0
    for match in _ATOM.finditer(text):
        atom = match.group()
        cost = (2 if ord(atom) > 0xFFFF else 1) if len(atom) == 1 else slack_len(atom)
        if used + cost > budget:
            break
        used += cost
        end = match.end()
        if atom == " ":
            space = end
    else:
        return len(text)
    if end == 0 and text and text[0] == "<":  # a link longer than the budget: cut it as text
        return safe_cut(text.replace("<", "\ufffd", 1), budget, at_space=at_space)
    if at_space and space * 2 > end:
        return space
    return end


def _ticks(text: str) -> list[int]:
    """Where the backticks of ``text`` are, those inside a ``<...>`` link or entity aside."""
    return [match.start() for match in _ATOM.finditer(text) if match.group() == "`"]


def _split_line(line: str, limit: int, *, spans: bool = True) -> list[str]:
    """Cut one over-long mrkdwn line into pieces of at most ``limit`` (Slack length).

    With ``spans`` (prose, not fence content) an inline code span that must be cut is
    closed at the end of one piece and reopened at the start of the next (code spans
    made here never contain a backtick). Every turn of the loop leaves a strictly shorter
    rest, so it ends on any input: where keeping a span whole would not move on (a cut
    that lands on the span's backtick, or a link with backticks in it), the line is cut
    plainly there instead.
    """
    pieces: list[str] = []
    while slack_len(line) > limit:
        plain = cut = max(1, safe_cut(line, limit - 1))
        piece, rest = line[:cut], line[cut:]
        ticks = _ticks(piece) if spans else []
        if len(ticks) % 2:
            opening = ticks[-1]
            if opening * 2 > cut or (opening > 0 and cut - opening < 3):
                piece, rest = line[:opening], line[opening:]  # the span moves whole on
            else:
                if line[cut] == "`":  # keep at least one character after the reopening
                    cut -= 1
                piece, rest = line[:cut] + "`", "`" + line[cut:]
        if not piece or len(rest) >= len(line):  # no progress that way: a plain cut
            piece, rest = line[:plain], line[plain:]
        pieces.append(piece)
        line = rest
    pieces.append(line)
    return pieces


def _split_lines(lines: list[str], limit: int, *, spans: bool = True) -> list[str]:
    """Pack lines (joined by newlines) into pieces of at most ``limit`` (Slack length)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        for part in _split_line(line, limit, spans=spans):
            extra = slack_len(part) + (1 if current else 0)
            if current and size + extra > limit:
                pieces.append("\n".join(current))
                current, size = [], 0
                extra = slack_len(part)
            current.append(part)
            size += extra
    if current:
        pieces.append("\n".join(current))
    return pieces


def _units(text: str) -> list[tuple[bool, list[str]]]:
    """Paragraphs and fences of converted text: ``(is_fence, lines)`` in order."""
    units: list[tuple[bool, list[str]]] = []
    paragraph: list[str] = []
    fence: list[str] | None = None
    for line in text.split("\n"):
        if fence is not None:
            fence.append(line)
            if line.strip().startswith(FENCE):
                units.append((True, fence))
                fence = None
        elif line.strip().startswith(FENCE):
            if paragraph:
                units.append((False, paragraph))
                paragraph = []
            fence = [line]
            if line.strip() != FENCE and line.strip().endswith(FENCE) and len(line.strip()) > 3:
                units.append((True, fence))  # a one-line ```code```
                fence = None
        elif not line.strip():
            if paragraph:
                units.append((False, paragraph))
                paragraph = []
        else:
            paragraph.append(line)
    if fence is not None:
        fence.append(FENCE)
        units.append((True, fence))
    if paragraph:
        units.append((False, paragraph))
    return units


def split_mrkdwn(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split mrkdwn into pieces of at most ``limit`` (Slack length, after escaping).

    Paragraphs (separated by blank lines) and code fences are kept whole and packed
    greedily. A paragraph longer than the limit is split between lines (a single
    over-long line at a space, never inside an entity or a link); a fence longer than
    the limit is split between its lines, each piece closed and reopened with its own
    fences.

    Args:
        text: Converted mrkdwn (see :func:`to_mrkdwn`).
        limit: The most characters per piece (at least 16).

    Returns:
        The pieces, in order; empty if ``text`` is blank.
    """
    if limit < 16:
        raise ValueError("limit must be at least 16")
    pieces: list[str] = []
    for is_fence, lines in _units(text):
        whole = "\n".join(lines)
        if slack_len(whole) <= limit:
            pieces.append(whole)
        elif is_fence:
            inner = lines[1:-1]
            budget = limit - 2 * len(FENCE) - 2
            chunks = _split_lines(inner, budget, spans=False)
            pieces.extend(f"{FENCE}\n{chunk}\n{FENCE}" for chunk in chunks)
        else:
            pieces.extend(_split_lines(lines, limit))
    packed: list[str] = []
    for piece in pieces:
        if packed and slack_len(packed[-1]) + 2 + slack_len(piece) <= limit:
            packed[-1] = f"{packed[-1]}\n\n{piece}"
        else:
            packed.append(piece)
    return packed


def clip_mrkdwn(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` (Slack length), else its head and ``…``.

    The cut is at a line end when one is in the last fifth of the budget, else at a
    space; never inside an entity or a link; an interrupted inline code span and an
    open fence are closed.
    """
    if slack_len(text) <= limit:
        return text
    if limit < 16:
        raise ValueError("limit must be at least 16")
    budget = limit - len(FENCE) - 4  # room for "`" or "\n```\n", and "…"
    cut = safe_cut(text, budget)
    newline = text.rfind("\n", 0, cut)
    if newline * 5 > cut * 4:
        cut = newline
    head = text[:cut].rstrip(" ")
    if head.count(FENCE) % 2:  # cut inside a fence: close it
        return f"{head}\n{FENCE}\n{ELLIPSIS}"
    last = head.rsplit("\n", 1)[-1]
    if last.count("`") % 2 and not last.lstrip().startswith(FENCE):  # inside inline code
        head += "`"
    return head + ELLIPSIS


__all__ = ["ELLIPSIS", "SECTION_LIMIT", "clip_mrkdwn", "safe_cut", "split_mrkdwn"]
