"""Lesson prose and tutor messages as Slack ``mrkdwn``, rendered from the shared reading.

The text is read once by :mod:`bot.markdown` (the same reading the terminal renders);
this module only writes its blocks and spans in Slack's syntax. Slack's ``mrkdwn``
differs from CommonMark: bold is ``*b*``, italics ``_i_``, strikethrough ``~s~``, links
``<url|text>``, there are no headings or tables, and ``&``, ``<``, ``>`` must be
escaped. Lesson prose (:func:`to_mrkdwn`) keeps its headings (bold lines), lists, quotes,
rules, fences, tables (aligned text in a fence) and links as the closest Slack markup;
tutor messages (:func:`message_mrkdwn`) take only inline code, emphasis and lists.
Everything else is text, shown so that Slack cannot read it as markup
(:func:`~handlers.render.mrkdwn.text.literal`).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.markdown import Block, Kind, Span, plain, read_message, read_prose
from handlers.render.mrkdwn.text import FENCE, ZWSP, clean, code_span, code_text, escape, literal

RULE = "\u2015" * 12
"""How a thematic break (``---``) is shown."""

_MARKS = (("strong", "*"), ("emphasis", "_"), ("strike", "~"))
"""Slack's emphasis markers, outermost first."""


def _span_text(span: Span) -> str:
    if span.code:
        return code_span(span.text)
    if span.link is not None:
        label = span.text.replace("|", "/") or span.link
        return f"<{escape(span.link)}|{literal(label)}>"
    return literal(span.text)


def inline_mrkdwn(line: Sequence[Span]) -> str:
    """One line of spans as mrkdwn: markers opened and closed as the marking changes."""
    out: list[str] = []
    open_marks: list[tuple[str, str]] = []
    for span in line:
        wanted = [(name, mark) for name, mark in _MARKS if getattr(span, name)]
        keep = 0
        while keep < len(open_marks) and keep < len(wanted) and open_marks[keep] == wanted[keep]:
            keep += 1
        out.extend(mark for _, mark in reversed(open_marks[keep:]))
        out.extend(mark for _, mark in wanted[keep:])
        open_marks = wanted
        out.append(_span_text(span))
    out.extend(mark for _, mark in reversed(open_marks))
    text = "".join(out)
    return ZWSP + text if text.startswith("&gt;") else text  # not a block quote


def _table(rows: Sequence[Sequence[Sequence[Span]]]) -> list[str]:
    """A table as aligned plain text inside a code fence (Slack has no tables)."""
    cells = [[plain(cell).strip() for cell in row] for row in rows]
    columns = max(len(row) for row in cells)
    grid = [row + [""] * (columns - len(row)) for row in cells]
    widths = [max(len(row[i]) for row in grid) for i in range(columns)]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    out = [FENCE, code_text(line(grid[0])), code_text("  ".join("-" * w for w in widths))]
    out.extend(code_text(line(row)) for row in grid[1:])
    out.append(FENCE)
    return out


def _block(block: Block) -> list[str]:
    """One block as mrkdwn lines."""
    indent = "  " * block.depth
    if block.kind == Kind.CODE:
        return [FENCE, *(code_text(line) for line in block.code.split("\n")), FENCE]
    if block.kind == Kind.TABLE:
        return _table(block.rows)
    if block.kind == Kind.RULE:
        return [RULE]
    lines = [inline_mrkdwn(line) for line in block.lines]
    if block.kind == Kind.QUOTE:
        # Slack reads an escaped ">" at a line start as a quote (as its own API gives them)
        return [f"&gt;{line}" for line in lines]
    if block.kind == Kind.ITEM:
        hang = indent + " " * (len(block.marker) + 1)
        return [f"{indent}{block.marker} {lines[0]}".rstrip(), *(hang + line for line in lines[1:])]
    return [indent + line if line else line for line in lines]


def render_blocks(blocks: Sequence[Block]) -> str:
    """Blocks as mrkdwn, a blank line wherever the source had one."""
    out: list[str] = []
    for block in blocks:
        if block.gap and out:
            out.append("")
        out.extend(_block(block))
    return "\n".join(out)


def to_mrkdwn(markdown: str) -> str:
    """Lesson prose (CommonMark with GFM tables) as Slack mrkdwn.

    Headings become bold lines, ``**bold**`` ``*b*``, ``*italic*`` ``_i_``,
    ``~~strike~~`` ``~s~``, links and images ``<url|text>`` (http(s) and mailto only),
    list items ``•`` or their number, block quotes ``>`` lines, rules a line, fenced code
    a fence (the language tag dropped) and tables aligned text in a fence. Text that is
    not markup stays text in Slack (see :func:`literal`).

    Args:
        markdown: The source text.

    Returns:
        Text for a ``mrkdwn`` text object, escaped, with every fence closed.
    """
    return render_blocks(read_prose(clean(markdown)))


def message_mrkdwn(text: str) -> str:
    """A tutor message (notice, hint, refusal, context line) as mrkdwn.

    Tutor messages quote what a learner typed, so they take only inline code, emphasis
    and lists (see :func:`bot.markdown.read_message`): a ``[label](url)`` in a message
    is text.
    """
    return render_blocks(read_message(clean(text)))


__all__ = ["RULE", "inline_mrkdwn", "message_mrkdwn", "render_blocks", "to_mrkdwn"]
