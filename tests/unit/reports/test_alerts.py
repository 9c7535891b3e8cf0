"""Stuck alerts: found from the real store, sent once to each instructor, and their buttons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from bot.config import Settings
from bot.dashboard.app import DashboardApp
from bot.errors import NotAllowed
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore
from bot.progress.live import lesson_live
from bot.reply import Markdown
from bot.reports.alerts import AlertRules, new_stuck_alerts, why_stuck
from bot.reports.exports import LessonInfo
from bot.tutor.core import Tutor
from handlers.listeners.alerts import HINT, MUTE, THREAD, AlertLoop
from tests.fake_slack import FakeSlack
from tests.fake_tutor import EnginelessTutor
from tests.slack_helpers import Stack, running_stack

LESSON = "data-persistence"
BEN = Person("slack", "U0BEN", "Ben <script>")
TEACHER = "UINSTRUCTOR"


def _fail_three_times(store: ProgressStore, catalog: Catalog, person: Person = BEN) -> str:
    lesson = catalog.get(LESSON)
    step = lesson.challenge_steps[0].id
    store.start_lesson(person, LESSON, lesson.steps[0].id)
    store.move_to(person, LESSON, step)
    for text in ("docker run -d --name redis-1 redis", "docker rm -f redis-1", "docker start redis-2"):
        entry = store.log(person, kind="docker", text=text, exit_status=1, lesson_id=LESSON,
                          step_id=step, output="Error response from daemon")
    store.set_diagnosis(entry, "trap.rm-f-before-save")
    return step


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A fake Slack Web API on loopback."""
    with FakeSlack() as server:
        yield server


@pytest.fixture
def stack(settings: Settings, tutor_no_engine: Tutor, fake: FakeSlack) -> Iterator[Stack]:
    """The production Slack app over HTTP on the real store, with no engine."""
    with running_stack(settings, EnginelessTutor(tutor_no_engine), fake) as running:
        yield running


def test_three_failures_make_one_alert_with_the_last_lines_and_diagnosis(
        store: ProgressStore, catalog: Catalog) -> None:
    """A learner with 3 failed attempts is alerted once: a second look finds nothing new."""
    step = _fail_three_times(store, catalog)
    [alert] = new_stuck_alerts(store, catalog, AlertRules(failed_attempts=3))
    assert (alert.learner_key, alert.lesson_id, alert.reason) == ("slack:U0BEN", LESSON, "failures")
    assert alert.detail == "3 failed attempts on this step"
    assert alert.step_label == LessonInfo.of(catalog.get(LESSON)).step_label(step)
    assert alert.last_lines[-1] == "docker start redis-2 → exit 1"
    assert alert.diagnosis == "trap.rm-f-before-save"
    assert new_stuck_alerts(store, catalog, AlertRules(failed_attempts=3)) == []


def test_idle_counts_only_in_the_middle_of_a_step_during_the_session(
        store: ProgressStore, catalog: Catalog) -> None:
    """Quiet for 12 min after a line on the step is stuck; quiet for 3 h has left the class."""
    info = LessonInfo.of(catalog.get(LESSON))
    store.start_lesson(BEN, LESSON, info.steps[0][0])
    store.move_to(BEN, LESSON, info.steps[2][0])
    store.log(BEN, kind="docker", text="docker volume ls", exit_status=0, lesson_id=LESSON,
              step_id=info.steps[2][0])
    [learner] = lesson_live(store, info.outline).learners
    rules = AlertRules(idle_minutes=10, session_minutes=60)
    last = learner.row.last_active_at
    assert why_stuck(learner, last + timedelta(minutes=5), rules) is None
    reason, detail = why_stuck(learner, last + timedelta(minutes=12), rules) or ("", "")
    assert reason == "idle" and detail == "no line for 12 min in the middle of this step"
    assert why_stuck(learner, last + timedelta(hours=3), rules) is None


def test_the_alert_reaches_each_instructor_once_with_three_buttons(
        stack: Stack, store: ProgressStore, catalog: Catalog) -> None:
    """One DM per instructor names the learner (escaped), the step, the lines and the buttons."""
    store = stack.tutor.tutor.store
    _fail_three_times(store, catalog)
    loop = AlertLoop(stack.tutor, WebClient(token="xoxb-test", base_url=stack.fake.url),
                     frozenset({TEACHER, "teacher"}), interval=60)
    assert loop.instructors == [TEACHER]  # console names get no Slack DM
    assert loop.run_once() == 1
    opened = stack.fake.wait_for("conversations.open")
    assert opened.body["users"] == TEACHER
    message = stack.fake.wait_for("chat.postMessage", lambda c: c.body.get("channel") == "DINSTRUCTOR")
    text = message.texts()
    assert "1 learner looks stuck" in text and "Ben &lt;script&gt;" in text
    assert "3 failed attempts on this step" in text and "trap.rm-f-before-save" in text
    ids = [e["action_id"] for b in message.blocks() if b["type"] == "actions" for e in b["elements"]]
    assert ids == [THREAD, HINT, MUTE]
    assert loop.run_once() == 0  # told once, on every replica


def test_the_buttons_open_a_thread_send_a_hint_and_mute(
        stack: Stack, catalog: Catalog) -> None:
    """Each button does its job for an instructor, and refuses a learner who clicks it."""
    store = stack.tutor.tutor.store
    _fail_three_times(store, catalog)
    value = json.dumps({"k": "slack:U0BEN", "l": LESSON})

    sent = stack.sender.action(THREAD, value, user=TEACHER)
    assert sent.status == 200
    opened = stack.fake.wait_for("conversations.open", lambda c: "," in str(c.body.get("users")))
    assert opened.body["users"] == f"{TEACHER},U0BEN"
    hello = stack.fake.wait_for("chat.postMessage", lambda c: str(c.body.get("channel")).startswith("G"))
    assert f"<@{TEACHER}> is here to help" in hello.body["text"] and "<@U0BEN>" in hello.body["text"]

    stack.sender.action(HINT, value, user=TEACHER)
    note = stack.fake.wait_for("chat.postMessage", lambda c: "sent you a hint" in str(c.body.get("text")))
    assert note.body["channel"] == "D0BEN"
    hint = stack.fake.wait_for("chat.postMessage",
                               lambda c: c.body.get("channel") == "D0BEN" and "Hint 1" in c.texts())
    assert hint.ok

    sent = stack.sender.action(MUTE, value, user=TEACHER)
    [answer] = stack.fake.wait_for_response(sent.response_url)
    assert answer.body["text"] == "Muted: no more alerts about this learner in this lesson."
    assert new_stuck_alerts(store, catalog, AlertRules(failed_attempts=1)) == []

    sent = stack.sender.action(MUTE, value, user="U0BEN")
    [refused] = stack.fake.wait_for_response(sent.response_url)
    assert refused.body["text"] == "These buttons are for the class's instructors."


def test_progress_live_gives_an_instructor_a_signed_link(tutor_no_engine: Tutor) -> None:
    """In Slack the link is signed for the instructor; in the console it names the local view."""
    from dataclasses import replace

    from bot.dashboard.links import check_link

    tutor_no_engine.settings = replace(tutor_no_engine.settings, public_url="https://tutor.example",
                                       slack_signing_secret="sig")
    reply = tutor_no_engine.handle(Person("slack", TEACHER), "progress live")
    [part] = reply.parts
    assert isinstance(part, Markdown)
    token = part.text.split("?t=", 1)[1].split()[0]
    assert check_link(b"sig", token) == TEACHER
    assert part.text.startswith("Your live class view: https://tutor.example/dashboard/?t=")
    [console] = tutor_no_engine.handle(Person("console", "teacher"), "progress live").parts
    assert isinstance(console, Markdown) and "`docker-tutor dashboard`" in console.text
    with pytest.raises(NotAllowed):
        tutor_no_engine.handle(Person("slack", "U0BEN"), "progress live")


def test_serve_mounts_the_dashboard_behind_signed_links(
        settings: Settings, tutor_no_engine: Tutor, fake: FakeSlack) -> None:
    """Beside Slack's events, `serve`'s port answers `/dashboard/` to a signed link only."""
    import urllib.error
    import urllib.request
    from dataclasses import replace

    from bot.dashboard.links import sign_link
    from bot.factory import build_dashboard
    from bot.jobs.ordered import KeyedExecutor
    from handlers.app import build_app
    from handlers.web.server import SlackHTTPServer
    from tests.slack_helpers import slack_settings

    served = replace(slack_settings(settings, fake), instructors=frozenset({TEACHER}))
    dashboard = build_dashboard(served)
    executor = KeyedExecutor(2)
    app = build_app(served, EnginelessTutor(tutor_no_engine), executor=executor)
    try:
        with SlackHTTPServer(app, dashboard=dashboard) as server:
            link = f"{server.base}/dashboard/?t={sign_link(served.link_secret, TEACHER)}"
            with urllib.request.urlopen(link, timeout=10) as page:  # noqa: S310 (loopback)
                assert page.status == 200 and "live class" in page.read().decode()
                assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{server.base}/dashboard/", timeout=10)  # noqa: S310
            assert refused.value.code == 403
            refused.value.close()
    finally:
        executor.shutdown(wait=True)
        assert isinstance(dashboard, DashboardApp)
        dashboard.store.close()
