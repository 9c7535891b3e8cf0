"""What Slack sends, turned back into what the learner typed.

Slack escapes ``&``, ``<`` and ``>`` (as ``&amp;``, ``&lt;``, ``&gt;``) in slash command
and message text, wraps links it detected in messages as ``<url|label>``, and some
clients "smarten" quotes and dashes. The tutor wants the learner's plain line back.
User mentions (``<@U123|name>``) are left as they are.
"""

from __future__ import annotations

import re

from bot.identity import Person

_DETECTED_LINK = re.compile(r"<((?:https?|mailto|ftp)://?[^|>]*)(?:\|([^>]*))?>")
_SMART = str.maketrans({
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'",
    "\u00a0": " ", "\u202f": " ",
})
_DASHES = re.compile(r"(?:(?<=\s)|^)[\u2014\u2013](?=\S)")

DOCKER = "docker"


def unescape(text: str) -> str:
    """Undo Slack's escaping of ``&``, ``<``, ``>`` (``&amp;`` last, so ``&amp;lt;`` stays ``&lt;``)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_text(text: str) -> str:
    """The text of a slash command as the learner typed it (mentions kept)."""
    return unescape(text).strip()


def unlink(text: str) -> str:
    """Links Slack detected (``<http://x|x>``) back to what was typed; mentions untouched."""
    return _DETECTED_LINK.sub(lambda m: m.group(2) or m.group(1), text)


def message_text(text: str) -> str:
    """The text of a DM as the learner typed it.

    Links Slack detected become their label again, a line wrapped in backticks or a
    code fence is unwrapped, and the escaping is undone. Mentions are kept.
    """
    text = unlink(text).strip()
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        text = text[3:-3].strip()
    elif len(text) >= 2 and text.startswith("`") and text.endswith("`") and "`" not in text[1:-1]:
        text = text[1:-1].strip()
    return unescape(text).strip()


def docker_line(text: str) -> str:
    """A docker command line with typographic quotes and dashes put back to ASCII.

    Chat clients turn ``"`` into curly quotes and ``--`` into an em dash; no docker
    command means either, so they are reverted (only in docker lines).
    """
    text = text.translate(_SMART)
    return _DASHES.sub("--", text)


def is_docker(text: str) -> bool:
    """Whether a line is a docker command (``docker`` or ``docker ...``)."""
    return text == DOCKER or text.startswith((DOCKER + " ", DOCKER + "\t"))


def slack_person(user_id: str, name: str | None = None) -> Person:
    """The tutor's view of a Slack user."""
    return Person("slack", user_id, name or "")


__all__ = ["command_text", "docker_line", "is_docker", "message_text", "slack_person",
           "unescape", "unlink"]
