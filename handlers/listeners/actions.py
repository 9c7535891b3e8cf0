"""Buttons: every ``tutor_*`` button runs its tutor line for whoever clicks it.

The button's ``value`` is the line (``next``, ``hint``, ``answer 2``); the reply is a
new message (never replacing the lesson it was clicked on), sent to the action's
``response_url``. Buttons in the App Home have no ``response_url``; their replies go to
the learner's DM. (The App Home's own Resume button lives in :mod:`handlers.listeners.home`.)
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.errors import TutorError
from handlers.inbound import slack_person
from handlers.listeners.commands import not_queued_note
from handlers.render.blocks import ACTION_PREFIX
from handlers.runtime import Conversation, Destination, Respond, ResponseUrl, Runtime

_TUTOR_ACTION = re.compile(rf"^{ACTION_PREFIX}")


def _destination(body: dict[str, Any], respond: Respond, runtime: Runtime,
                 user_id: str) -> Destination:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    if body.get("response_url"):
        # A button on a normal message in a DM (the bot's DM): answer in the DM for good.
        # Anywhere else the answer is private to whoever clicked.
        shared = (container.get("type") == "message" and not container.get("is_ephemeral")
                  and str(channel or "").startswith("D"))
        return ResponseUrl(respond, user_id, channel, shared=shared, url=body["response_url"])
    return Conversation(runtime.client, user_id)


def register(app: App, runtime: Runtime) -> None:
    """Listen to every ``tutor_*`` button."""

    @app.action(_TUTOR_ACTION)
    def tutor_button(ack: Ack, body: dict[str, Any], action: dict[str, Any],
                     respond: Respond) -> None:
        user = body.get("user") or {}
        line = str(action.get("value") or "").strip()
        if line:
            person = slack_person(user["id"], user.get("username") or user.get("name"))
            destination = _destination(body, respond, runtime, person.user_id)
            try:
                runtime.run_line(person, line, destination)
            except TutorError as error:
                # A button's acknowledgement shows nothing: say it in the conversation.
                note = not_queued_note(line, error)
                runtime.submit(person.key, lambda: destination.send(note, ephemeral=True))
        ack()


__all__ = ["register"]
