"""Render a :class:`~bot.reply.Reply` as plain terminal text."""

from __future__ import annotations

import re

from bot.errors import TutorError
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
)

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_PREFIX = {Tone.INFO: "", Tone.SUCCESS: "\u2714 ", Tone.WARNING: "! ", Tone.ERROR: "\u2718 "}


def _markdown(text: str) -> str:
    """Markdown to terminal text: bold markers and fences go, the words stay."""
    lines = []
    for raw in text.splitlines():
        if raw.strip().startswith("```"):
            continue
        line = raw.lstrip("#").strip().upper() if raw.startswith("#") else raw
        lines.append(_BOLD.sub(r"\1", line))
    return "\n".join(lines)


def render_part(part: Part) -> str:
    """One part as text."""
    if isinstance(part, Heading):
        return f"== {part.text} =="
    if isinstance(part, Markdown):
        return _markdown(part.text)
    if isinstance(part, Code):
        cut = f"\n[... {part.cut} more characters not shown]" if part.cut else ""
        return part.text + cut
    if isinstance(part, Notice):
        return _PREFIX[part.tone] + part.text
    if isinstance(part, Context):
        return f"({part.text})"
    if isinstance(part, Actions):
        lines = [f"  {n}. {label}" for n, (_, label) in enumerate(part.choices, start=1)]
        if part.actions:
            lines.append("[" + " | ".join(part.actions) + "]")
        return "\n".join(lines)
    if isinstance(part, Image):
        return f"[picture: {part.title}, {len(part.png)} bytes]"
    if isinstance(part, File):
        return f"[file: {part.filename}, {len(part.content)} bytes]"
    raise TypeError(f"unknown part {part!r}")


def render(reply: Reply) -> str:
    """The whole reply as text, parts separated by blank lines where it reads better."""
    chunks = [render_part(p) for p in reply.parts]
    return "\n".join(c for c in chunks if c)


def render_error(error: TutorError) -> str:
    """A tutor error as one or two lines, never a traceback."""
    return "\u2718 " + str(error)
