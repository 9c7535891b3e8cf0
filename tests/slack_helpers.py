"""Helpers for the Slack tests: send correctly signed requests the way Slack does.

:func:`running_stack` serves the real Bolt app on loopback in front of any tutor service
(the real tutor on the engine, or a fake one without), with the fake Slack Web API behind
it; :class:`Stack` is what a test then talks to.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from bot.config import Settings
from bot.jobs.ordered import KeyedExecutor
from bot.service import TutorService
from handlers.app import build_app
from handlers.web.server import SlackHTTPServer
from tests.fake_slack import FakeSlack, sign

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"


@dataclass
class Sent:
    """What came back from posting one request to the app.

    Attributes:
        status: The HTTP status the app answered with.
        body: The response body.
        response_url: The fake response URL the request carried, if any.
    """

    status: int
    body: str
    response_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON (empty acks are ``None``)."""
        return json.loads(self.body) if self.body.strip() else None


class SlackSender:
    """Posts slash commands, button clicks and events to the app, signed like Slack.

    Args:
        events_url: The app's ``/slack/events`` URL.
        fake: The fake Slack (for response URLs).
        secret: The signing secret.
    """

    def __init__(self, events_url: str, fake: FakeSlack, secret: str = SECRET) -> None:
        self.events_url = events_url
        self.fake = fake
        self.secret = secret
        self._ids = itertools.count(1)

    def post(self, body: str, content_type: str, *, timestamp: int | None = None,
             secret: str | None = None, headers: dict[str, str] | None = None,
             timeout: float = 10.0) -> Sent:
        """Post a raw body with Slack's signature headers."""
        signed = sign(body, secret or self.secret, timestamp)
        request = urllib.request.Request(  # noqa: S310 - loopback http URL built by the test
            self.events_url, data=body.encode("utf-8"), method="POST",
            headers={"Content-Type": content_type, **signed, **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return Sent(response.status, response.read().decode("utf-8"),
                            headers=dict(response.headers.items()))
        except urllib.error.HTTPError as error:
            with error:
                return Sent(error.code, error.read().decode("utf-8"),
                            headers=dict(error.headers.items()))

    def command_body(self, command: str, text: str, *, user: str = "U0ALICE",
                     user_name: str = "alice", channel: str = "C0CLASS",
                     trigger_id: str | None = None,
                     response_url: str | None = None) -> tuple[str, str]:
        """A slash command payload (urlencoded) and its response URL."""
        url = response_url or self.fake.response_url()
        fields = {
            "token": "legacy-verification-token",
            "team_id": "T0FAKE",
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "class" if channel.startswith("C") else "directmessage",
            "user_id": user,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": "A0TUTOR",
            "is_enterprise_install": "false",
            "response_url": url,
            "trigger_id": trigger_id or f"{next(self._ids)}.{secrets.token_hex(6)}",
        }
        return urlencode(fields), url

    def command(self, command: str, text: str, *, headers: dict[str, str] | None = None,
                timestamp: int | None = None, secret: str | None = None,
                **fields: Any) -> Sent:
        """Post a slash command (``/tutor``, ``/docker``) as a user."""
        body, url = self.command_body(command, text, **fields)
        sent = self.post(body, "application/x-www-form-urlencoded", headers=headers,
                         timestamp=timestamp, secret=secret)
        sent.response_url = url
        return sent

    def action(self, action_id: str, value: str, *, user: str = "U0ALICE",
               channel: str = "C0CLASS", ephemeral: bool = True,
               response_url: str | None = None, view: bool = False,
               trigger_id: str | None = None,
               headers: dict[str, str] | None = None) -> Sent:
        """Post a ``block_actions`` payload: a click on one button."""
        url = response_url or self.fake.response_url()
        now = f"{time.time():.6f}"
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(),
                     "team_id": "T0FAKE"},
            "api_app_id": "A0TUTOR",
            "token": "legacy-verification-token",
            "team": {"id": "T0FAKE", "domain": "fake"},
            "trigger_id": trigger_id or f"{next(self._ids)}.{secrets.token_hex(6)}",
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b1",
                         "text": {"type": "plain_text", "text": value},
                         "value": value, "action_ts": now}],
        }
        if view:
            payload["container"] = {"type": "view", "view_id": "V0HOME"}
            payload["view"] = {"id": "V0HOME", "type": "home", "blocks": []}
        else:
            payload["container"] = {"type": "message", "message_ts": now,
                                    "channel_id": channel, "is_ephemeral": ephemeral}
            payload["channel"] = {"id": channel, "name": "class"}
            payload["response_url"] = url
        body = urlencode({"payload": json.dumps(payload)})
        sent = self.post(body, "application/x-www-form-urlencoded", headers=headers)
        sent.response_url = "" if view else url
        return sent

    def event(self, event: dict[str, Any], *, event_id: str | None = None,
              headers: dict[str, str] | None = None) -> Sent:
        """Post an Events API ``event_callback`` wrapping one event."""
        envelope = {
            "token": "legacy-verification-token",
            "team_id": "T0FAKE",
            "api_app_id": "A0TUTOR",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):06d}{secrets.token_hex(3)}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": True}],
        }
        return self.post(json.dumps(envelope), "application/json", headers=headers)

    def dm(self, text: str, *, user: str = "U0ALICE", channel: str = "D0ALICE",
           event_id: str | None = None, headers: dict[str, str] | None = None,
           **extra: Any) -> Sent:
        """Post a ``message.im`` event: the user typed ``text`` in the bot's DM."""
        event = {"type": "message", "channel": channel, "user": user, "text": text,
                 "ts": f"{time.time():.6f}", "event_ts": f"{time.time():.6f}",
                 "channel_type": "im", **extra}
        return self.event(event, event_id=event_id, headers=headers)


@dataclass
class Stack:
    """The app under test and what talks to it.

    Attributes:
        fake: The fake Slack Web API.
        sender: Posts signed requests to the app.
        server: The app's HTTP server.
        executor: The app's work queue.
        tutor: The tutor service behind the app.
        errors: Unexpected exceptions reported by the app (the fixture raises the first).
    """

    fake: FakeSlack
    sender: SlackSender
    server: SlackHTTPServer
    executor: KeyedExecutor
    tutor: Any
    errors: list[BaseException]

    def tutor_line(self, text: str, **fields: Any) -> list[Any]:
        """Send ``/tutor text`` and wait for its reply."""
        sent = self.sender.command("/tutor", text, **fields)
        assert sent.status == 200, sent
        return self.fake.wait_for_response(sent.response_url)

    def drain(self, key: str = "slack:U0ALICE") -> None:
        """Wait until everything queued so far under a key has run (its queue is FIFO)."""
        self.executor.submit(key, lambda: None).result(30)

    def docker(self, args: str, **fields: Any) -> list[Any]:
        """Send ``/docker args`` and wait for its reply."""
        sent = self.sender.command("/docker", args, **fields)
        assert sent.status == 200, sent
        return self.fake.wait_for_response(sent.response_url, timeout=60)


def slack_settings(settings: Settings, fake: FakeSlack) -> Settings:
    """The test settings plus Slack tokens pointing at the fake."""
    return replace(settings, slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                   slack_api_url=fake.url, port=0)


@contextmanager
def running_stack(settings: Settings, tutor: TutorService, fake: FakeSlack) -> Iterator[Stack]:
    """The app on a loopback port with a 32-worker pool; unexpected errors fail the test."""
    errors: list[BaseException] = []
    executor = KeyedExecutor(32, thread_name_prefix="test-tutor")
    app = build_app(slack_settings(settings, fake), tutor, executor=executor,
                    on_error=errors.append)
    server = SlackHTTPServer(app, host="127.0.0.1", port=0)
    server.start()
    try:
        yield Stack(fake, SlackSender(server.url, fake), server, executor, tutor, errors)
    finally:
        server.stop()
        executor.shutdown(wait=True, cancel_futures=True)
    if errors:
        raise errors[0]


def block_types(blocks: list[dict[str, Any]]) -> list[str]:
    """The types of some blocks, in order."""
    return [b["type"] for b in blocks]


def header_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """The texts of the header blocks."""
    return [b["text"]["text"] for b in blocks if b["type"] == "header"]
