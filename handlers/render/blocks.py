"""Render a :class:`~bot.reply.Reply` as Slack messages made of Block Kit blocks.

One reply can become several messages (Slack allows 50 blocks per message) plus files
to upload (pictures and exports cannot be sent as blocks without a public URL). Every
message carries a plain-text ``text`` for notifications and screen readers.

Every payload is valid by construction, measured as Slack measures (UTF-16 code units,
after escaping): header text 150, section and context text 3,000, fallback ``text``
3,000, button text 75 and value 2,000, 25 elements per actions block, 50 blocks per
message, 100 per view (:func:`cap_blocks`). Command output fills sections up to the
limit and goes on in more sections (at most :data:`MAX_CODE_SECTIONS`), then says how
much was not shown. Cuts never split an entity, a link or a code span, and never leave
a fence open. Text objects are ``verbatim`` (Slack does not turn URLs, channel names or
``@here`` in the text into links or mentions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.reply import Actions, Code, Context, File, Heading, Image, Markdown, Notice, Reply, Tone
from handlers.render.mrkdwn import (
    ELLIPSIS,
    FENCE,
    SECTION_LIMIT,
    clean,
    clip_mrkdwn,
    code_cost,
    code_text,
    literal,
    message_mrkdwn,
    slack_len,
    split_mrkdwn,
    to_mrkdwn,
)

Block = dict[str, Any]

MAX_BLOCKS = 50
"""Most blocks Slack accepts in one message."""

VIEW_BLOCK_LIMIT = 100
"""Most blocks Slack accepts in a modal or App Home view."""

HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ACTIONS_PER_BLOCK = 25
FALLBACK_LIMIT = 3000
"""Most characters of the plain-text fallback of one message."""

MAX_CODE_SECTIONS = 5
"""Most sections one piece of command output fills (5 hold 2,500 characters of ``&``)."""

CODE_BUDGET = SECTION_LIMIT - 2 * len(FENCE) - 2
"""Characters of escaped output in one fenced section (``` + newline on both sides)."""

UPLOAD_NAME_LIMIT = 100
"""Characters of an uploaded file's name and title (Slack documents no lower limit)."""

UPLOAD_BYTES_LIMIT = 1 << 30
"""Slack's documented most bytes in one uploaded file (1 GB)."""

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


def clip_plain(text: str, limit: int) -> str:
    """Plain text on one line, at most ``limit`` (Slack length), with ``…`` when cut."""
    text = clean(text).replace("\n", " ")
    if slack_len(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit - 1:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ELLIPSIS


def _plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object (``emoji: false``: a ``:name:`` in the text stays text)."""
    return {"type": "plain_text", "text": clip_plain(text, limit) or " ", "emoji": False}


def mrkdwn_text(text: str) -> dict[str, Any]:
    """A verbatim mrkdwn text object (Slack adds no links or mentions of its own)."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def section(text: str) -> Block:
    """A section block with mrkdwn text, clipped safely at 3,000 (prefer :func:`sections`)."""
    return {"type": "section", "text": mrkdwn_text(clip_mrkdwn(text, SECTION_LIMIT) or " ")}


def sections(mrkdwn: str) -> list[Block]:
    """Section blocks for any length of mrkdwn, split as :func:`split_mrkdwn` does."""
    return [section(piece) for piece in split_mrkdwn(mrkdwn) if piece.strip()]


def context(mrkdwn: str) -> Block:
    """A context block with one mrkdwn element, clipped safely at 3,000."""
    return {"type": "context",
            "elements": [mrkdwn_text(clip_mrkdwn(mrkdwn, SECTION_LIMIT) or " ")]}


def header(text: str) -> Block:
    """A header block (plain text on one line, at most 150 characters)."""
    return {"type": "header", "text": _plain(text, HEADER_LIMIT)}


def _fit(line: str, room: int) -> int:
    """How many characters of ``line`` fit in ``room`` once escaped (binary search)."""
    low, high = 0, len(line)
    while low < high:
        middle = (low + high + 1) // 2
        if code_cost(line[:middle]) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def _fence(lines: list[str]) -> Block:
    body = "\n".join(code_text(line) for line in lines)
    return section(f"{FENCE}\n{body}\n{FENCE}")


def _not_shown(lines: int, characters: int, cut: int) -> str:
    if cut == 0 and lines > 1:
        return f"{ELLIPSIS} {lines:,} more lines ({characters:,} characters) not shown"
    return f"{ELLIPSIS} {characters + cut:,} more characters not shown"


def code_blocks(code: Code, *, max_sections: int = MAX_CODE_SECTIONS) -> list[Block]:
    """Command output in fenced sections, each filled up to Slack's limit after escaping.

    Output goes on in the next section at a line end (a line too long for a whole
    section is cut where the section is full). After ``max_sections`` the rest is not
    shown and a context line says how much (plus what the sandbox cut, ``code.cut``).

    The note counts every character of the cleaned output after the shown part, final
    newlines included (they show nothing, but they are output not shown), except the
    one line end where the shown part stops (as between sections). Lines count as
    ``wc -l`` would, plus a last line without a newline. With nothing cut by the
    sandbox, final newlines alone make no note.
    """
    cleaned = clean(code.text)
    text = cleaned.rstrip("\n")  # a final newline shows nothing
    final_newlines = len(cleaned) - len(text)
    lines = text.split("\n")
    shown: list[list[str]] = []
    current: list[str] = []
    size = 0
    index = 0
    while index < len(lines) and len(shown) < max_sections:
        line = lines[index]
        cost = code_cost(line) + (1 if current else 0)
        if size + cost <= CODE_BUDGET:
            current.append(line)
            size += cost
            index += 1
            continue
        last = len(shown) == max_sections - 1
        if current and code_cost(line) <= CODE_BUDGET and not last:
            shown.append(current)  # the line starts the next section whole
            current, size = [], 0
            continue
        taken = _fit(line, CODE_BUDGET - size - (1 if current else 0))
        if taken == 0 and current:
            shown.append(current)
            current, size = [], 0
            continue
        current.append(line[:taken])
        shown.append(current)
        current, size = [], 0
        if taken == len(line):
            index += 1
        else:
            lines[index] = line[taken:]
    if current:
        shown.append(current)
    blocks = [_fence(chunk) for chunk in shown if any(line.strip() for line in chunk)]
    rest = lines[index:]
    if rest or code.cut:
        characters = sum(len(line) for line in rest) + max(0, len(rest) - 1) + final_newlines
        rest_lines = len(rest) + max(0, final_newlines - 1)  # blank lines at the end too
        blocks.append(context(_not_shown(rest_lines, characters, code.cut)))
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
        "value": clip_plain(value or word, BUTTON_VALUE_LIMIT),
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
            blocks.extend(sections(f"{TONE_EMOJI[part.tone]} {message_mrkdwn(part.text)}"))
        elif isinstance(part, Context):
            blocks.append(context(message_mrkdwn(part.text)))
        elif isinstance(part, Actions):
            blocks.extend(action_blocks(part))
        elif isinstance(part, Image | File):
            upload = _upload(part)
            if len(upload.content) <= UPLOAD_BYTES_LIMIT:
                uploads.append(upload)
            else:
                blocks.append(context(f"{ELLIPSIS} {literal(upload.title)} is too large to "
                                      "upload to Slack."))
        else:  # pragma: no cover - a new part type must be rendered here
            raise TypeError(f"unknown part {part!r}")
    return blocks, uploads


def _filename(title: str, suffix: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in title.strip().lower())
    return (stem.strip("-") or "picture")[:60] + suffix


def _clip_name(name: str) -> str:
    """A file name of at most :data:`UPLOAD_NAME_LIMIT`, keeping a short extension."""
    name = name.strip()
    if slack_len(name) <= UPLOAD_NAME_LIMIT:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not 0 < len(suffix) <= 10:
        return clip_plain(name, UPLOAD_NAME_LIMIT)
    return clip_plain(stem, UPLOAD_NAME_LIMIT - len(suffix) - 1) + "." + suffix


def _upload(part: Image | File) -> Upload:
    """An upload with a bounded, path-free file name and a one-line title."""
    if isinstance(part, Image):
        content, name = part.png, _filename(part.title, ".png")
    else:
        content, name = part.content, part.filename
    name = _clip_name(clip_plain(name, len(name) + 1).replace("/", "-").replace("\\", "-"))
    title = clip_plain(part.title, UPLOAD_NAME_LIMIT).strip()
    return Upload(content, name or "file", title or name or "file")


def fallback_text(blocks: list[Block]) -> str:
    """Plain text of some blocks, for notifications (``text`` next to ``blocks``).

    Header text is escaped like everything else; the whole is clipped at 3,000 without
    cutting an entity, a link or a code span, and with every fence closed.
    """
    lines: list[str] = []
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            lines.append(literal(block["text"]["text"]))
        elif kind == "section":
            lines.append(block["text"]["text"])
        elif kind == "context":
            lines.extend(e["text"] for e in block["elements"] if "text" in e)
    return clip_mrkdwn("\n".join(lines), FALLBACK_LIMIT) or "docker-tutor"


def cap_blocks(blocks: list[Block], note: Block, limit: int = VIEW_BLOCK_LIMIT) -> list[Block]:
    """At most ``limit`` blocks: the first ones, then ``note`` saying where the rest is.

    The kept part does not end in a header or a divider (they would introduce nothing).
    """
    if len(blocks) <= limit:
        return blocks
    kept = blocks[: limit - 1]
    while kept and kept[-1]["type"] in ("header", "divider"):
        kept.pop()
    return [*kept, note]


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
        cut = max(1, cut)  # every message takes at least one block: the loop always ends
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
        titles = ", ".join(f"*{literal(u.title)}*" for u in uploads)
        chunk = [context(f":paperclip: {titles}")]
        rendered.messages.append({"text": fallback_text(chunk), "blocks": chunk})
    return rendered


def text_message(mrkdwn: str) -> dict[str, Any]:
    """A one-section message (for short notes that are not tutor replies)."""
    chunk = sections(mrkdwn)
    return {"text": fallback_text(chunk), "blocks": chunk}


__all__ = [
    "ACTION_PREFIX",
    "CODE_BUDGET",
    "FALLBACK_LIMIT",
    "HEADER_LIMIT",
    "MAX_BLOCKS",
    "MAX_CODE_SECTIONS",
    "VIEW_BLOCK_LIMIT",
    "Block",
    "Rendered",
    "Upload",
    "action_blocks",
    "button",
    "cap_blocks",
    "clip_plain",
    "code_blocks",
    "context",
    "fallback_text",
    "header",
    "mrkdwn_text",
    "render",
    "reply_blocks",
    "section",
    "sections",
    "split_messages",
    "text_message",
]
