"""Render a :class:`~bot.reply.Reply` as Slack messages made of Block Kit blocks.

One reply can become several messages (Slack allows 50 blocks per message) plus files
to upload (pictures and exports cannot be sent as blocks without a public URL). Every
message carries a plain-text ``text`` for notifications and screen readers.

Block limits honoured here: header text 150 characters, section and context text
3,000, 25 elements per actions block, button text 75, button value 2,000, 50 blocks
per message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.reply import Actions, Code, Context, File, Heading, Image, Markdown, Notice, Reply, Tone
from handlers.mrkdwn import FENCE, SECTION_LIMIT, escape, split_mrkdwn, to_mrkdwn

Block = dict[str, Any]

MAX_BLOCKS = 50
"""Most blocks Slack accepts in one message."""

HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ACTIONS_PER_BLOCK = 25
FALLBACK_LIMIT = 3000
"""Most characters of the plain-text fallback of one message."""

TONE_EMOJI = {
    Tone.INFO: ":information_source:",
    Tone.SUCCESS: ":white_check_mark:",
    Tone.WARNING: ":warning:",
    Tone.ERROR: ":x:",
}

ACTION_PREFIX = "tutor_"
"""Every tutor button's ``action_id`` starts with this; its value is the tutor line to run."""

BUTTON_LABELS = {
    "next": "Next \u25b8",
    "back": "\u25c2 Back",
    "check": "Check",
    "hint": "Hint",
    "show": "Show again",
    "status": "Status",
    "lessons": "Lessons",
    "help": "Help",
    "start": "Start",
    "reset": "Start over",
}

_CONFIRM = {
    "reset": {
        "title": {"type": "plain_text", "text": "Start over?"},
        "text": {"type": "mrkdwn",
                 "text": "This removes all your containers and volumes and puts the lesson "
                         "back at its first section."},
        "confirm": {"type": "plain_text", "text": "Start over"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    },
}


@dataclass(frozen=True)
class Upload:
    """A file to upload next to the messages.

    Attributes:
        content: The bytes.
        filename: The file name shown in Slack.
        title: The title shown in Slack.
    """

    content: bytes
    filename: str
    title: str


@dataclass
class Rendered:
    """A reply rendered for Slack.

    Attributes:
        messages: Each a ``{"text": ..., "blocks": [...]}`` dict, in order.
        uploads: Files to upload to the conversation.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit) or " ", "emoji": True}


def section(text: str) -> Block:
    """A section block with mrkdwn text (the caller keeps it under 3,000 characters)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def sections(mrkdwn: str) -> list[Block]:
    """Section blocks for any length of mrkdwn, split as :func:`split_mrkdwn` does."""
    return [section(piece) for piece in split_mrkdwn(mrkdwn) if piece.strip()]


def context(mrkdwn: str) -> Block:
    """A context block with one mrkdwn element."""
    return {"type": "context", "elements": [{"type": "mrkdwn",
                                             "text": _clip(mrkdwn, SECTION_LIMIT) or " "}]}


def header(text: str) -> Block:
    """A header block (plain text, at most 150 characters)."""
    return {"type": "header", "text": _plain(text, HEADER_LIMIT)}


def _defang_fences(text: str) -> str:
    """Keep output that itself contains ``` from closing our fence early."""
    return text.replace(FENCE, "`\u200b`\u200b`")


def code_blocks(code: Code) -> list[Block]:
    """Command output in a fenced section, capped; a context line says what was cut."""
    budget = SECTION_LIMIT - 2 * len(FENCE) - 2
    text = _defang_fences(code.text)
    keep = len(text)
    while len(escape(text[:keep])) > budget:
        keep -= max(1, len(escape(text[:keep])) - budget)
    if keep < len(text):
        newline = text.rfind("\n", 0, keep)
        if newline > keep - 300:
            keep = newline
    cut = code.cut + (len(text) - keep)
    blocks: list[Block] = []
    shown = text[:keep]
    if shown.strip():
        blocks.append(section(f"{FENCE}\n{escape(shown)}\n{FENCE}"))
    if cut > 0:
        blocks.append(context(f"\u2026 {cut:,} more characters not shown"))
    return blocks


def button(word: str, *, action_id: str | None = None, label: str | None = None,
           value: str | None = None) -> Block:
    """A button that runs a tutor line for whoever clicks it.

    Args:
        word: The tutor word (``next``, ``hint``, ...).
        action_id: Defaults to ``tutor_<word>``.
        label: Defaults to a friendly label for the word.
        value: The tutor line to run; defaults to ``word``.
    """
    element: Block = {
        "type": "button",
        "action_id": action_id or f"{ACTION_PREFIX}{word}",
        "text": _plain(label or BUTTON_LABELS.get(word, word.capitalize()), BUTTON_TEXT_LIMIT),
        "value": (value or word)[:BUTTON_VALUE_LIMIT],
    }
    if word == "next":
        element["style"] = "primary"
    if word in _CONFIRM:
        element["confirm"] = _CONFIRM[word]
    return element


def action_blocks(actions: Actions) -> list[Block]:
    """Buttons for tutor words and quiz choices (``tutor_answer_<n>`` sends ``answer <value>``)."""
    elements = [
        button("answer", action_id=f"{ACTION_PREFIX}answer_{n}", label=f"{n}. {label}",
               value=f"answer {value}")
        for n, (value, label) in enumerate(actions.choices, start=1)
    ]
    elements.extend(button(word) for word in actions.actions)
    return [{"type": "actions", "elements": elements[i:i + ACTIONS_PER_BLOCK]}
            for i in range(0, len(elements), ACTIONS_PER_BLOCK)]


def _unique_action_ids(blocks: list[Block]) -> None:
    """Slack refuses a message with two equal action ids: number the repeats."""
    seen: dict[str, int] = {}
    for block in blocks:
        for element in block.get("elements", ()):
            action_id = element.get("action_id")
            if action_id is None:
                continue
            count = seen.get(action_id, 0) + 1
            seen[action_id] = count
            if count > 1:
                element["action_id"] = f"{action_id}_{count}"


def reply_blocks(reply: Reply) -> tuple[list[Block], list[Upload]]:
    """Every block of a reply, in order, and the files it carries."""
    blocks: list[Block] = []
    uploads: list[Upload] = []
    for part in reply.parts:
        if isinstance(part, Heading):
            blocks.append(header(part.text))
        elif isinstance(part, Markdown):
            blocks.extend(sections(to_mrkdwn(part.text)))
        elif isinstance(part, Code):
            blocks.extend(code_blocks(part))
        elif isinstance(part, Notice):
            blocks.extend(sections(f"{TONE_EMOJI[part.tone]} {to_mrkdwn(part.text)}"))
        elif isinstance(part, Context):
            blocks.append(context(to_mrkdwn(part.text)))
        elif isinstance(part, Actions):
            blocks.extend(action_blocks(part))
        elif isinstance(part, Image):
            uploads.append(Upload(part.png, _filename(part.title, ".png"), part.title))
        elif isinstance(part, File):
            uploads.append(Upload(part.content, part.filename, part.title))
        else:  # pragma: no cover - a new part type must be rendered here
            raise TypeError(f"unknown part {part!r}")
    return blocks, uploads


def _filename(title: str, suffix: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in title.strip().lower())
    return (stem.strip("-") or "picture")[:60] + suffix


def fallback_text(blocks: list[Block]) -> str:
    """Plain text of some blocks, for notifications (``text`` next to ``blocks``)."""
    lines: list[str] = []
    for block in blocks:
        kind = block["type"]
        if kind in ("header", "section"):
            lines.append(block["text"]["text"])
        elif kind == "context":
            lines.extend(e["text"] for e in block["elements"] if "text" in e)
    return _clip("\n".join(lines), FALLBACK_LIMIT) or "docker-tutor"


def split_messages(blocks: list[Block], limit: int = MAX_BLOCKS) -> list[list[Block]]:
    """Cut a list of blocks into messages of at most ``limit`` blocks each.

    A cut is moved back so a message does not end in a header when it can help it, and
    an actions block always travels with the block before it when possible.
    """
    messages: list[list[Block]] = []
    rest = list(blocks)
    while len(rest) > limit:
        cut = limit
        while cut > limit // 2 and (rest[cut - 1]["type"] == "header"
                                    or rest[cut]["type"] == "actions"):
            cut -= 1
        messages.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        messages.append(rest)
    return messages


def render(reply: Reply, *, max_blocks: int = MAX_BLOCKS) -> Rendered:
    """Render a reply: messages of at most ``max_blocks`` blocks, plus its uploads."""
    blocks, uploads = reply_blocks(reply)
    rendered = Rendered(uploads=uploads)
    for chunk in split_messages(blocks, max_blocks):
        _unique_action_ids(chunk)
        rendered.messages.append({"text": fallback_text(chunk), "blocks": chunk})
    if uploads and not rendered.messages:
        titles = ", ".join(f"*{escape(u.title)}*" for u in uploads)
        chunk = [context(f":paperclip: {titles}")]
        rendered.messages.append({"text": fallback_text(chunk), "blocks": chunk})
    return rendered


def text_message(mrkdwn: str) -> dict[str, Any]:
    """A one-section message (for short notes that are not tutor replies)."""
    chunk = sections(mrkdwn)
    return {"text": fallback_text(chunk), "blocks": chunk}


__all__ = [
    "ACTION_PREFIX",
    "MAX_BLOCKS",
    "Block",
    "Rendered",
    "Upload",
    "action_blocks",
    "button",
    "code_blocks",
    "context",
    "fallback_text",
    "header",
    "render",
    "reply_blocks",
    "section",
    "sections",
    "split_messages",
    "text_message",
]
