"""CommonMark (as the lessons are written) to Slack ``mrkdwn``.

Slack's ``mrkdwn`` differs from CommonMark: bold is ``*b*``, italics ``_i_``, links
``<url|text>``, there are no headings or tables, and ``&``, ``<``, ``>`` must be
escaped. Lesson prose (:func:`to_mrkdwn`) keeps its headings, lists, quotes, fences,
tables and links as the closest Slack markup; tutor messages (:func:`message_mrkdwn`)
take only inline code, emphasis and bullets. Everything else is text, shown so that
Slack cannot read it as markup (:func:`~handlers.mrkdwn.text.literal`).
"""

from __future__ import annotations

import re
import string

from handlers.mrkdwn.text import FENCE, GRAVE, ZWSP, clean, code_span, code_text, escape, literal

_FENCE_LINE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
_SAFE_URL = re.compile(r"^(?:https?://|mailto:)[^\s<>|`]+$")
_ASCII_PUNCT = frozenset(string.punctuation)
_SPECIAL = re.compile(r"[\\`]")
_SPECIAL_LINKS = re.compile(r"[\\`!\[<]")

# Placeholders of the inline renderer (private-use characters; learner text cannot
# contain them because :func:`_inline` replaces them first).
_HOLE_OPEN, _HOLE_CLOSE = "\ue000", "\ue001"
_MARK = {"\ue002": "*", "\ue003": "_", "\ue004": "~"}
_BOLD_MARK, _ITALIC_MARK, _STRIKE_MARK = "\ue002", "\ue003", "\ue004"
_HOLE = re.compile("\ue000(\\d+)\ue001")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|(?<![^\W_])__(?=\S)(.+?)(?<=\S)__(?![^\W_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_ITALIC_LOW = re.compile(r"(?<![^\W_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![^\W_])")


def _backtick_run(text: str, i: int) -> int:
    end = i
    while end < len(text) and text[end] == "`":
        end += 1
    return end - i


def _closing_run(text: str, start: int, size: int) -> int:
    """Index of the next backtick run of exactly ``size`` from ``start``, or -1."""
    i = start
    while (i := text.find("`", i)) != -1:
        run = _backtick_run(text, i)
        if run == size:
            return i
        i += run
    return -1


def _link(match: re.Match[str]) -> str | None:
    bang, label, url = match.groups()
    if not _SAFE_URL.match(url):
        return None
    shown = label.replace("**", "").replace("`", "").replace("|", "/") or ("image" if bang
                                                                            else url)
    return f"<{escape(url)}|{literal(shown)}>"


def _inline(text: str, *, links: bool) -> str:
    """One line of CommonMark inline syntax as mrkdwn.

    Code spans follow CommonMark (a run of N backticks closes only at a run of exactly
    N), backslash escapes make punctuation literal, ``[text](url)``, images and
    ``<url>`` become Slack links only when ``links`` is true and the URL is http(s) or
    mailto, and ``**b**``, ``*i*``, ``_i_``, ``~~s~~`` become Slack emphasis. Anything
    else is text (see :func:`literal`).
    """
    text = text.replace(_HOLE_OPEN, "\ufffd").replace(_HOLE_CLOSE, "\ufffd")
    for mark in _MARK:
        text = text.replace(mark, "\ufffd")
    kept: list[str] = []
    out: list[str] = []

    def hole(rendered: str) -> None:
        kept.append(rendered)
        out.append(f"{_HOLE_OPEN}{len(kept) - 1}{_HOLE_CLOSE}")

    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _ASCII_PUNCT:
            hole(literal(text[i + 1]))
            i += 2
        elif char == "`":
            run = _backtick_run(text, i)
            close = _closing_run(text, i + run, run)
            if close == -1:
                hole(GRAVE * run)
                i += run
                continue
            content = text[i + run:close]
            if len(content) > 2 and content[0] == content[-1] == " " and content.strip():
                content = content[1:-1]
            hole(code_span(content))
            i = close + run
        elif links and char in "![" and (match := _LINK.match(text, i)) and (
                rendered := _link(match)) is not None:
            hole(rendered)
            i = match.end()
        elif links and char == "<" and (match := _AUTOLINK.match(text, i)):
            hole(f"<{escape(match.group(1))}>")
            i = match.end()
        else:
            special = (_SPECIAL_LINKS if links else _SPECIAL).search(text, i + 1)
            end = special.start() if special else len(text)
            out.append(text[i:end])
            i = end
    line = "".join(out)
    line = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(1) or m.group(2)}{_BOLD_MARK}", line)
    line = _STRIKE.sub(rf"{_STRIKE_MARK}\1{_STRIKE_MARK}", line)
    line = _ITALIC_STAR.sub(rf"{_ITALIC_MARK}\1{_ITALIC_MARK}", line)
    line = _ITALIC_LOW.sub(rf"{_ITALIC_MARK}\1{_ITALIC_MARK}", line)
    line = literal(line)
    for mark, markup in _MARK.items():
        line = line.replace(mark, markup)
    line = _HOLE.sub(lambda m: kept[int(m.group(1))], line)
    if line.startswith("&gt;"):
        line = ZWSP + line  # not a block quote
    return line


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

    out = [FENCE, code_text(line(grid[0])), code_text("  ".join("-" * w for w in widths))]
    out.extend(code_text(line(r)) for r in grid[1:])
    out.append(FENCE)
    return out


def to_mrkdwn(markdown: str) -> str:
    """Convert CommonMark-ish lesson prose to Slack mrkdwn.

    Handles headings (bold lines), ``**bold**``, ``*italic*``, ``~~strike~~``, links,
    images (as links), bullet lists (``•``), block quotes, rules, fenced code (the
    language tag is dropped) and GFM tables (rendered as an aligned table in a fence).
    Text that is not markup stays text in Slack (see :func:`literal`).

    Args:
        markdown: The source text.

    Returns:
        Text for a ``mrkdwn`` text object, escaped, with every fence closed.
    """
    lines = clean(markdown).split("\n")
    out: list[str] = []
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE_LINE.match(line):
            in_fence = not in_fence
            out.append(FENCE)
        elif in_fence:
            out.append(code_text(line))
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
            out.append(f"*{_inline(title, links=True)}*" if title else "")
        elif _RULE.match(line):
            out.append("\u2015" * 12)
        elif bullet := _BULLET.match(line):
            out.append(f"{bullet.group(1)}\u2022 {_inline(bullet.group(2), links=True)}")
        elif quote := _QUOTE.match(line):
            # Slack reads an escaped ">" at a line start as a quote (as its own API gives them)
            out.append(f"&gt;{_inline(quote.group(1), links=True)}")
        else:
            out.append(_inline(line, links=True))
        i += 1
    if in_fence:
        out.append(FENCE)
    return "\n".join(out)


def message_mrkdwn(text: str) -> str:
    """A tutor message (notice, hint, refusal, context line) as mrkdwn.

    Tutor messages quote what a learner typed, so they take only inline code,
    emphasis and ``-`` bullets: no links, images, headings, quotes or fences. A
    ``[label](url)`` in a message is text.
    """
    out = []
    for line in clean(text).split("\n"):
        if bullet := _BULLET.match(line):
            out.append(f"{bullet.group(1)}\u2022 {_inline(bullet.group(2), links=False)}")
        else:
            out.append(_inline(line, links=False))
    return "\n".join(out)


__all__ = ["message_mrkdwn", "to_mrkdwn"]
