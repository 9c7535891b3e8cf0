"""CommonMark (as the lessons are written) to Slack ``mrkdwn``, and splitting long text.

Slack's ``mrkdwn`` differs from CommonMark: bold is ``*b*``, italics ``_i_``, links
``<url|text>``, there are no headings or tables, and ``&``, ``<``, ``>`` must be
escaped. :func:`to_mrkdwn` converts; :func:`split_mrkdwn` cuts converted text into
pieces that fit a section block (3,000 characters), on paragraph boundaries and never
inside a code fence if it can be helped (a fence that must be split is closed and
reopened).
"""

from __future__ import annotations

import re

SECTION_LIMIT = 3000
"""Most characters Slack accepts in a section block's text."""

FENCE = "```"

_FENCE_LINE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_BOLD_MARK = "\x01"


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _inline(text: str) -> str:
    """Convert one line of prose (no block syntax) to mrkdwn."""
    kept: list[str] = []

    def keep(rendered: str) -> str:
        kept.append(rendered)
        return f"\x00{len(kept) - 1}\x00"

    def label(raw: str) -> str:
        return escape(raw.replace("**", "").replace("|", "/").replace("`", ""))

    text = _CODE_SPAN.sub(lambda m: keep(f"`{escape(m.group(2))}`"), text)
    text = _IMAGE.sub(lambda m: keep(f"<{escape(m.group(2))}|{label(m.group(1) or 'image')}>"),
                      text)
    text = _LINK.sub(lambda m: keep(f"<{escape(m.group(2))}|{label(m.group(1))}>"), text)
    text = _AUTOLINK.sub(lambda m: keep(f"<{escape(m.group(1))}>"), text)
    text = escape(text)
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(1) or m.group(2)}{_BOLD_MARK}", text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    text = text.replace(_BOLD_MARK, "*")
    return _PLACEHOLDER.sub(lambda m: kept[int(m.group(1))], text)


def _plain_cell(cell: str) -> str:
    cell = _CODE_SPAN.sub(lambda m: m.group(2), cell)
    return cell.replace("**", "").replace("__", "").strip()


def _table(rows: list[str]) -> list[str]:
    """A GFM table as an aligned plain-text table inside a code fence."""
    cells = [[_plain_cell(c) for c in row.strip().strip("|").split("|")] for row in rows]
    header, body = cells[0], cells[2:]
    columns = max(len(r) for r in [header, *body])
    grid = [r + [""] * (columns - len(r)) for r in [header, *body]]
    widths = [max(len(r[i]) for r in grid) for i in range(columns)]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    out = [FENCE, escape(line(grid[0])), escape("  ".join("-" * w for w in widths))]
    out.extend(escape(line(r)) for r in grid[1:])
    out.append(FENCE)
    return out


def to_mrkdwn(markdown: str) -> str:
    """Convert CommonMark-ish lesson prose to Slack mrkdwn.

    Handles headings (bold lines), ``**bold**``, ``*italic*``, ``~~strike~~``, links,
    images (as links), bullet lists (``•``), block quotes, rules, fenced code (the
    language tag is dropped) and GFM tables (rendered as an aligned table in a fence).

    Args:
        markdown: The source text.

    Returns:
        Text for a ``mrkdwn`` text object, with ``&``, ``<``, ``>`` escaped.
    """
    lines = markdown.splitlines()
    out: list[str] = []
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE_LINE.match(line):
            in_fence = not in_fence
            out.append(FENCE)
        elif in_fence:
            out.append(escape(line))
        elif (line.lstrip().startswith("|") and i + 1 < len(lines)
              and _TABLE_SEPARATOR.match(lines[i + 1])):
            end = i + 2
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            out.extend(_table(lines[i:end]))
            i = end
            continue
        elif heading := _HEADING.match(line):
            title = heading.group(2).replace("**", "").replace("__", "")
            out.append(f"*{_inline(title)}*" if title else "")
        elif _RULE.match(line):
            out.append("\u2015" * 12)
        elif bullet := _BULLET.match(line):
            out.append(f"{bullet.group(1)}\u2022 {_inline(bullet.group(2))}")
        elif quote := _QUOTE.match(line):
            out.append(f">{_inline(quote.group(1))}" if quote.group(1) else ">")
        else:
            out.append(_inline(line))
        i += 1
    if in_fence:
        out.append(FENCE)
    return "\n".join(out)


def _hard_split(text: str, limit: int) -> list[str]:
    """Cut one over-long line into pieces of at most ``limit``, at spaces where possible."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit)
        if cut <= 0:
            cut = limit
        else:
            cut += 1
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def _split_lines(lines: list[str], limit: int) -> list[str]:
    """Pack lines (joined by newlines) into pieces of at most ``limit`` characters."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        for part in _hard_split(line, limit):
            extra = len(part) + (1 if current else 0)
            if current and size + extra > limit:
                pieces.append("\n".join(current))
                current, size = [], 0
                extra = len(part)
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
    """Split mrkdwn into pieces of at most ``limit`` characters.

    Paragraphs (separated by blank lines) and code fences are kept whole and packed
    greedily. A paragraph longer than the limit is split between lines (a single
    over-long line at a space); a fence longer than the limit is split between its
    lines, each piece closed and reopened with its own fences.

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
        if len(whole) <= limit:
            pieces.append(whole)
        elif is_fence:
            inner = lines[1:-1]
            budget = limit - 2 * len(FENCE) - 2
            pieces.extend(f"{FENCE}\n{chunk}\n{FENCE}" for chunk in _split_lines(inner, budget))
        else:
            pieces.extend(_split_lines(lines, limit))
    packed: list[str] = []
    for piece in pieces:
        if packed and len(packed[-1]) + 2 + len(piece) <= limit:
            packed[-1] = f"{packed[-1]}\n\n{piece}"
        else:
            packed.append(piece)
    return packed


__all__ = ["SECTION_LIMIT", "escape", "split_mrkdwn", "to_mrkdwn"]
