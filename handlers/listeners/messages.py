"""Direct messages: the App Home's Messages tab is a terminal without the slashes.

In a DM with the bot a line starting with ``docker`` runs as a learner command, a tutor
word (every word of ``TutorService.words()``: ``next``, ``hint``, ``start
data-persistence``, ``answer 2``, ``edit ...``) works as the ``/tutor`` subcommand, and
anything else gets a short help. Replies are posted
in the DM with ``chat.postMessage``. Bot messages and message subtypes (edits,
deletions, joins) are ignored.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.errors import TutorError
from handlers.inbound import docker_line, is_docker, message_text, slack_person
from handlers.listeners.commands import not_queued_note
from handlers.render.blocks import text_message
from handlers.runtime import Conversation, Runtime

SHORT_HELP = (
    "I run Docker lessons here. Type a docker command as in a terminal, e.g. `docker ps -a`, "
    "or a tutor word: `start`, `next`, `back`, `hint`, `check`, `show`, `status`, "
    "`lessons`, `help`."
)


def route(text: str, words: frozenset[str]) -> str | None:
    """The tutor line for a DM, or ``None`` when the DM is not one."""
    if is_docker(text):
        return docker_line(text)
    word = text.split(maxsplit=1)[0].lower() if text.strip() else ""
    if word in words:
        return text
    return None


def is_learner_dm(event: dict[str, Any]) -> bool:
    """Whether an event is a plain message a person wrote in a DM."""
    return (
        event.get("channel_type") == "im"
        and not event.get("subtype")
        and not event.get("bot_id")
        and bool(event.get("user"))
    )


def register(app: App, runtime: Runtime) -> None:
    """Listen to ``message`` events in DMs (``message.im``)."""

    @app.event("message")
    def direct_message(event: dict[str, Any]) -> None:
        if not is_learner_dm(event):
            return
        person = slack_person(event["user"])
        destination = Conversation(runtime.client, person.user_id, event["channel"])
        line = route(message_text(event.get("text") or ""), runtime.tutor.words())
        if line is not None:
            try:
                runtime.run_line(person, line, destination)
            except TutorError as error:  # not queued: say so in the DM, off the ack path
                note = not_queued_note(line, error)
                runtime.submit(person.key, lambda: destination.send(note, ephemeral=False))
            return
        note = text_message(SHORT_HELP)
        runtime.submit(person.key, lambda: destination.send(note, ephemeral=False))


__all__ = ["SHORT_HELP", "is_learner_dm", "register", "route"]
