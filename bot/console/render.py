"""Render a :class:`~bot.reply.Reply` for a terminal: plain text for pipes, styled on a TTY.

The reply's Markdown is read by :mod:`bot.markdown`, the reading Slack renders too
(headings, fences, GFM tables, lists, quotes, code spans, emphasis, links), and turned
into terminal blocks of spans (:class:`Block`, :data:`Span`; any emphasis shows bold);
:func:`render` writes them as plain text (no
asterisks, no escape codes: what a script or a log reads) and :func:`render_styled` hands
them to rich (bold, code colour, box tables), imported only when first used, after the
console's prompt is on screen. Every character of every part passes through
:func:`bot.printable.printable` first, so container output or a learner's text never reaches a
terminal with its escape sequences or control characters live.

The console has no buttons: :class:`~bot.reply.Actions` are shown as the words to type
and the quiz choices as a numbered list. What the tutor says is already worded for the
console (:mod:`bot.wording`); nothing here rewrites it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from bot import markdown
from bot.errors import TutorError
from bot.printable import printable
from bot.reply import (
    Actions,
    Code,
    Context,
    File,
    Heading,
    Image,
    Markdown,
    Notice,
    Part,
    Reply,
    Tone,
    code_span,
)

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

Style = Literal["", "bold", "code"]
Span = tuple[Style, str]
"""A piece of inline text and how it is shown."""

_PREFIX = {Tone.INFO: "", Tone.SUCCESS: "\u2714 ", Tone.WARNING: "! ", Tone.ERROR: "\u2718 "}
_TONE_STYLE = {Tone.INFO: "", Tone.SUCCESS: "green", Tone.WARNING: "yellow", Tone.ERROR: "red"}

_BULLET = re.compile(r"^( *)(\u2022|\d+[.)]|>) ")
"""A text line's list or quote marker, as :func:`_text_lines` writes it."""

RULE = "\u2015" * 12
"""How a thematic break (``---``) is shown."""


# -- inline text --------------------------------------------------------------------------------


def _spans(line: Sequence[markdown.Span]) -> list[Span]:
    """The shared reading's spans as the terminal shows them: code, bold (any emphasis), text.

    A link shows its text, then its address in parentheses (unless the text is the address).
    """
    out: list[Span] = []
    for span in line:
        style: Style = "code" if span.code else "bold" if span.strong or span.emphasis else ""
        out.append((style, span.text))
        if span.link is not None and span.link != span.text:
            out.append(("", f" ({span.link})"))
    return out


def inline(text: str) -> list[Span]:
    """One line of message markup as spans: code spans, bold, text (see :mod:`bot.markdown`).

    A run of backticks opens a code span only if a run of the same length closes it
    (CommonMark); otherwise the backticks are text. Inside, one space is stripped from
    each end when both ends are spaces (and the span is not all spaces), as
    :func:`bot.reply.code_span` expects.
    """
    return _spans(markdown.read_inline(text))


# -- blocks -------------------------------------------------------------------------------------


@dataclass
class Block:
    """One block of a reply as the terminal shows it.

    Attributes:
        kind: ``heading``, ``text`` (lines of inline spans), ``code`` (verbatim lines),
            ``table`` (rows of cells), ``notice`` or ``context``.
        lines: For ``text``, ``heading``, ``notice``, ``context``: lines of spans.
        code: For ``code``: the verbatim text (and ``cut`` characters not shown).
        rows: For ``table``: the header row first, each cell a list of spans.
        tone: For ``notice``: its tone.
    """

    kind: str
    lines: list[list[Span]] = field(default_factory=list)
    code: str = ""
    cut: int = 0
    rows: list[list[list[Span]]] = field(default_factory=list)
    tone: Tone = Tone.INFO


def _text_lines(block: markdown.Block) -> list[list[Span]]:
    """A paragraph, item, quote or rule of the shared reading as terminal lines."""
    indent = "  " * block.depth
    if block.kind == markdown.Kind.RULE:
        return [[("", indent + RULE)]]
    lines = [_spans(line) for line in block.lines] or [[]]
    if block.kind == markdown.Kind.ITEM:
        hang = " " * (len(indent) + len(block.marker) + 1)
        return [[("", f"{indent}{block.marker} "), *lines[0]],
                *([("", hang), *line] for line in lines[1:])]
    if block.kind == markdown.Kind.QUOTE:
        return [[("", f"{indent}> "), *line] for line in lines]
    return [[("", indent), *line] if indent and line else line for line in lines]


def document_blocks(document: Sequence[markdown.Block]) -> list[Block]:
    """The shared reading of some Markdown as terminal blocks.

    Paragraphs, list items, quotes and rules run together in one ``text`` block, a blank
    line where the source had one; headings, code and tables are blocks of their own.
    """
    blocks: list[Block] = []
    for item in document:
        if item.kind == markdown.Kind.HEADING:
            blocks.append(Block("heading", lines=[_spans(line) for line in item.lines[:1]]))
        elif item.kind == markdown.Kind.CODE:
            blocks.append(Block("code", code=item.code))
        elif item.kind == markdown.Kind.TABLE:
            blocks.append(Block("table", rows=[[_spans(cell) for cell in row]
                                               for row in item.rows]))
        else:
            if not blocks or blocks[-1].kind != "text":
                blocks.append(Block("text"))
            if item.gap:
                blocks[-1].lines.append([])
            blocks[-1].lines.extend(_text_lines(item))
    for block in blocks:  # a blank line at either end is the renderer's to add
        while block.kind == "text" and block.lines and not block.lines[-1]:
            block.lines.pop()
    return [b for b in blocks if b.kind != "text" or b.lines]


def markdown_blocks(text: str) -> list[Block]:
    """Lesson Markdown as blocks: headings, code, tables, and text lines (:mod:`bot.markdown`)."""
    return document_blocks(markdown.read_prose(text))


def message_lines(text: str) -> list[list[Span]]:
    """A tutor message as lines of spans: its paragraphs and list items (:mod:`bot.markdown`)."""
    lines: list[list[Span]] = []
    for block in markdown.read_message(text):
        if block.gap and lines:
            lines.append([])
        lines.extend(_text_lines(block))
    return lines or [[]]


def blocks(reply: Reply) -> list[Block]:
    """Every part of ``reply`` as blocks, each text made printable."""
    out: list[Block] = []
    for part in reply.parts:
        out.extend(part_blocks(part))
    return out


def part_blocks(part: Part) -> list[Block]:
    """One part as blocks (see :func:`blocks`)."""
    if isinstance(part, Heading):
        return [Block("heading", lines=[[("", printable(part.text))]])]
    if isinstance(part, Markdown):
        return markdown_blocks(printable(part.text))
    if isinstance(part, Code):
        return [Block("code", code=printable(part.text), cut=part.cut)]
    if isinstance(part, Notice):
        return [Block("notice", lines=message_lines(printable(part.text)),
                      tone=part.tone)]
    if isinstance(part, Context):
        return [Block("context", lines=message_lines(printable(part.text)))]
    if isinstance(part, Actions):
        return _actions(part)
    if isinstance(part, Image):
        return [Block("context", lines=[[("", f"[picture: {printable(part.title)}, "
                                              f"{len(part.png)} bytes]")]])]
    if isinstance(part, File):
        return [Block("context", lines=[[("", f"[file: {printable(part.filename)}, "
                                              f"{len(part.content)} bytes]")]])]
    raise TypeError(f"unknown part {part!r}")


def _actions(part: Actions) -> list[Block]:
    """Quiz choices as a numbered list; step words as what to type (the console has no buttons)."""
    out: list[Block] = []
    if part.choices:
        out.append(Block("text", lines=[[("", f"  {n}. "), *inline(printable(label))]
                                        for n, (_, label) in enumerate(part.choices, start=1)]))
    if part.actions:
        words: list[Span] = [("", "Type ")]
        for n, word in enumerate(part.actions):
            if n:
                words.append(("", " or " if n == len(part.actions) - 1 else ", "))
            words.append(("code", word))
        words.append(("", "."))
        out.append(Block("context", lines=[words]))
    return out


# -- plain text ---------------------------------------------------------------------------------


def _plain_spans(spans: list[Span]) -> str:
    return "".join(code_span(text) if style == "code" else text for style, text in spans)


def _plain_table(rows: list[list[list[Span]]]) -> str:
    cells = [[_plain_spans(cell) for cell in row] for row in rows]
    columns = max(len(row) for row in cells)
    cells = [row + [""] * (columns - len(row)) for row in cells]
    widths = [max(len(row[c]) for row in cells) for c in range(columns)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _plain_block(block: Block) -> str:
    if block.kind == "heading":
        return f"== {_plain_spans(block.lines[0])} =="
    if block.kind == "code":
        cut = f"\n[... {block.cut} more characters not shown]" if block.cut else ""
        return block.code + cut
    if block.kind == "table":
        return _plain_table(block.rows)
    text = "\n".join(_plain_spans(line) for line in block.lines)
    if block.kind == "notice":
        return _PREFIX[block.tone] + text
    if block.kind == "context":
        return f"({text})"
    return text


def _gap(before: Block | None, block: Block) -> bool:
    """Whether a blank line goes between two blocks: before a heading, after long text."""
    if before is None or (before.kind == "text" and before.lines and not before.lines[-1]):
        return False
    return block.kind == "heading" or (before.kind in ("text", "table") and len(before.lines) > 2)


def render(reply: Reply) -> str:
    """The whole reply as plain text: no markup asterisks, no escape codes, nothing raw."""
    out: list[str] = []
    before: Block | None = None
    for block in blocks(reply):
        text = _plain_block(block)
        if not text:
            continue
        if _gap(before, block):
            out.append("")
        out.append(text)
        before = block
    return "\n".join(out)


def render_part(part: Part) -> str:
    """One part as plain text."""
    return "\n".join(text for block in part_blocks(part) if (text := _plain_block(block)))


def render_error(error: TutorError) -> str:
    """A tutor error as one or two plain lines, never a traceback."""
    return render(Reply().add(Notice(str(error), Tone.ERROR)))


# -- a terminal ---------------------------------------------------------------------------------


def _rich_text(spans: list[Span], base: str = "") -> Text:
    from rich.text import Text

    text = Text(style=base)
    for style, piece in spans:
        text.append(piece, style={"bold": "bold", "code": "bold cyan", "": ""}[style])
    return text


def _bullet(line: list[Span]) -> str | None:
    """The indent and marker a text line starts with (``"  • "``, ``"3. "``), or ``None``."""
    if line and line[0][0] == "" and (match := _BULLET.match(line[0][1])):
        return match.group()
    return None


def _rich_lines(lines: list[list[Span]]) -> RenderableType:
    """Text lines where bulleted lines wrap under their own text (a hanging indent)."""
    from rich.console import Group

    items: list[RenderableType] = []
    for line in lines:
        bullet = _bullet(line)
        if bullet is None:
            items.append(_rich_text(line))
            continue
        first: Span = ("", line[0][1][len(bullet):])
        items.append(_hanging(_rich_text([first, *line[1:]]), bullet))
    return Group(*items)


def _hanging(text: Text, bullet: str) -> RenderableType:
    from rich.table import Table

    grid = Table.grid(padding=0)
    grid.add_column(width=len(bullet), no_wrap=True)
    grid.add_column()
    grid.add_row(bullet, text)
    return grid


def _rich_block(block: Block) -> RenderableType:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if block.kind == "heading":
        return _rich_text(block.lines[0], "bold underline")
    if block.kind == "code":
        text = Text(block.code)
        if block.cut:
            text.append(f"\n[... {block.cut} more characters not shown]", style="dim")
        return text
    if block.kind == "table":
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for cell in block.rows[0]:
            table.add_column(_rich_text(cell, "bold"))
        for row in block.rows[1:]:
            table.add_row(*(_rich_text(cell) for cell in row))
        return table
    if block.kind == "text" and any(_bullet(line) for line in block.lines):
        return _rich_lines(block.lines)
    lines = [_rich_text(line) for line in block.lines]
    text = Text("\n").join(lines)
    if block.kind == "notice":
        notice = Text()
        notice.append(_PREFIX[block.tone], style=f"bold {_TONE_STYLE[block.tone]}".strip())
        notice.append_text(text)
        return notice
    if block.kind == "context":
        text.stylize("dim")
    return text


def render_styled(reply: Reply, width: int, *, color: bool = True) -> str:
    """The reply for a terminal ``width`` columns wide: bold, code colour, tables, wrapping.

    Args:
        reply: What to show.
        width: The terminal's width in columns.
        color: Use colours and bold (``False``: wrapping and tables only, as for
            ``NO_COLOR`` or a dumb terminal).

    Returns:
        Text with ANSI styling that the tutor made; none from the reply's own text.
    """
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, width=max(width, 20), force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, highlight=False,
                      emoji=False, markup=False, soft_wrap=False)
    before: Block | None = None
    for block in blocks(reply):
        if _gap(before, block):
            console.print()
        console.print(_rich_block(block))
        before = block
    return out.getvalue().rstrip("\n")


def render_styled_error(error: TutorError, width: int, *, color: bool = True) -> str:
    """A tutor error for a terminal (see :func:`render_styled`)."""
    return render_styled(Reply().add(Notice(str(error), Tone.ERROR)), width, color=color)


def preload() -> None:
    """Import what :func:`render_styled` needs (call it on a background thread)."""
    render_styled(Reply().add(Markdown("*warm* `up`\n\n| a | b |\n| --- | --- |\n| 1 | 2 |")), 40)


__all__ = [
    "Block",
    "blocks",
    "inline",
    "markdown_blocks",
    "part_blocks",
    "preload",
    "render",
    "render_error",
    "render_part",
    "render_styled",
    "render_styled_error",
]
