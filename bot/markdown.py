"""Markdown read once, for every front end: lesson prose and tutor messages as a small model.

The lessons are written in CommonMark with GitHub's tables and strikethrough, and the
tutor's messages in a small part of it (code spans, emphasis, lists). Both front ends
used to read that text with their own regular expressions, and disagreed on what a table
rule or a bullet is. Now markdown-it-py (the CommonMark reader rich already depends on)
reads it here, once, into :class:`Block` and :class:`Span`; the terminal
(:mod:`bot.console.render`) and Slack (:mod:`handlers.render.mrkdwn.convert`) each render that
model and nothing else.

Two readings:

* :func:`read_prose` for lesson text (:class:`bot.reply.Markdown`): paragraphs,
  headings, fenced and indented code, GFM tables, bullet and numbered lists, block
  quotes, rules, emphasis, strikethrough, links and images (an ``http(s)`` or
  ``mailto`` address only; any other is shown as text);
* :func:`read_message` for what the tutor says (notices, context lines, quiz choices),
  which quotes what learners typed: paragraphs and lists, code spans, emphasis,
  strikethrough and backslash escapes; no links, headings, quotes, fences or tables.

In both, raw HTML and character entities are text (``&amp;`` shows as typed), and a
line break in a paragraph stays a line break (:attr:`Block.lines`), as Slack shows it.
markdown-it-py is imported on the first reading, not with this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

SAFE_URL = re.compile(r"^(?:https?://|mailto:)[^\s<>|`]+$")
"""Addresses a link may point to; any other link is shown as its text and address."""

BULLET = "\u2022"
"""How a bullet list's marker is shown (``-``, ``*`` and ``+`` all read as one)."""


@dataclass(frozen=True)
class Span:
    """A run of inline text and how it is marked.

    Attributes:
        text: The text, exactly (code keeps its backslashes and asterisks).
        code: A code span.
        strong: ``**strong**`` (a heading's text is strong too).
        emphasis: ``*emphasis*`` or ``_emphasis_``.
        strike: ``~~strikethrough~~``.
        link: The address of a link or image whose text this is (safe ones only).
    """

    text: str
    code: bool = False
    strong: bool = False
    emphasis: bool = False
    strike: bool = False
    link: str | None = None

    @property
    def style(self) -> tuple[bool, bool, bool, bool, str | None]:
        """Everything but the text: spans with equal styles can be joined."""
        return (self.code, self.strong, self.emphasis, self.strike, self.link)


Line = tuple[Span, ...]
"""One line of inline text (a paragraph's lines are split where its source lines were)."""


class Kind(StrEnum):
    """What a block is."""

    PARAGRAPH = "paragraph"
    HEADING = "heading"
    CODE = "code"
    TABLE = "table"
    ITEM = "item"
    QUOTE = "quote"
    RULE = "rule"


@dataclass(frozen=True)
class Block:
    """One block of a document, in reading order (lists and quotes are flattened).

    Attributes:
        kind: What it is.
        lines: Paragraph, heading, item and quote text, one :data:`Line` per line.
        code: For :attr:`Kind.CODE`: the verbatim text, without its fences.
        rows: For :attr:`Kind.TABLE`: the header row first, one :data:`Line` per cell.
        marker: For :attr:`Kind.ITEM`: :data:`BULLET`, or the number of a numbered item
            with its delimiter (``3.``).
        depth: How deep in lists the block is: 0 for a top-level item or any block
            outside lists, 1 for a nested item or a second paragraph of a top-level
            item, and so on.
        level: For :attr:`Kind.HEADING`: 1 to 6.
        gap: Whether a blank line stood before it in the source.
    """

    kind: Kind
    lines: tuple[Line, ...] = ()
    code: str = ""
    rows: tuple[tuple[Line, ...], ...] = ()
    marker: str = ""
    depth: int = 0
    level: int = 0
    gap: bool = False


# -- the readers --------------------------------------------------------------------------


@cache
def _prose_reader() -> MarkdownIt:
    from markdown_it import MarkdownIt

    reader = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    return reader.enable(["table", "strikethrough"]).disable(["entity", "html_inline",
                                                              "html_block", "reference"])


@cache
def _message_reader() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("zero").enable(["list", "newline", "escape", "backticks", "emphasis",
                                      "strikethrough"])


@lru_cache(maxsize=256)
def read_prose(text: str) -> tuple[Block, ...]:
    """Lesson Markdown as blocks (see the module docstring for what is read).

    Readings are immutable and the last 256 are kept: a section shown again (``show``,
    ``back``, every learner on the same step) is not read again.
    """
    return tuple(_Builder().build(_prose_reader().parse(text)))


@lru_cache(maxsize=1024)
def read_message(text: str) -> tuple[Block, ...]:
    """A tutor message as blocks: paragraphs and list items of code, emphasis and text."""
    return tuple(_Builder().build(_message_reader().parse(text)))


@lru_cache(maxsize=1024)
def read_inline(text: str) -> Line:
    """One line of message markup (a quiz choice, a cell) as spans; a line break is a space."""
    tokens = _message_reader().parseInline(text)
    lines = _inline(tokens[0].children or []) if tokens else []
    return tuple(span for line in _join_lines(lines, " ") for span in line)


def plain(line: Iterable[Span]) -> str:
    """The text of spans without any marking (a link shows its text)."""
    return "".join(span.text for span in line)


# -- inline -------------------------------------------------------------------------------


@dataclass
class _Marks:
    strong: int = 0
    emphasis: int = 0
    strike: int = 0
    link: str | None = None
    label: list[Span] = field(default_factory=list)
    in_link: bool = False

    def span(self, text: str, *, code: bool = False) -> Span:
        return Span(text, code=code, strong=self.strong > 0, emphasis=self.emphasis > 0,
                    strike=self.strike > 0)


_TOGGLES = {"strong_open": ("strong", 1), "strong_close": ("strong", -1),
            "em_open": ("emphasis", 1), "em_close": ("emphasis", -1),
            "s_open": ("strike", 1), "s_close": ("strike", -1)}


def _link_spans(marks: _Marks, href: str, label: str) -> list[Span]:
    """A link's text as one span: linked when the address is safe, else text and address."""
    base = marks.span(label)
    if SAFE_URL.match(href):
        return [replace(base, link=href)]
    return [base, marks.span(f" ({href})")] if href and href != label else [base]


def _inline(children: Sequence[Token]) -> list[list[Span]]:
    """Inline tokens as lines of spans (soft and hard breaks end a line)."""
    lines: list[list[Span]] = [[]]
    marks = _Marks()
    for token in children:
        out = marks.label if marks.in_link else lines[-1]
        if token.type in _TOGGLES:
            name, step = _TOGGLES[token.type]
            setattr(marks, name, getattr(marks, name) + step)
        elif token.type == "text" and token.content:
            out.append(marks.span(token.content))
        elif token.type == "code_inline":
            out.append(marks.span(token.content, code=True))
        elif token.type in ("softbreak", "hardbreak"):
            if marks.in_link:
                out.append(marks.span(" "))
            else:
                lines.append([])
        elif token.type == "link_open":
            marks.in_link, marks.link, marks.label = True, str(token.attrGet("href") or ""), []
        elif token.type == "link_close":
            marks.in_link = False
            lines[-1].extend(_link_spans(marks, marks.link or "", plain(marks.label)))
        elif token.type == "image":
            alt = plain(span for line in _inline(token.children or []) for span in line)
            out.extend(_link_spans(marks, str(token.attrGet("src") or ""), alt or "image"))
        elif token.content:  # anything else markdown-it may hand over: its text
            out.append(marks.span(token.content))
    return [_joined(line) for line in lines]


def _joined(spans: Sequence[Span]) -> list[Span]:
    """Adjacent spans of one style joined (links never: each is its own); empty ones dropped."""
    out: list[Span] = []
    for span in spans:
        if not span.text:
            continue
        if out and out[-1].style == span.style and span.link is None:
            out[-1] = replace(out[-1], text=out[-1].text + span.text)
        else:
            out.append(span)
    return out


def _join_lines(lines: Sequence[Sequence[Span]], separator: str) -> list[list[Span]]:
    """Lines joined into one, with ``separator`` text between them."""
    spans: list[Span] = []
    for n, line in enumerate(lines):
        if n:
            spans.append(Span(separator))
        spans.extend(line)
    return [_joined(spans)]


# -- blocks -------------------------------------------------------------------------------


@dataclass
class _List:
    depth: int
    ordered: bool
    items: int = 0


class _Builder:
    """Walks markdown-it's token stream and flattens it into :class:`Block` values."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.lists: list[_List] = []
        self.quotes = 0
        self.marker: str | None = None  # the current item's marker, until its first block
        self.last_line = 0

    def _add(self, block: Block, where: list[int] | None) -> None:
        start, end = where if where else (self.last_line, self.last_line)
        self.blocks.append(replace(block, gap=bool(self.blocks) and start > self.last_line))
        self.last_line = max(self.last_line, end)

    def _depth(self) -> int:
        return len(self.lists) if self.marker is None and self.lists else max(len(self.lists) - 1, 0)

    def _text_block(self, lines: tuple[Line, ...], where: list[int] | None) -> None:
        if self.marker is not None:
            self._add(Block(Kind.ITEM, lines, marker=self.marker, depth=self._depth()), where)
            self.marker = None
        elif self.quotes:
            self._add(Block(Kind.QUOTE, lines, depth=self._depth()), where)
        else:
            self._add(Block(Kind.PARAGRAPH, lines, depth=self._depth()), where)

    def _flush_marker(self, where: list[int] | None) -> None:
        """An item whose first block is not text still shows its marker, on a line of its own."""
        if self.marker is not None:
            self._text_block(((),), where)

    def build(self, tokens: Sequence[Token]) -> list[Block]:
        i = 0
        while i < len(tokens):
            token = tokens[i]
            kind = token.type
            if kind in ("bullet_list_open", "ordered_list_open"):
                self.lists.append(_List(len(self.lists), kind == "ordered_list_open"))
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
            elif kind == "list_item_open":
                current = self.lists[-1]
                current.items += 1
                self.marker = (f"{token.info or current.items}{token.markup}" if current.ordered
                               else BULLET)
            elif kind == "list_item_close":
                self._flush_marker(token.map)
            elif kind == "blockquote_open":
                self._flush_marker(token.map)
                self.quotes += 1
            elif kind == "blockquote_close":
                self.quotes -= 1
            elif kind in ("paragraph_open", "heading_open"):
                inline = tokens[i + 1]
                lines = tuple(tuple(line) for line in _inline(inline.children or []))
                if kind == "heading_open" and not self.quotes and self.marker is None:
                    self._add(Block(Kind.HEADING, tuple(tuple(replace(s, strong=True) for s in
                                                              line) for line in lines),
                                    level=int(token.tag[1:]), depth=self._depth()), token.map)
                else:
                    self._text_block(lines, token.map)
                i += 3  # open, inline, close
                continue
            elif kind in ("fence", "code_block"):
                self._flush_marker(token.map)
                self._add(Block(Kind.CODE, code=token.content.removesuffix("\n"),
                                depth=self._depth()), token.map)
            elif kind == "hr":
                self._flush_marker(token.map)
                self._add(Block(Kind.RULE, depth=self._depth()), token.map)
            elif kind == "table_open":
                i = self._table(tokens, i)
                continue
            i += 1
        return self.blocks

    def _table(self, tokens: Sequence[Token], i: int) -> int:
        """Read a table from ``tokens[i]`` (``table_open``); return the index after it."""
        opening = tokens[i]
        rows: list[tuple[Line, ...]] = []
        row: list[Line] = []
        while tokens[i].type != "table_close":
            kind = tokens[i].type
            if kind == "tr_open":
                row = []
            elif kind == "tr_close":
                rows.append(tuple(row))
            elif kind == "inline":
                row.append(tuple(_join_lines(_inline(tokens[i].children or []), " ")[0]))
            i += 1
        self._flush_marker(opening.map)
        self._add(Block(Kind.TABLE, rows=tuple(rows), depth=self._depth()), opening.map)
        return i + 1


__all__ = [
    "BULLET",
    "SAFE_URL",
    "Block",
    "Kind",
    "Line",
    "Span",
    "plain",
    "read_inline",
    "read_message",
    "read_prose",
]
