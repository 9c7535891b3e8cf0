"""Running tutor lines off the request path and delivering the replies to Slack.

Listeners only enqueue: :meth:`Runtime.run_line` stores the line in the durable queue
(``serve``: one insert; worker processes run it, :mod:`handlers.worker`) or puts it on
the :class:`~bot.jobs.ordered.KeyedExecutor` under the learner's key (in-process), and
returns at once, so the listener can acknowledge Slack well inside its 3-second limit.
Either way one learner's lines run in the order they were typed, different learners in
parallel.

A :class:`~bot.errors.TutorError` becomes a friendly ephemeral notice. Slack refusing
a message (:class:`SlackDeliveryError`, translated from ``SlackApiError`` and network
errors where the Web API or a ``response_url`` is called) is logged as a warning with
Slack's error code: the learner cannot be told, and it is no bug. Anything else is a bug:
it is logged, handed to ``on_error`` and left on the task's future.

The tutor is reached only through :class:`bot.service.TutorService`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import DeliveryError, TutorError
from bot.identity import Person
from bot.jobs.durable import JobQueue
from bot.jobs.ordered import KeyedExecutor
from bot.reply import Context, Notice, Reply, Tone
from bot.service import TutorService
from handlers.delivery import send_all
from handlers.listeners import dedupe
from handlers.render.blocks import MAX_BLOCKS, Rendered, Upload, context, fallback_text, render
from handlers.render.mrkdwn import literal

log = logging.getLogger("docker_tutor.slack")

ErrorHook = Callable[[BaseException], None]

BUG_NOTICE = (
    "Something went wrong on my side; it has been logged for the course team. "
    "Your progress is safe. Try again in a moment."
)
"""What a learner sees when answering failed with a bug (not a TutorError)."""

NO_OUTPUT = "Done (no output)."
"""What a learner sees when the tutor's reply is empty."""


class SlackDeliveryError(DeliveryError):
    """Slack did not accept a message (an expired ``response_url``, a closed channel, ...).

    Attributes:
        code: Slack's error code (``channel_not_found``), or ``http_<status>`` for a
            ``response_url``, or ``connection_error``.
    """


@contextmanager
def delivering(what: str) -> Iterator[None]:
    """Translate Slack's delivery failures inside the block into :class:`SlackDeliveryError`.

    Args:
        what: What was being sent, for the log (``chat.postMessage``, ``response_url``).
    """
    try:
        yield
    except SlackApiError as exc:
        response = exc.response
        code = response.get("error") if response is not None else None
        status = getattr(response, "status_code", "?")
        raise SlackDeliveryError(f"Slack refused {what} (HTTP {status})",
                                 code=str(code or f"http_{status}")) from exc
    except OSError as exc:  # urllib's connection errors, after the client's own retries
        raise SlackDeliveryError(f"Slack could not be reached for {what}: {exc}",
                                 code="connection_error") from exc


class Destination(Protocol):
    """Where the messages of one reply go."""

    user_id: str

    def send(self, message: dict[str, Any], *, ephemeral: bool) -> None:
        """Post one rendered message."""

    def files_channel(self, *, ephemeral: bool) -> str | None:
        """The channel files may be uploaded to, or ``None`` for the learner's DM."""


class Respond(Protocol):
    """Bolt's ``respond`` (a poster to a ``response_url``)."""

    def __call__(self, **kwargs: Any) -> Any:
        """Post a message."""


@dataclass
class ResponseUrl:
    """Answer through the request's ``response_url`` (slash commands, message buttons).

    Attributes:
        respond: Bolt's ``respond`` for the request.
        user_id: Who asked.
        channel_id: The conversation the request came from, if known.
        shared: Post replies visible to everyone in the conversation even when the tutor
            marks them ephemeral (for buttons on a non-ephemeral message in the bot DM).
        url: The ``response_url`` itself (stored with a queued job, for its worker).
    """

    respond: Respond
    user_id: str
    channel_id: str | None = None
    shared: bool = False
    url: str | None = None

    def send(self, message: dict[str, Any], *, ephemeral: bool) -> None:
        """Post as a new message (never replacing the one the request came from)."""
        kind = "ephemeral" if ephemeral and not self.shared else "in_channel"
        with delivering("response_url"):
            response = self.respond(text=message["text"], blocks=message["blocks"],
                                    response_type=kind, replace_original=False)
        status = getattr(response, "status_code", 200)
        if status != 200:
            raise SlackDeliveryError(
                f"response_url refused the message: HTTP {status} {getattr(response, 'body', '')}",
                code=f"http_{status}",
            )

    def files_channel(self, *, ephemeral: bool) -> str | None:
        """Files of a private reply go to the learner's DM, others to the conversation."""
        if ephemeral and not self.shared:
            return None
        return self.channel_id


@dataclass
class Conversation:
    """Answer with ``chat.postMessage`` in a conversation (a DM with the bot).

    Attributes:
        client: The Web API client.
        user_id: Who asked.
        channel_id: The conversation; ``None`` opens (or finds) the DM with the user.
    """

    client: WebClient
    user_id: str
    channel_id: str | None = None

    def channel(self) -> str:
        """The conversation id, opening the DM with the user on first use."""
        if self.channel_id is None:
            self.channel_id = open_dm(self.client, self.user_id)
        return self.channel_id

    def send(self, message: dict[str, Any], *, ephemeral: bool) -> None:
        """Post a normal message (a DM is private anyway)."""
        channel = self.channel()
        with delivering("chat.postMessage"):
            self.client.chat_postMessage(channel=channel, text=message["text"],
                                         blocks=message["blocks"], unfurl_links=False,
                                         unfurl_media=False)

    def files_channel(self, *, ephemeral: bool) -> str | None:
        """Files go to the same conversation."""
        return self.channel()


def open_dm(client: WebClient, user_id: str) -> str:
    """The id of the bot's DM with a user (``conversations.open``).

    Raises:
        SlackDeliveryError: Slack refused or could not be reached.
    """
    with delivering("conversations.open"):
        response = client.conversations_open(users=user_id)
    return str(response["channel"]["id"])


def reply_to(person: Person, destination: Destination) -> dict[str, Any]:
    """Where a reply goes, as JSON for a queued job (see :func:`handlers.worker.destination`)."""
    spec: dict[str, Any] = {"user": person.user_id, "name": person.display_name or ""}
    if isinstance(destination, ResponseUrl):
        spec.update(kind="response_url", url=destination.url, channel=destination.channel_id,
                    shared=destination.shared)
    elif isinstance(destination, Conversation):
        spec.update(kind="conversation", channel=destination.channel_id)
    else:
        raise TypeError(f"cannot queue a reply to {type(destination).__name__}")
    return spec


def error_reply(error: TutorError) -> Reply:
    """A tutor error as a friendly private notice; never a traceback."""
    reply = Reply(ephemeral=True).add(Notice(error.message, Tone.ERROR))
    if error.hint:
        reply.add(Context(error.hint))
    return reply


@dataclass
class Runtime:
    """What every listener shares: the tutor, the Web API client and the work queue.

    Attributes:
        tutor: The core service.
        client: The Slack Web API client.
        executor: Runs slow work; one learner's work in order.
        on_error: Called with every unexpected exception (after it is logged).
        jobs: The durable queue: when set, :meth:`run_line` stores the line there for a
            worker process (``serve``) instead of running it on ``executor``.
    """

    tutor: TutorService
    client: WebClient
    executor: KeyedExecutor
    on_error: ErrorHook | None = None
    jobs: JobQueue | None = None

    # -- queueing -------------------------------------------------------------------------

    def submit(self, key: str, work: Callable[[], None]) -> Future[None]:
        """Queue work under a key; unexpected errors are logged and reported."""
        return self.executor.submit(key, self._guarded, work)

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            work()
        except DeliveryError as error:
            log.warning("Slack delivery failed (%s): %s", error.code, error.message)
        except Exception as exc:
            log.exception("unexpected error while answering a Slack request")
            self.report(exc)
            raise

    def report(self, error: BaseException) -> None:
        """Hand an unexpected error to ``on_error`` (tests fail on it)."""
        if self.on_error is not None:
            self.on_error(error)

    def run_line(self, person: Person, text: str, destination: Destination,
                 *, after: Callable[[], None] | None = None) -> Future[None] | None:
        """Queue one tutor line for a person; the reply goes to ``destination``.

        With :attr:`jobs` set the line is stored in the durable queue (one insert, on
        the acknowledgement path) and a worker process runs it; otherwise it runs on
        :attr:`executor`.

        Args:
            person: Who typed it.
            text: The tutor line (``next``, ``docker ps``, ...).
            destination: Where the reply goes.
            after: Runs once the reply is delivered (still in the person's queue; only
                without :attr:`jobs`).

        Returns:
            The task's future (done when the reply was delivered), or ``None`` when the
            line went to the durable queue (or was a repeat of a queued request).

        Raises:
            StoreError: The durable queue could not store the line: it will not run.
        """
        claim = dedupe.current_key.get()
        if self.jobs is not None:
            job = self.jobs.enqueue(person.key, text, reply_to(person, destination),
                                    request_key=claim)
            if job is None:
                log.info("request %s was queued before: not queued again", claim)
            return None

        def work() -> None:
            if claim is not None and not self.tutor.claim_request(claim):
                log.info("request %s was taken by another replica: not run here", claim)
                return
            self.execute(person, text, destination)
            if after is not None:
                after()

        return self.submit(person.key, work)

    def execute(self, person: Person, text: str, destination: Destination) -> None:
        """Run one line now and deliver its reply (in a worker, in the person's turn).

        A bug is told to the learner in one line (never a traceback) and re-raised.
        """
        try:
            reply = self.answer(person, text)
        except Exception:
            # The error itself still propagates to the log and to on_error (tests fail on it).
            try:
                self.deliver(Reply(ephemeral=True).add(Notice(BUG_NOTICE, Tone.ERROR)),
                             destination)
            except DeliveryError as error:
                log.warning("Slack delivery failed (%s): %s", error.code, error.message)
            raise
        self.deliver(reply, destination)

    def answer(self, person: Person, text: str) -> Reply:
        """The tutor's reply to a line; a tutor error becomes an error notice."""
        try:
            return self.tutor.handle(person, text)
        except TutorError as error:
            log.info("tutor refused %r for %s: %s", text[:80], person.key, error.message)
            return error_reply(error)

    # -- delivery -------------------------------------------------------------------------

    def deliver(self, reply: Reply, destination: Destination) -> Rendered:
        """Render a reply and post it: its messages, then its files.

        Files of a private reply go to the learner's DM with the bot; when that is not
        where the reply itself appears, the reply says so.
        """
        rendered = render(reply)
        if not rendered.messages:  # e.g. `docker exec box true`: say it ran, as a prompt would
            done = [context(NO_OUTPUT)]
            rendered.messages.append({"text": fallback_text(done), "blocks": done})
        channel: str | None = None
        if rendered.uploads:
            channel = destination.files_channel(ephemeral=reply.ephemeral)
            if channel is None:
                channel = open_dm(self.client, destination.user_id)
                titles = ", ".join(f"*{literal(u.title)}*" for u in rendered.uploads)
                note = context(f":paperclip: Sent to our DM: {titles}")
                last = rendered.messages[-1]["blocks"]
                if len(last) < MAX_BLOCKS:
                    last.append(note)
                else:
                    rendered.messages.append({"text": fallback_text([note]), "blocks": [note]})
        send_all(destination, rendered.messages, ephemeral=reply.ephemeral)
        for upload in rendered.uploads:
            self.upload(str(channel), upload)
        return rendered

    def upload(self, channel: str, upload: Upload) -> None:
        """Upload one file to a conversation (``files_upload_v2``)."""
        with delivering("files_upload_v2"):
            self.client.files_upload_v2(channel=channel, file=upload.content,
                                        filename=upload.filename, title=upload.title)


__all__ = [
    "Conversation",
    "Destination",
    "ErrorHook",
    "ResponseUrl",
    "Runtime",
    "SlackDeliveryError",
    "delivering",
    "error_reply",
    "open_dm",
    "reply_to",
]
