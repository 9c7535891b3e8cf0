"""A file editor in Slack: ``/tutor edit FILE`` with no text opens a modal with a code box.

A Dockerfile has several lines; typing them after ``/tutor edit Dockerfile`` works
(Shift+Enter), but a modal with a multi-line box is kinder. The slash command's
``trigger_id`` opens it (Slack allows 3 seconds, so nothing else happens on that path);
its submission becomes the tutor line ``edit FILE`` + newline + the text, answered in the
learner's DM, exactly as if typed. The tutor checks the path and the text (``edit``'s own
rules); the modal only carries them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt import Ack, App

from bot.errors import TutorError
from handlers.inbound import slack_person
from handlers.runtime import Conversation, Runtime

CALLBACK = "tutor_edit_file"
"""The modal's ``callback_id``."""

MAX_TEXT = 3000
"""The most characters the code box takes (Slack's limit for a plain-text input)."""

_EDIT_ALONE = re.compile(r"^edit\s+(\S{1,100})\s*$")


def edit_alone(line: str) -> str | None:
    """The file of a bare ``edit FILE`` (no text), which opens the editor; else ``None``."""
    match = _EDIT_ALONE.match(line.strip())
    return match.group(1) if match else None


def editor_view(path: str, channel: str | None) -> dict[str, Any]:
    """The modal: one multi-line box for the file's new text."""
    return {
        "type": "modal",
        "callback_id": CALLBACK,
        "private_metadata": json.dumps({"path": path, "channel": channel or ""}),
        "title": {"type": "plain_text", "text": "Edit a file"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "input", "block_id": "file",
             "label": {"type": "plain_text", "text": path[:150]},
             "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                         "max_length": MAX_TEXT,
                         "placeholder": {"type": "plain_text",
                                         "text": "FROM busybox\nCMD [\"echo\", \"hello\"]"}}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text":
                "Saved in your workspace (`$(pwd)`) as with `edit FILE TEXT`; the whole "
                "file is replaced."}]},
        ],
    }


def open_editor(runtime: Runtime, trigger_id: str, path: str, channel: str | None) -> None:
    """Open the editor for ``path`` (on the slash command's acknowledgement path)."""
    runtime.client.views_open(trigger_id=trigger_id, view=editor_view(path, channel))


def register(app: App, runtime: Runtime) -> None:
    """Listen to the editor's submissions."""

    @app.view(CALLBACK)
    def save(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        user = body.get("user") or {}
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            meta = {}
        path = str(meta.get("path") or "")
        values = ((view.get("state") or {}).get("values") or {}).get("file") or {}
        text = str((values.get("text") or {}).get("value") or "")
        if not path or edit_alone(f"edit {path}") is None:
            return
        person = slack_person(user["id"], user.get("username") or user.get("name"))
        destination = Conversation(runtime.client, person.user_id)
        try:
            runtime.run_line(person, f"edit {path}\n{text}", destination)
        except TutorError as error:
            note = {"text": f":warning: `edit {path}` did not run: {error.message}"}
            runtime.submit(person.key, lambda: destination.send(note, ephemeral=True))


__all__ = ["CALLBACK", "edit_alone", "editor_view", "open_editor", "register"]
