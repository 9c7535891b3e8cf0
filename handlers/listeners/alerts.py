"""Stuck alerts: one DM per instructor with the learners who just became stuck, and its buttons.

:class:`AlertLoop` runs beside ``serve``: every ``TUTOR_ALERT_SECONDS`` it asks the tutor
for learners who became stuck (each learner, step and reason is claimed once in the
database, so replicas never repeat an alert) and sends every instructor one message
gathering them all: that interval is both the batch window and the rate limit.

The buttons, for instructors only:

* ``alert_thread`` opens a group DM with the instructor, the learner and the bot, and
  says there why the instructor came;
* ``alert_hint`` runs the learner's own ``hint`` and sends it to the learner's DM;
* ``alert_mute`` stops alerts about that learner in that lesson.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import TutorError
from bot.identity import Person
from bot.service import StuckAlert, TutorService
from handlers.inbound import slack_person
from handlers.render.mrkdwn import escape
from handlers.runtime import Conversation, Respond, Runtime, delivering, open_dm

log = logging.getLogger(__name__)

THREAD, HINT, MUTE = "alert_thread", "alert_hint", "alert_mute"
"""The action ids of the alert's buttons."""

MAX_ALERTS_SHOWN = 15
"""Learners named in one message; more are counted (Slack allows 50 blocks a message)."""


def _value(alert: StuckAlert) -> str:
    return json.dumps({"k": alert.learner_key, "l": alert.lesson_id}, separators=(",", ":"))


def alert_blocks(alerts: list[StuckAlert]) -> tuple[str, list[dict[str, Any]]]:
    """The message text and blocks naming every stuck learner, with their three buttons."""
    count = len(alerts)
    title = f"{count} learner{'s' if count != 1 else ''} look{'s' if count == 1 else ''} stuck"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title}}]
    for alert in alerts[:MAX_ALERTS_SHOWN]:
        lines = "\n".join(f"`{escape(line)}`" for line in alert.last_lines) or "_no line on this step yet_"
        diagnosis = f"\nTutor's diagnosis: `{escape(alert.diagnosis)}`" if alert.diagnosis else ""
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            f"*{escape(alert.learner_name)}* · {escape(alert.lesson_title)}, "
            f"{escape(alert.step_label)}\n{escape(alert.detail)}{diagnosis}\n{lines}")}})
        value = _value(alert)
        name = alert.learner_name[:40]
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "action_id": THREAD, "value": value,
             "text": {"type": "plain_text", "text": f"Open a thread with {name}"[:75]}},
            {"type": "button", "action_id": HINT, "value": value, "style": "primary",
             "text": {"type": "plain_text", "text": "Send a hint"}},
            {"type": "button", "action_id": MUTE, "value": value,
             "text": {"type": "plain_text", "text": "Mute"}},
        ]})
    if count > MAX_ALERTS_SHOWN:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"… and {count - MAX_ALERTS_SHOWN} more: `/tutor progress live` shows everyone.")}]})
    names = ", ".join(alert.learner_name for alert in alerts[:MAX_ALERTS_SHOWN])
    return f"{title}: {names}", blocks


class AlertLoop:
    """Send instructors the learners who became stuck, every ``interval`` seconds.

    Args:
        tutor: The core service.
        client: The Slack Web API client.
        instructors: Slack user ids of the instructors.
        interval: Seconds between two looks (the batch window and the rate limit).
    """

    def __init__(self, tutor: TutorService, client: WebClient, instructors: frozenset[str],
                 interval: float) -> None:
        self.tutor = tutor
        self.client = client
        self.instructors = sorted(user for user in instructors if user[:1] in ("U", "W"))
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Look once and send what is new; returns how many learners were told about."""
        try:
            alerts = self.tutor.stuck_alerts()
        except TutorError as error:
            log.warning("stuck alerts: could not read the class (%s)", error)
            return 0
        if not alerts:
            return 0
        text, blocks = alert_blocks(alerts)
        for user in self.instructors:
            try:
                channel = open_dm(self.client, user)
                self.client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                             unfurl_links=False)
            except (TutorError, SlackApiError) as error:
                log.warning("stuck alerts: could not tell %s: %s", user, error)
        return len(alerts)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def start(self) -> AlertLoop:
        """Look every ``interval`` seconds on a daemon thread (nothing to do without instructors)."""
        if self.instructors:
            self._thread = threading.Thread(target=self._loop, name="stuck-alerts", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop looking."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def _target(action: dict[str, Any]) -> tuple[str, str] | None:
    try:
        value = json.loads(str(action.get("value") or ""))
        return str(value["k"]), str(value["l"])
    except (ValueError, KeyError, TypeError):
        return None


def _learner(key: str) -> Person | None:
    platform, _, user_id = key.partition(":")
    return Person(platform, user_id) if platform == "slack" and user_id else None


def register(app: App, runtime: Runtime) -> None:
    """Listen to the three buttons of a stuck alert."""

    def tell(respond: Respond, text: str) -> None:
        respond(text=text, response_type="ephemeral", replace_original=False)

    def allowed(body: dict[str, Any], respond: Respond) -> Person | None:
        user = body.get("user") or {}
        person = slack_person(str(user.get("id", "")), user.get("username") or user.get("name"))
        if runtime.tutor.is_instructor(person):
            return person
        tell(respond, "These buttons are for the class's instructors.")
        return None

    def parties(body: dict[str, Any], action: dict[str, Any],
                respond: Respond) -> tuple[Person, Person] | None:
        """The instructor who clicked and the learner the alert names (``None``: neither)."""
        instructor, target = allowed(body, respond), _target(action)
        learner = _learner(target[0]) if target else None
        return None if instructor is None or learner is None else (instructor, learner)

    @app.action(THREAD)
    def open_thread(ack: Ack, body: dict[str, Any], action: dict[str, Any],
                    respond: Respond) -> None:
        ack()
        found = parties(body, action, respond)
        if found is None:
            return
        instructor, learner = found
        try:
            with delivering("conversations.open"):
                response = runtime.client.conversations_open(
                    users=f"{instructor.user_id},{learner.user_id}")
            with delivering("chat.postMessage"):
                runtime.client.chat_postMessage(channel=str(response["channel"]["id"]), text=(
                    f"Hi <@{learner.user_id}>, <@{instructor.user_id}> is here to help with "
                    "where you are in the lesson. Tell us what you tried, right here."))
        except TutorError as error:
            tell(respond, f"Slack refused the conversation: {error}")
            return
        tell(respond, f"Opened a conversation with <@{learner.user_id}>.")

    @app.action(HINT)
    def send_hint(ack: Ack, body: dict[str, Any], action: dict[str, Any],
                  respond: Respond) -> None:
        ack()
        found = parties(body, action, respond)
        if found is None:
            return
        instructor, learner = found
        destination = Conversation(runtime.client, learner.user_id)
        try:
            destination.send({"text": f"<@{instructor.user_id}> sent you a hint for the step "
                                      "you are on:", "blocks": []}, ephemeral=False)
            runtime.run_line(learner, "hint", destination)
        except TutorError as error:
            tell(respond, f"The hint could not be sent: {error}")
            return
        tell(respond, f"Sent <@{learner.user_id}> their next hint.")

    @app.action(MUTE)
    def mute(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        instructor, target = allowed(body, respond), _target(action)
        if instructor is None or target is None:
            return
        try:
            fresh = runtime.tutor.mute_alerts(instructor, *target)
        except TutorError as error:
            tell(respond, str(error))
            return
        tell(respond, "Muted: no more alerts about this learner in this lesson." if fresh
             else "Already muted.")


__all__ = ["HINT", "MUTE", "THREAD", "AlertLoop", "alert_blocks", "register"]
