"""The Slack front end end to end: signed HTTP requests in, Web API calls out.

Every test runs the real pipeline: a fake Slack Web API on loopback, the app's own HTTP
server on loopback, correctly signed requests, and a tutor service behind it. No Docker
engine is needed: tutor words go to the real tutor on the real store, docker lines to
:class:`tests.fake_tutor.EnginelessTutor` (``test_slack_engine.py`` runs them on the real
engine). Any unexpected exception in a listener or a background task fails the test that
caused it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from pytest_mock import MockerFixture
from slack_sdk.http_retry import builtin_handlers

from bot.config import Settings
from bot.identity import Person
from bot.jobs.ordered import KeyedExecutor
from bot.reply import File, Image, Markdown, Reply
from bot.service import TutorService
from bot.tutor.core import Tutor
from handlers.app import build_app
from handlers.web.server import SlackHTTPServer
from tests.fake_slack import RESPONSE, FakeSlack
from tests.fake_tutor import NO_ENGINE_OUTPUT, EnginelessTutor
from tests.payload_check import StrictFakeSlack
from tests.slack_helpers import (
    TOKEN,
    SlackSender,
    Stack,
    block_types,
    header_texts,
    running_stack,
    slack_settings,
)

LESSON = "data-persistence"
FIRST_STEP = "Containers are disposable"
SECOND_STEP = "The ephemeral writable layer"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A fake Slack Web API that insists on the bot token and checks every payload."""
    with StrictFakeSlack(token=TOKEN) as slack:
        yield slack
    assert slack.problems == []


@pytest.fixture
def service(tutor_no_engine: Tutor) -> EnginelessTutor:
    """The tutor service behind the app: the real tutor, docker lines without an engine."""
    return EnginelessTutor(tutor_no_engine)


@pytest.fixture
def stack(settings: Settings, service: EnginelessTutor, fake: FakeSlack) -> Iterator[Stack]:
    """The app on a loopback port with a 32-worker pool; unexpected errors fail the test."""
    with running_stack(settings, service, fake) as running:
        yield running


def test_the_fake_service_implements_the_tutor_service(service: EnginelessTutor) -> None:
    """The engine-less service offers every method of the TutorService Protocol."""
    assert isinstance(service, TutorService)
    assert isinstance(service.tutor, TutorService)


def _person(user: str = "U0ALICE", name: str = "alice") -> Person:
    return Person("slack", user, name)


# -- slash commands ---------------------------------------------------------------------


def test_tutor_start_posts_the_first_section_as_blocks(stack: Stack) -> None:
    """`/tutor start` acks empty at once and posts the first section to the response_url."""
    sent = stack.sender.command("/tutor", f"start {LESSON}")
    assert sent.status == 200
    assert sent.body == ""
    [reply] = stack.fake.wait_for_response(sent.response_url)
    body = reply.body
    assert body["response_type"] == "ephemeral"
    assert body["replace_original"] is False
    blocks = reply.blocks()
    assert header_texts(blocks) == [FIRST_STEP]
    assert block_types(blocks)[:2] == ["header", "section"]
    assert "*\U0001f4be 04. Data Persistence*" in reply.texts()
    assert "**" not in reply.texts()
    actions = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [e["action_id"] for e in actions] == ["tutor_next"]
    assert body["text"]
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")


def test_a_tutor_error_is_a_friendly_private_notice(stack: Stack) -> None:
    """`/tutor next` before any lesson: an ephemeral error notice, no traceback, no bug."""
    [reply] = stack.tutor_line("next")
    assert reply.body["response_type"] == "ephemeral"
    text = reply.texts()
    assert ":x:" in text and "start" in text
    assert "Traceback" not in text


def test_command_text_is_unescaped_and_mentions_are_kept(
    stack: Stack, mocker: MockerFixture
) -> None:
    """Slack's &amp; &lt; &gt; are undone before the tutor sees the line; mentions stay."""
    seen: list[str] = []

    def record(person: Person, text: str) -> Reply:
        seen.append(text)
        return Reply().add(Markdown("done"))

    mocker.patch.object(stack.tutor, "handle", side_effect=record)
    stack.docker('exec box sh -c "echo 1 &gt; /x &amp;&amp; cat /x &lt; /y"')
    stack.tutor_line("edit notes.txt hi <@U0BOB|bob> &amp;lt;")
    assert seen == ['docker exec box sh -c "echo 1 > /x && cat /x < /y"',
                    "edit notes.txt hi <@U0BOB|bob> &lt;"]


# -- request verification ----------------------------------------------------------------


def test_a_bad_signature_is_refused_and_runs_nothing(stack: Stack, mocker: MockerFixture) -> None:
    """A request signed with the wrong secret gets 401 and never reaches the tutor."""
    spy = mocker.spy(stack.tutor, "handle")
    refused = stack.sender.command("/tutor", "help", secret="not-the-secret")
    assert refused.status == 401
    assert stack.executor.pending(_person().key) == 0
    stack.drain()
    assert spy.call_count == 0
    assert stack.fake.calls(RESPONSE) == []


def test_an_old_timestamp_is_refused(stack: Stack, mocker: MockerFixture) -> None:
    """A correctly signed request older than five minutes is refused (replay protection)."""
    spy = mocker.spy(stack.tutor, "handle")
    stale = stack.sender.command("/tutor", "help", timestamp=int(time.time()) - 6 * 60)
    assert stale.status == 401
    assert stack.executor.pending(_person().key) == 0
    assert spy.call_count == 0


# -- DMs --------------------------------------------------------------------------------


def test_a_dm_docker_line_reaches_the_tutor_as_typed_and_is_answered_in_the_dm(
    stack: Stack, service: EnginelessTutor
) -> None:
    """A docker line typed in the bot's DM reaches the tutor as typed; its answer comes back there."""
    sent = stack.sender.dm("`docker ps \u2014all`", channel="D0ALICE")
    assert sent.status == 200
    call = stack.fake.wait_for("chat.postMessage", lambda c: c.body.get("channel") == "D0ALICE")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert service.docker_lines == [("slack:U0ALICE", "docker ps --all")]
    assert NO_ENGINE_OUTPUT.format(line="docker ps --all") in call.texts()
    assert "```" in call.texts()


def test_dm_tutor_words_links_and_small_talk(stack: Stack) -> None:
    """A tutor word works in a DM; a wrapped link is unwrapped; other text gets short help."""
    stack.sender.dm("start data-persistence")
    first = stack.fake.wait_for("chat.postMessage")
    assert header_texts(first.blocks()) == [FIRST_STEP]
    stack.sender.dm("thanks!")
    help_call = stack.fake.wait_for("chat.postMessage", lambda c: "tutor word" in c.texts())
    assert "docker ps -a" in help_call.texts()


def test_dm_bot_messages_and_edits_are_ignored(stack: Stack) -> None:
    """Messages from bots and message subtypes (edits) get no answer; a real one does."""
    stack.sender.dm("docker ps", bot_id="B0OTHER")
    stack.sender.dm("docker ps", subtype="message_changed")
    stack.sender.dm("help")
    stack.drain()
    assert len(stack.fake.calls("chat.postMessage")) == 1


# -- buttons ----------------------------------------------------------------------------


def test_a_next_button_posts_the_next_section_as_a_new_message(stack: Stack) -> None:
    """Clicking tutor_next posts the next section to the action's response_url, not replacing."""
    stack.tutor_line(f"start {LESSON}")
    sent = stack.sender.action("tutor_next", "next")
    assert sent.status == 200
    [reply] = stack.fake.wait_for_response(sent.response_url)
    assert header_texts(reply.blocks()) == [SECOND_STEP]
    assert reply.body["replace_original"] is False
    assert reply.body["response_type"] == "ephemeral"
    ids = [e["action_id"] for b in reply.blocks() if b["type"] == "actions" for e in b["elements"]]
    assert ids == ["tutor_back", "tutor_next", "tutor_check", "tutor_hint"]


def test_a_button_on_a_dm_message_answers_in_the_dm(stack: Stack) -> None:
    """A button on a normal message in the bot DM answers in_channel there."""
    stack.tutor_line(f"start {LESSON}")
    sent = stack.sender.action("tutor_hint", "hint", channel="D0ALICE", ephemeral=False)
    [reply] = stack.fake.wait_for_response(sent.response_url)
    assert reply.body["response_type"] == "in_channel"


# -- App Home ---------------------------------------------------------------------------


def test_app_home_shows_progress_bars(stack: Stack) -> None:
    """app_home_opened publishes a Home view with each lesson's progress bar and step."""
    stack.tutor_line(f"start {LESSON}")
    stack.tutor_line("next")
    sent = stack.sender.event({"type": "app_home_opened", "user": "U0ALICE",
                               "channel": "D0ALICE", "tab": "home",
                               "event_ts": f"{time.time():.6f}"})
    assert sent.status == 200
    call = stack.fake.wait_for("views.publish", lambda c: c.body.get("user_id") == "U0ALICE")
    view = call.body["view"]
    assert view["type"] == "home"
    text = call.texts()
    assert "\u25b0\u25b1\u25b1\u25b1\u25b1\u25b1\u25b1\u25b1\u25b1 1/9" in text
    assert SECOND_STEP in text
    buttons = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    assert buttons[0]["action_id"] == "home_resume" and buttons[0]["value"] == "containers"
    [resume] = [b for b in buttons if b["value"] == LESSON]
    assert resume["action_id"] == "home_resume" and resume["text"]["text"] == "Resume"
    assert "Your class" not in text


def test_an_instructor_home_has_a_class_summary(stack: Stack) -> None:
    """An instructor's Home tab summarises the class: the lesson and how many started it."""
    stack.tutor_line(f"start {LESSON}")
    stack.sender.event({"type": "app_home_opened", "user": "UINSTRUCTOR", "tab": "home"})
    call = stack.fake.wait_for("views.publish", lambda c: c.body.get("user_id") == "UINSTRUCTOR")
    text = call.texts()
    assert "Your class" in text
    assert "Class progress: Data Persistence" in text
    assert "*1* started" in text


def test_the_home_resume_button_answers_in_the_dm(stack: Stack) -> None:
    """Resume on the Home tab starts the lesson, answers in the DM and refreshes the tab."""
    sent = stack.sender.action("home_resume", LESSON, view=True)
    assert sent.status == 200
    opened = stack.fake.wait_for("conversations.open")
    assert opened.body["users"] == "U0ALICE"
    message = stack.fake.wait_for("chat.postMessage")
    assert message.body["channel"] == "D0ALICE"
    assert header_texts(message.blocks()) == [FIRST_STEP]
    home = stack.fake.wait_for("views.publish")
    assert "Now: step 1 of 9" in home.texts()


def test_the_tab_messages_opening_publishes_nothing(stack: Stack) -> None:
    """Opening the Messages tab (not Home) does not publish a view."""
    stack.sender.event({"type": "app_home_opened", "user": "U0ALICE", "tab": "messages"})
    stack.sender.event({"type": "app_home_opened", "user": "U0ALICE", "tab": "home"})
    stack.drain(f"{_person().key}#home")
    assert len(stack.fake.calls("views.publish")) == 1


def test_an_empty_reply_still_tells_the_learner_it_ran(stack: Stack, mocker: MockerFixture) -> None:
    """A command with no output (an empty reply) is answered with a short "done" line."""
    mocker.patch.object(stack.tutor, "handle", return_value=Reply())
    [reply] = stack.docker("exec box true")
    assert reply.texts().startswith("Done (no output).")


# -- files ------------------------------------------------------------------------------


def test_pictures_and_files_are_uploaded_to_the_dm(stack: Stack, mocker: MockerFixture) -> None:
    """Image and File parts of a private reply go up with files_upload_v2 into the DM."""
    png = b"\x89PNG\r\n\x1a\nfake"
    reply = Reply().add(Markdown("Here is the chart."), Image(png, "Completion funnel"),
                        File(b"a,b\n1,2\n", "class.csv", "Class export"))
    mocker.patch.object(stack.tutor, "handle", return_value=reply)
    [message] = stack.tutor_line("progress")
    assert "Here is the chart." in message.texts()
    assert "Sent to our DM: *Completion funnel*, *Class export*" in message.texts()
    done = stack.fake.wait_for_all("files.completeUploadExternal", 2)
    assert {d.body["channel_id"] for d in done} == {"D0ALICE"}
    assert [d.body["files"][0]["title"] for d in done] == ["Completion funnel", "Class export"]
    uploads = stack.fake.calls("upload")
    assert [u.raw for u in uploads] == [png, b"a,b\n1,2\n"]
    assert stack.fake.uploaded(done[0].body["files"][0]["id"])["filename"] == "completion-funnel.png"


# -- timing, ordering, retries -----------------------------------------------------------


def test_twenty_learners_are_acked_before_any_slow_command_finishes(
    stack: Stack, mocker: MockerFixture
) -> None:
    """Twenty learners send a slow command at once: all acks come back before any finishes.

    All twenty slow commands run at the same time (the pool is not one at a time), and each
    learner's second command runs only after their slow one.
    """
    gate = threading.Event()
    log: list[tuple[str, str]] = []
    guard = threading.Lock()
    all_started = threading.Semaphore(0)

    def handle(person: Person, text: str) -> Reply:
        with guard:
            log.append(("start", f"{person.user_id} {text}"))
        if text == "docker slow":
            all_started.release()
            assert gate.wait(30)
        with guard:
            log.append(("finish", f"{person.user_id} {text}"))
        return Reply().add(Markdown(f"{text} done"))

    mocker.patch.object(stack.tutor, "handle", side_effect=handle)
    users = [f"U{n:03d}" for n in range(20)]
    acks: dict[str, list[int]] = {u: [] for u in users}

    def learner(user: str) -> None:
        for args in ("slow", "fast"):
            sent = stack.sender.command("/docker", args, user=user, user_name=user.lower())
            with guard:
                log.append(("ack", f"{user} docker {args}"))
            acks[user].append(sent.status)

    threads = [threading.Thread(target=learner, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(statuses == [200, 200] for statuses in acks.values()), acks
    for _ in users:
        assert all_started.acquire(timeout=30), "the slow commands did not run in parallel"
    with guard:
        assert not any(kind == "finish" for kind, _ in log), log
        assert sum(1 for kind, _ in log if kind == "ack") == 40
    gate.set()
    stack.fake.wait_for_all(RESPONSE, 40, timeout=30)
    for user in users:
        mine = [what for kind, what in log if kind != "ack" and what.startswith(user)]
        assert mine == [f"{user} docker slow", f"{user} docker slow",
                        f"{user} docker fast", f"{user} docker fast"]


def test_one_learners_commands_run_in_the_order_sent(stack: Stack, mocker: MockerFixture) -> None:
    """Five lines sent quickly while the first still runs are handled and answered in order."""
    gate = threading.Event()
    first_running = threading.Event()
    order: list[str] = []
    real = stack.tutor.handle

    def handle(person: Person, text: str) -> Reply:
        if text == "status" and not order:
            order.append(text)
            first_running.set()
            assert gate.wait(30)
            return Reply().add(Markdown("held"))
        order.append(text)
        return real(person, text)

    mocker.patch.object(stack.tutor, "handle", side_effect=handle)
    lines = ["status", f"start {LESSON}", "next", "hint", "back"]
    urls = []
    for line in lines:
        sent = stack.sender.command("/tutor", line)
        assert sent.status == 200
        urls.append(sent.response_url)
    # The acks come first: the first line may not have started yet (a busy machine).
    assert first_running.wait(30), "the first line never ran"
    assert order == ["status"]
    gate.set()
    stack.fake.wait_for_all(RESPONSE, len(lines))
    assert order == lines
    targets = [c.target for c in stack.fake.calls(RESPONSE)]
    assert targets == [u.rsplit("/", 1)[-1] for u in urls]
    last = stack.fake.responses(urls[-1])[0]
    assert header_texts(last.blocks()) == [FIRST_STEP]


def test_a_retried_slash_command_runs_once(stack: Stack, mocker: MockerFixture) -> None:
    """The same slash command delivered twice (X-Slack-Retry-Num: 1) runs the tutor once."""
    spy = mocker.spy(stack.tutor, "handle")
    body, url = stack.sender.command_body("/tutor", "help", trigger_id="111.retry")
    first = stack.sender.post(body, "application/x-www-form-urlencoded")
    again = stack.sender.post(body, "application/x-www-form-urlencoded",
                              headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason":
                                       "http_timeout"})
    assert (first.status, again.status) == (200, 200)
    stack.drain()  # a duplicate would have been queued before this point
    assert [c.args[1] for c in spy.call_args_list] == ["help"]
    assert len(stack.fake.responses(url)) == 1


def test_a_retried_event_runs_once(stack: Stack) -> None:
    """An event delivered again with the same event_id is acked and not run twice."""
    first = stack.sender.dm("help", event_id="Ev0SAME")
    again = stack.sender.dm("help", event_id="Ev0SAME",
                            headers={"X-Slack-Retry-Num": "1",
                                     "X-Slack-Retry-Reason": "http_timeout"})
    assert (first.status, again.status) == (200, 200)
    stack.drain()
    assert len(stack.fake.calls("chat.postMessage")) == 1
    stack.sender.dm("help", event_id="Ev0OTHER")
    stack.drain()
    assert len(stack.fake.calls("chat.postMessage")) == 2


def test_a_double_clicked_button_runs_once(stack: Stack, mocker: MockerFixture) -> None:
    """The same block_actions payload twice (same trigger_id) moves the lesson once."""
    stack.tutor_line(f"start {LESSON}")
    spy = mocker.spy(stack.tutor, "handle")
    url = stack.fake.response_url()
    for _ in range(2):
        stack.sender.action("tutor_next", "next", response_url=url, trigger_id="900.double")
    stack.drain()
    assert [c.args[1] for c in spy.call_args_list] == ["next"]
    assert len(stack.fake.responses(url)) == 1


def test_a_rate_limited_post_is_retried_after_retry_after(
    stack: Stack, mocker: MockerFixture
) -> None:
    """chat.postMessage answered 429 with Retry-After: 1 waits that long, is retried, succeeds.

    slack_sdk's retry handler waits Retry-After plus up to a second of jitter: the wait it
    asks for is recorded here rather than slept.
    """
    waits: list[float] = []
    mocker.patch.object(builtin_handlers, "time", SimpleNamespace(sleep=waits.append))
    stack.fake.rate_limit("chat.postMessage", times=1, retry_after=1)
    stack.sender.dm("help")
    posted = stack.fake.wait_for("chat.postMessage", timeout=20)
    assert posted.body["channel"] == "D0ALICE"
    statuses = [c.status for c in stack.fake.calls("chat.postMessage")]
    assert statuses == [429, 200]
    assert len(waits) == 1 and 1 <= waits[0] < 2, waits


# -- errors -----------------------------------------------------------------------------


def test_an_unexpected_error_surfaces_and_is_not_shown_to_the_learner(
    settings: Settings, service: EnginelessTutor, fake: FakeSlack, mocker: MockerFixture
) -> None:
    """A bug reaches on_error and the logs; the learner gets one apologetic line, no traceback."""
    errors: list[BaseException] = []
    executor = KeyedExecutor(2)
    app = build_app(slack_settings(settings, fake), service, executor=executor,
                    on_error=errors.append)
    mocker.patch.object(service, "handle", side_effect=RuntimeError("bug"))
    server = SlackHTTPServer(app, host="127.0.0.1", port=0)
    with server:
        sender = SlackSender(server.url, fake)
        sent = sender.command("/tutor", "next")
        assert sent.status == 200
        executor.shutdown(wait=True)
    assert [str(e) for e in errors] == ["bug"]
    [posted] = fake.calls(RESPONSE)
    shown = json.dumps(posted.body)
    assert "Something went wrong on my side" in shown
    assert "Traceback" not in shown and "RuntimeError" not in shown and "bug" not in shown


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_refused_post_is_a_warning_with_slacks_code_not_a_bug(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """chat.postMessage refused (channel_not_found) is logged as a warning with Slack's code.

    It is not reported as a bug (the stack fails on any), logged as no error, and no
    apology is posted.
    """
    stack.fake.answer("chat.postMessage", {"ok": False, "error": "channel_not_found"})
    with caplog.at_level(logging.WARNING):
        stack.sender.dm("help")
        stack.drain()
    assert [w for w in _warnings(caplog) if "channel_not_found" in w] == [
        "Slack delivery failed (channel_not_found): Slack refused chat.postMessage (HTTP 200)"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    [posted] = stack.fake.calls("chat.postMessage")
    assert "Something went wrong" not in posted.texts()


def test_an_expired_response_url_is_a_warning_not_a_bug(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """A response_url that answers 404 (expired) is a warning naming the status, not a bug."""
    gone = stack.fake.base + "/expired/r1"
    with caplog.at_level(logging.WARNING):
        sent = stack.sender.command("/tutor", "help", response_url=gone)
        assert sent.status == 200
        stack.drain()
    assert any("(http_404)" in w for w in _warnings(caplog)), _warnings(caplog)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert stack.fake.calls(RESPONSE) == []


def test_a_bug_whose_apology_cannot_be_delivered_still_reaches_on_error(
    settings: Settings, service: EnginelessTutor, fake: FakeSlack, mocker: MockerFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug is reported even when Slack refuses the apology; the refusal itself is a warning."""
    errors: list[BaseException] = []
    executor = KeyedExecutor(2)
    app = build_app(slack_settings(settings, fake), service, executor=executor,
                    on_error=errors.append)
    mocker.patch.object(service, "handle", side_effect=RuntimeError("bug"))
    fake.answer("chat.postMessage", {"ok": False, "error": "is_archived"})
    server = SlackHTTPServer(app, host="127.0.0.1", port=0)
    with caplog.at_level(logging.WARNING), server:
        assert SlackSender(server.url, fake).dm("next").status == 200
        executor.shutdown(wait=True)
    assert [str(e) for e in errors] == ["bug"]
    assert any("(is_archived)" in w for w in _warnings(caplog))


def test_health_and_unknown_paths(stack: Stack) -> None:
    """GET /healthz says ok; other paths are 404 and run nothing."""
    import urllib.error
    import urllib.request

    base = stack.server.url.rsplit("/slack/events", 1)[0]
    with urllib.request.urlopen(base + "/healthz", timeout=5) as response:  # noqa: S310
        assert response.read() == b"ok"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(base + "/elsewhere", data=b"x", timeout=5)  # noqa: S310
    assert missing.value.code == 404
    missing.value.close()
