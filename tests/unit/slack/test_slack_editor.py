"""Slack's file editor: `/tutor edit FILE` alone opens a modal; its submission is an `edit`."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from bot.identity import Person
from bot.reply import Reply
from handlers.listeners.editor import CALLBACK, edit_alone
from tests.fake_slack import FakeSlack
from tests.fake_tutor import EnginelessTutor
from tests.slack_helpers import Stack
from tests.unit.slack.test_slack import fake, service, stack  # noqa: F401  (the Slack stack's fixtures)


def test_only_a_bare_edit_of_a_file_opens_the_editor() -> None:
    """`edit Dockerfile` opens it; `edit Dockerfile TEXT`, other words and odd paths do not."""
    assert edit_alone("edit Dockerfile") == "Dockerfile"
    assert edit_alone("  edit src/app.py ") == "src/app.py"
    assert edit_alone("edit Dockerfile FROM busybox") is None
    assert edit_alone("edit") is None and edit_alone("next") is None


def test_the_editor_opens_and_its_text_is_saved_as_an_edit(
    stack: Stack, fake: FakeSlack, service: EnginelessTutor  # noqa: F811
) -> None:
    """The modal carries the path; its submitted text reaches the tutor as `edit FILE` + lines."""
    seen: list[str] = []
    handle = service.handle

    def record(person: Person, text: str) -> Reply:
        seen.append(text)
        return handle(person, text)

    service.handle = record  # type: ignore[method-assign]
    sent = stack.sender.command("/tutor", "edit Dockerfile")
    assert sent.status == 200
    call = fake.wait_for("views.open")
    view = call.body["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == CALLBACK
    assert json.loads(view["private_metadata"])["path"] == "Dockerfile"
    assert view["blocks"][0]["element"]["multiline"] is True
    assert seen == []  # opening the editor runs no tutor line
    text = 'FROM busybox\nCMD ["echo", "hi"]'
    payload = {
        "type": "view_submission", "team": {"id": "T0FAKE"}, "api_app_id": "A0TUTOR",
        "token": "legacy-verification-token", "trigger_id": "1.2",
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0FAKE"},
        "view": {**view, "id": "V1", "state": {"values": {"file": {"text": {
            "type": "plain_text_input", "value": text}}}}},
    }
    sent = stack.sender.post(urlencode({"payload": json.dumps(payload)}),
                             "application/x-www-form-urlencoded")
    assert sent.status == 200
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == [f"edit Dockerfile\n{text}"]
    fake.wait_for("chat.postMessage", lambda c: c.body.get("channel") in ("D0ALICE", "U0ALICE"))
