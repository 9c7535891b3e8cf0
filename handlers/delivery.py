"""When Slack refuses a message, the learner gets one short notice instead of silence.

Payloads are built valid (:mod:`handlers.render.blocks`), but Slack may still refuse one
(``invalid_blocks``, ``msg_too_long``, a limit Slack tightens later). Without this the
refusal is an exception in a background task: logged, and the learner sees nothing.
:func:`send_all` posts a reply's messages and, for the first refused one, a short
plain notice in its place (what happened, that the work was done, what to try).
Anything else (an expired ``response_url``, a network error) still raises.

Call it where a rendered reply is posted: in ``Runtime.deliver``, instead of
``destination.send(message, ephemeral=...)`` for each message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

from bot.errors import DeliveryError
from handlers.render.blocks import fallback_text, section

log = logging.getLogger("docker_tutor.slack")

REFUSALS = frozenset({
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "msg_blocks_too_long",
    "too_many_blocks",
    "invalid_attachments",
    "invalid_arguments",
    "no_text",
})
"""Slack errors that mean "this message, as built, is not accepted" (not "try again")."""

DELIVERY_NOTICE = (
    ":warning: Slack did not accept my answer to that (too long, or in a form it refuses), "
    "so it is not shown here. What you asked for was done and your progress is safe: "
    "`/tutor show` shows the lesson again, and a command with less output shows its result."
)
"""The learner's notice in place of a refused message (short, plain, always accepted)."""


class Sender(Protocol):
    """Where messages go (``handlers.runtime.Destination``)."""

    def send(self, message: dict[str, Any], *, ephemeral: bool) -> None:
        """Post one rendered message."""


def refusal(error: BaseException) -> str | None:
    """The Slack error code if ``error`` means Slack refused the message as built, else None.

    A Web API refusal carries the code in its response (``SlackApiError``); a
    ``response_url`` answers it in the body, which the sender's error message quotes.
    """
    if isinstance(error, DeliveryError) and error.code in REFUSALS:
        return error.code
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if error.response is not None else None
        return str(code) if code in REFUSALS else None
    if isinstance(error, DeliveryError) and error.code in REFUSALS:
        return error.code
    text = str(error)
    return next((code for code in sorted(REFUSALS) if code in text), None)


def notice_message() -> dict[str, Any]:
    """The short notice as a message (one section; its own fallback text)."""
    blocks = [section(DELIVERY_NOTICE)]
    return {"text": fallback_text(blocks), "blocks": blocks}


def send_all(destination: Sender, messages: Iterable[dict[str, Any]], *,
             ephemeral: bool) -> int:
    """Post messages in order; a refused one is logged and replaced by one notice.

    Args:
        destination: Where the messages go.
        messages: Rendered messages (``{"text": ..., "blocks": [...]}``).
        ephemeral: Show only to the person who asked.

    Returns:
        How many messages Slack refused (0 when all were posted).

    Raises:
        SlackApiError | DeliveryError: A failure that is not a refusal (or the notice
            itself failed).
    """
    refused = 0
    for message in messages:
        try:
            destination.send(message, ephemeral=ephemeral)
            continue
        except (SlackApiError, DeliveryError) as error:
            code = refusal(error)
            if code is None:
                raise
        refused += 1
        log.warning("Slack refused a message (%s): %d blocks, %d characters of fallback text",
                    code, len(message.get("blocks") or ()), len(message.get("text") or ""))
        if refused == 1:
            destination.send(notice_message(), ephemeral=ephemeral)
    return refused


__all__ = ["DELIVERY_NOTICE", "REFUSALS", "Sender", "notice_message", "refusal", "send_all"]
