"""Slash commands: ``/tutor <words>`` and ``/docker <args>``.

Both acknowledge at once and run the line off the request path; the reply is posted to
the command's ``response_url``. ``/tutor`` passes its text to the tutor as it is (so
every word the tutor knows works, today's and tomorrow's; mentions stay ``<@U123|name>``);
``/docker ps -a`` becomes the line ``docker ps -a`` (links Slack detected are unwrapped,
curly quotes and em dashes reverted).
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.errors import TutorError
from handlers.inbound import command_text, docker_line, slack_person, unlink
from handlers.listeners.editor import edit_alone, open_editor
from handlers.render.blocks import context
from handlers.render.mrkdwn import escape
from handlers.runtime import Respond, ResponseUrl, Runtime

SLASH_COMMANDS = re.compile(r"^/(?:docker|tutor)$")
"""The two slash commands, matched by one listener."""

ACK_PREVIEW = 200
"""Characters of a docker command echoed in the immediate acknowledgement."""


def _person_and_destination(command: dict[str, Any], respond: Respond) -> tuple[Any, ResponseUrl]:
    person = slack_person(command["user_id"], command.get("user_name"))
    return person, ResponseUrl(respond, person.user_id, command.get("channel_id"),
                               url=command.get("response_url"))


def running_note(line: str) -> dict[str, Any]:
    """The immediate acknowledgement of a docker command: "Running `docker ps`…"."""
    shown = line if len(line) <= ACK_PREVIEW else line[: ACK_PREVIEW - 1] + "\u2026"
    shown = escape(shown.replace("`", "\u02cb"))
    text = f"Running `{shown}`\u2026"
    return {"response_type": "ephemeral", "text": text, "blocks": [context(text)]}


def not_queued_note(line: str, error: TutorError) -> dict[str, Any]:
    """The acknowledgement when a line could not be queued: it did not run, try again."""
    shown = line if len(line) <= ACK_PREVIEW else line[: ACK_PREVIEW - 1] + "\u2026"
    shown = escape(shown.replace("`", "\u02cb"))
    text = (f":warning: `{shown}` did not run: {escape(error.message)} "
            "Your progress is safe; try again in a minute.")
    return {"response_type": "ephemeral", "text": text, "blocks": [context(text)]}


def register(app: App, runtime: Runtime) -> None:
    """Listen to ``/tutor`` and ``/docker``."""

    def tutor_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        person, destination = _person_and_destination(command, respond)
        line = command_text(command.get("text", ""))
        path = edit_alone(line)
        if path is not None and command.get("trigger_id"):
            try:  # `/tutor edit Dockerfile` alone: a modal with a code box
                open_editor(runtime, command["trigger_id"], path, command.get("channel_id"))
            except SlackApiError:
                pass  # no modal: the tutor answers with edit's usage, as for any line
            else:
                ack()
                return
        try:
            runtime.run_line(person, line, destination)
        except TutorError as error:
            ack(**not_queued_note(f"/tutor {line}".strip(), error))
            return
        ack()

    def docker_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        person, destination = _person_and_destination(command, respond)
        args = docker_line(command_text(unlink(command.get("text", ""))))
        line = f"docker {args}".strip()
        try:
            runtime.run_line(person, line, destination)
        except TutorError as error:
            ack(**not_queued_note(line, error))
            return
        ack(**running_note(line))

    # One listener for both: Bolt matches each request against the listeners in turn, and
    # each match costs an argument injection; one pattern costs one whatever the command.
    @app.command(SLASH_COMMANDS)
    def slash_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        if command.get("command") == "/docker":
            docker_command(ack, command, respond)
        else:
            tutor_command(ack, command, respond)


__all__ = ["not_queued_note", "register", "running_note"]
