"""Check Slack payloads as Slack would: slack_sdk's own Block Kit models plus documented limits.

Every block goes through ``slack_sdk.models.blocks.Block.parse(...)``, ``validate_json()``
and ``to_dict()`` (which validates nested elements and must give the block back
unchanged, so a misspelt key is caught); every view through
``slack_sdk.models.views.View``. On top of the models, texts are checked as Slack
counts them (UTF-16 code units, after escaping): section and context text 3,000,
header 150, fallback ``text`` 3,000; and as mrkdwn: every ``&`` starts an entity, every
``<...>`` is a link the renderer made (never a mention or ``<!channel>``), fences are
balanced, no control characters. :data:`TALLY` counts what was checked.

:class:`StrictFakeSlack` is the fake Web API with these checks built in: it refuses an
invalid ``chat.postMessage`` or ``views.publish`` with ``invalid_blocks`` or
``msg_too_long`` as Slack does, and collects every problem in a posted response.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from handlers.render.blocks import FALLBACK_LIMIT, HEADER_LIMIT, MAX_BLOCKS, VIEW_BLOCK_LIMIT, Rendered
from handlers.render.blocks import Upload as RenderedUpload
from handlers.render.mrkdwn import SECTION_LIMIT, slack_len
from tests.fake_slack import RESPONSE, Call, FakeSlack

BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ACTION_ID_LIMIT = 255
UPLOAD_NAME_LIMIT = 255
UPLOAD_BYTES_LIMIT = 1 << 30

_BAD_AMP = re.compile(r"&(?!amp;|lt;|gt;)")
_ANGLED = re.compile(r"<([^<>]*)>")
_LINK = re.compile(r"^(?:https?://|mailto:)[^\s<>|]+(?:\|[^<>|]*)?$")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


@dataclass
class Tally:
    """What the checks have seen, for the report."""

    payloads: int = 0
    blocks: int = 0
    views: int = 0
    uploads: int = 0
    longest_section: int = 0
    longest_fallback: int = 0

    def __str__(self) -> str:
        return (f"{self.payloads} payloads ({self.views} views), {self.blocks} blocks, "
                f"{self.uploads} uploads; longest section {self.longest_section}, "
                f"longest fallback {self.longest_fallback} (UTF-16 units)")


TALLY = Tally()


class PayloadError(AssertionError):
    """A payload Slack would refuse (or show wrongly)."""


def mrkdwn_problems(text: str, limit: int) -> list[str]:
    """What is wrong with a mrkdwn text: length, entities, angle brackets, fences, controls."""
    problems = []
    if not text:
        problems.append("empty text")
    if slack_len(text) > limit:
        problems.append(f"{slack_len(text)} > {limit} characters")
    if match := _BAD_AMP.search(text):
        problems.append(f"raw or cut entity at {match.start()}: {text[match.start():][:12]!r}")
    angled = _ANGLED.findall(text)
    for inner in angled:
        if not _LINK.match(inner):
            problems.append(f"markup <{inner[:40]}> that the renderer did not make")
    if text.count("<") != len(angled) or text.count(">") != len(angled):
        problems.append("an unescaped < or > outside a link")
    if text.count("```") % 2:
        problems.append("a code fence left open")
    if match := _CONTROL.search(text):
        problems.append(f"control character {match.group()!r}")
    return problems


def _fail(where: str, problems: list[str]) -> None:
    if problems:
        raise PayloadError(f"{where}: " + "; ".join(problems))


def _plain_problems(obj: dict[str, Any], limit: int) -> list[str]:
    text = obj.get("text", "")
    problems = []
    if obj.get("type") != "plain_text":
        problems.append(f"type {obj.get('type')!r} is not plain_text")
    if not text or slack_len(text) > limit:
        problems.append(f"plain text of {slack_len(text)} characters (1..{limit})")
    if match := _CONTROL.search(text):
        problems.append(f"control character {match.group()!r}")
    return problems


def check_block(block: dict[str, Any]) -> None:
    """One block: slack_sdk's model (parsed, validated, unchanged), then Slack's limits."""
    parsed = Block.parse(block)
    if parsed is None:
        raise PayloadError(f"slack_sdk does not know the block {block!r:.200}")
    parsed.validate_json()
    if parsed.to_dict() != block:
        raise PayloadError(f"slack_sdk reads the block differently: {block!r:.300}")
    kind = block["type"]
    if kind == "section":
        text = block["text"]["text"]
        if block["text"]["type"] == "mrkdwn":
            _fail("section", mrkdwn_problems(text, SECTION_LIMIT))
    elif kind == "header":
        _fail("header", _plain_problems(block["text"], HEADER_LIMIT))
    elif kind == "context":
        for element in block["elements"]:
            if element.get("type") == "mrkdwn":
                _fail("context", mrkdwn_problems(element["text"], SECTION_LIMIT))
    elif kind == "actions":
        for element in block["elements"]:
            problems = _plain_problems(element["text"], BUTTON_TEXT_LIMIT)
            if not 0 < slack_len(element.get("value", "x")) <= BUTTON_VALUE_LIMIT:
                problems.append("button value length")
            if len(element["action_id"]) > ACTION_ID_LIMIT:
                problems.append("action_id length")
            _fail("button", problems)
    if isinstance(block.get("accessory"), dict) and block["accessory"].get("type") == "button":
        _fail("accessory", _plain_problems(block["accessory"]["text"], BUTTON_TEXT_LIMIT))
    TALLY.blocks += 1
    if kind == "section":
        TALLY.longest_section = max(TALLY.longest_section, slack_len(block["text"]["text"]))


def _repeated_action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    """action_ids repeated inside one block (Slack requires them unique per block)."""
    repeated = []
    for block in blocks:
        ids = [e["action_id"] for e in block.get("elements", ()) if "action_id" in e]
        if isinstance(block.get("accessory"), dict) and "action_id" in block["accessory"]:
            ids.append(block["accessory"]["action_id"])
        repeated += sorted({i for i in ids if ids.count(i) > 1})
    return repeated


def check_message(message: dict[str, Any], *, max_blocks: int = MAX_BLOCKS) -> None:
    """A message (``text`` and ``blocks``, as posted or sent to a response_url)."""
    blocks = message.get("blocks") or []
    if not 0 < len(blocks) <= max_blocks:
        raise PayloadError(f"{len(blocks)} blocks (1..{max_blocks})")
    text = message.get("text") or ""
    _fail("fallback text", mrkdwn_problems(text, FALLBACK_LIMIT))
    if repeated := _repeated_action_ids(blocks):
        raise PayloadError(f"action_id repeated in a block: {repeated}")
    for block in blocks:
        check_block(block)
    TALLY.payloads += 1
    TALLY.longest_fallback = max(TALLY.longest_fallback, slack_len(text))


def check_view(view: dict[str, Any]) -> None:
    """A modal or Home view: slack_sdk's View, at most 100 blocks, every block."""
    model = View(**view)
    model.validate_json()
    model.to_dict()
    blocks = view.get("blocks") or []
    if not 0 < len(blocks) <= VIEW_BLOCK_LIMIT:
        raise PayloadError(f"view with {len(blocks)} blocks (1..{VIEW_BLOCK_LIMIT})")
    if repeated := _repeated_action_ids(blocks):
        raise PayloadError(f"action_id repeated in a block: {repeated}")
    for block in blocks:
        check_block(block)
    TALLY.payloads += 1
    TALLY.views += 1


def check_upload(upload: RenderedUpload) -> None:
    """A file to upload: bounded size, a one-line name without a path, a title."""
    problems = []
    if not 0 < len(upload.content) <= UPLOAD_BYTES_LIMIT:
        problems.append(f"{len(upload.content)} bytes")
    for name, value in (("filename", upload.filename), ("title", upload.title)):
        if not value or len(value) > UPLOAD_NAME_LIMIT or _CONTROL.search(value) or "\n" in value:
            problems.append(f"{name} {value!r:.60}")
    if "/" in upload.filename or "\\" in upload.filename:
        problems.append("a path in the file name")
    _fail("upload", problems)
    TALLY.uploads += 1


def check_rendered(rendered: Rendered) -> None:
    """Every message and upload of a rendered reply."""
    for message in rendered.messages:
        check_message(message)
    for upload in rendered.uploads:
        check_upload(upload)


def check_call(call: Call) -> None:
    """A call the bot made to the fake Slack: messages, responses and views are checked."""
    if call.method in (RESPONSE, "chat.postMessage", "chat.postEphemeral"):
        check_message({k: v for k, v in call.body.items() if k != "_refused"})
    elif call.method == "views.publish":
        check_view(call.body["view"])


def slack_error(payload: dict[str, Any], *, view: bool = False) -> str | None:
    """The error Slack would answer for a payload (``invalid_blocks``, ...), or None."""
    try:
        if view:
            check_view(payload)
        else:
            check_message(payload)
    except PayloadError as error:
        return "msg_too_long" if "fallback text" in str(error) else "invalid_blocks"
    except Exception:  # slack_sdk's SlackObjectFormationError and malformed dicts
        return "invalid_blocks"
    return None


class StrictFakeSlack(FakeSlack):
    """The fake Web API, refusing what Slack would refuse and noting bad responses.

    Attributes:
        problems: Every problem found in a payload posted to a fake ``response_url``
            (those always answer 200 here, so the test must look at this list).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.problems: list[str] = []

    def _api(self, method: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        if method == "chat.postMessage" and (error := slack_error(body)):
            return {"ok": False, "error": error}
        if method == "views.publish" and isinstance(body.get("view"), dict) and (
                error := slack_error(body["view"], view=True)):
            return {"ok": False, "error": error}
        return super()._api(method, body, headers)

    def _record(self, call: Call) -> None:
        if call.method == RESPONSE:
            try:
                check_call(call)
            except Exception as error:  # every problem is collected
                self.problems.append(f"{call.target}: {error}")
        super()._record(call)


__all__ = [
    "TALLY",
    "PayloadError",
    "StrictFakeSlack",
    "Tally",
    "check_block",
    "check_call",
    "check_message",
    "check_rendered",
    "check_upload",
    "check_view",
    "mrkdwn_problems",
    "slack_error",
]
