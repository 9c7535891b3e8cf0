"""CommonMark (as the lessons are written) to Slack ``mrkdwn``, exact lengths and safe cuts.

Slack's ``mrkdwn`` differs from CommonMark: bold is ``*b*``, italics ``_i_``, links
``<url|text>``, there are no headings or tables, and ``&``, ``<``, ``>`` must be
escaped. Slack also reads markup that CommonMark would show as text (``*x*`` at a
word boundary, ``:emoji:``, stray backticks), so everything that is *text* in the
source is rendered so that Slack cannot read it as markup:

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

Lengths are measured as Slack measures them (UTF-16 code units, after escaping), and
every cut (:func:`split_mrkdwn`, :func:`clip_mrkdwn`) happens between whole entities
and whole ``<...>`` links, closes an inline code span or a fence it interrupts and
reopens it in the next piece.
"""

from __future__ import annotations

import re
import string

SECTION_LIMIT = 3000
"""Most characters Slack accepts in a section block's text."""

FENCE = "```"
ZWSP = "\u200b"
"""Zero-width space: breaks a backtick run or an emoji name without showing."""

GRAVE = "\u02cb"
"""U+02CB, modifier letter grave accent: looks like a backtick but cannot delimit code."""

ELLIPSIS = "\u2026"

_LOOKALIKE = {"*": "\u2217", "_": "\u02cd", "~": "\u223c"}
"""Slack delimiters shown as text: asterisk operator, low macron, tilde operator."""

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
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
_EMOJI = re.compile(r":(?=[A-Za-z0-9_+\-']+:)")
_BACKTICK_BREAK = re.compile("`(?=[`\u200b])")
"""A backtick before another one (or before a zero-width space the text already holds)."""
_ATOM = re.compile(r"&(?:amp|lt|gt);|<[^<>\n]{1,2000}>|.", re.S)
_ASCII_PUNCT = frozenset(string.punctuation)
_SPECIAL = re.compile(r"[\\`]")
_SPECIAL_LINKS = re.compile(r"[\\`!\[<]")
_DELIMITER = re.compile(r"[*_~]")

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


# -- lengths and characters -------------------------------------------------------------


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


# -- CommonMark inline -> mrkdwn ---------------------------------------------------------


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


# -- safe cuts ---------------------------------------------------------------------------


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


def _split_line(line: str, limit: int, *, spans: bool = True) -> list[str]:
    """Cut one over-long mrkdwn line into pieces of at most ``limit`` (Slack length).

    With ``spans`` (prose, not fence content) an inline code span that must be cut is
    closed at the end of one piece and reopened at the start of the next (code spans
    made here never contain a backtick).
    """
    pieces: list[str] = []
    while slack_len(line) > limit:
        cut = safe_cut(line, limit - 1) or 1
        head = line[:cut]
        if spans and head.count("`") % 2:
            opening = head.rfind("`")
            if opening * 2 > cut or (opening > 0 and cut - opening < 3):
                cut = opening  # the span moves whole to the next piece
            else:
                if line[cut] == "`":  # keep at least one character after the reopening
                    cut -= 1
                pieces.append(line[:cut] + "`")
                line = "`" + line[cut:]
                continue
        pieces.append(line[:cut])
        line = line[cut:]
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


__all__ = [
    "ELLIPSIS",
    "FENCE",
    "GRAVE",
    "SECTION_LIMIT",
    "ZWSP",
    "clean",
    "clip_mrkdwn",
    "code_cost",
    "code_span",
    "code_text",
    "escape",
    "literal",
    "message_mrkdwn",
    "safe_cut",
    "slack_len",
    "split_mrkdwn",
    "to_mrkdwn",
]
