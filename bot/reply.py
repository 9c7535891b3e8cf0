"""What the tutor answers, independent of where it is shown.

A :class:`Reply` is a list of parts. The console renders it as plain text
(:mod:`bot.console.render`); the Slack handlers render it as Block Kit. Nothing here
knows about Slack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

_BACKTICKS = re.compile(r"`+")


def code_span(text: str) -> str:
    """``text`` as an inline code span it cannot break out of, whatever backticks it holds.

    The fence is a backtick run one longer than the longest run inside (CommonMark);
    text that starts or ends with a backtick, or is only spaces, is padded with one
    space on each side, which a CommonMark reader (and :mod:`bot.console.render`) strips;
    so is text that starts and ends with a space (the reader would strip those).
    Learner text quoted in a reply goes through here, never through ``f"`{text}`"``.

    Args:
        text: Any text, one line (a newline is kept; Slack and the console show it).

    Returns:
        The quoted span, e.g. ``code_span("a`b")`` is ``"``a`b``"``.
    """
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    edges = text[:1] + text[-1:]
    stripped = len(text) > 1 and text[0] == text[-1] == " " and bool(text.strip(" "))
    pad = " " if "`" in edges or stripped or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class Tone(StrEnum):
    """How a notice should feel to the reader."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Heading:
    """A section title."""

    text: str


@dataclass(frozen=True)
class Markdown:
    """Lesson prose in CommonMark-ish Markdown (``**bold**``, `` `code` ``, fences)."""

    text: str


@dataclass(frozen=True)
class Code:
    """Command output shown verbatim.

    Attributes:
        text: The (possibly truncated) output.
        cut: How many characters were cut off to stay under the output cap; 0 if none.
    """

    text: str
    cut: int = 0


@dataclass(frozen=True)
class Notice:
    """A one-paragraph message from the tutor (confirmation, explanation, error)."""

    text: str
    tone: Tone = Tone.INFO


@dataclass(frozen=True)
class Context:
    """A small grey line: position in the lesson, hints left, and the like."""

    text: str


@dataclass(frozen=True)
class Actions:
    """Buttons (Slack) or suggested next words (console).

    Attributes:
        actions: Tutor subcommands, e.g. ``("back", "next", "check", "hint")``.
        choices: For a quiz: ``(value, label)`` pairs; the value is sent back as
            ``answer <value>``.
    """

    actions: tuple[str, ...] = ()
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Image:
    """A picture the tutor produced (for example a completion funnel chart).

    Attributes:
        png: The PNG bytes.
        title: A short title, used as alt text and file name.
    """

    png: bytes
    title: str


@dataclass(frozen=True)
class File:
    """A file to hand to the reader (for example a CSV export)."""

    content: bytes
    filename: str
    title: str


Part = Heading | Markdown | Code | Notice | Context | Actions | Image | File


class Event(StrEnum):
    """Things that happened while handling a request, for renderers and tests."""

    COMMAND_RAN = "command_ran"
    STEP_COMPLETED = "step_completed"
    CHALLENGE_COMPLETED = "challenge_completed"
    LESSON_COMPLETED = "lesson_completed"


@dataclass
class Reply:
    """Everything the tutor says in answer to one input.

    Attributes:
        parts: What to show, in order.
        events: What happened (a challenge was completed, ...).
        ephemeral: In Slack, show only to the person who asked.
    """

    parts: list[Part] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    ephemeral: bool = True

    def add(self, *parts: Part) -> Reply:
        """Append parts and return ``self`` so calls can be chained."""
        self.parts.extend(parts)
        return self

    def extend(self, other: Reply) -> Reply:
        """Append another reply's parts and events."""
        self.parts.extend(other.parts)
        self.events.extend(other.events)
        return self

    def text(self) -> str:
        """All readable text of the reply, joined; handy for logs and tests."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, Heading | Markdown | Code | Notice | Context):
                out.append(part.text)
            elif isinstance(part, Actions):
                out.extend(label for _, label in part.choices)
        return "\n".join(out)
