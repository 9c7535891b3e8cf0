"""The live class view: its figures from a real store, its HTML, its headers and its links."""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest

from bot.config import Settings
from bot.dashboard.app import CSP, DashboardApp
from bot.dashboard.links import LinkError, check_link, sign_link
from bot.dashboard.server import DashboardServer
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore, StuckRules
from bot.progress.live import lesson_live
from bot.reports.exports import LessonInfo

LESSON = "data-persistence"
SECRET = b"s3cret-for-tests"
EVIL = Person("console", "eve", '<script>alert("x")</script>')


def _call(app: DashboardApp, path: str, *, method: str = "GET",
          query: str = "") -> tuple[str, dict[str, str], str]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "wsgi.input": io.BytesIO(b"")}
    body: Iterable[bytes] = app(environ, start_response)
    return seen["status"], seen["headers"], b"".join(body).decode("utf-8")


def _seed(store: ProgressStore, catalog: Catalog) -> LessonInfo:
    """Three learners: one finished two steps, one failing the trap, one with a hostile name."""
    lesson = catalog.get(LESSON)
    steps = [step.id for step in lesson.steps]
    ada, ben = Person("console", "ada"), Person("console", "ben", "Ben B.")
    for person in (ada, ben, EVIL):
        store.start_lesson(person, LESSON, steps[0])
    for step in steps[:2]:
        store.complete_step(ada, LESSON, step)
    store.move_to(ada, LESSON, steps[2])
    store.move_to(ben, LESSON, steps[6])
    for _ in range(3):
        entry = store.log(ben, kind="docker", text="docker rm -f redis-1", exit_status=0,
                          lesson_id=LESSON, step_id=steps[6])
        store.set_diagnosis(entry, "trap.rm-f-before-save")
    store.log(ben, kind="docker", text="docker run redis-2", exit_status=125, lesson_id=LESSON,
              step_id=steps[6], output="docker: invalid reference format")
    store.log(EVIL, kind="docker", text="docker ps --format '<img src=x onerror=alert(1)>'",
              exit_status=0, lesson_id=LESSON, step_id=steps[0])
    return LessonInfo.of(lesson)


def test_the_live_figures_come_from_the_store(store: ProgressStore, catalog: Catalog) -> None:
    """Each learner's step, last line and diagnosis, and the class's mistakes, are read back."""
    info = _seed(store, catalog)
    live = lesson_live(store, info.outline, rules=StuckRules(failed_attempts=1))
    by_key = {learner.row.key: learner for learner in live.learners}
    assert set(by_key) == {"console:ada", "console:ben", "console:eve"}
    assert by_key["console:ada"].row.steps_completed == 2
    ben = by_key["console:ben"]
    assert ben.last is not None and ben.last.exit_status == 125
    assert ben.stuck == ("1 failed attempts",)
    assert live.learners[0].row.key == "console:ben"  # stuck learners come first
    assert [(m.diagnosis, m.times, m.learners) for m in live.mistakes] == [
        ("trap.rm-f-before-save", 3, 1)]
    assert {t.step_id: t.completions for t in live.step_times}[info.steps[0][0]] == 1


def test_the_page_escapes_every_learner_string_and_sends_a_strict_policy(
        store: ProgressStore, catalog: Catalog) -> None:
    """A hostile name or command shows as text; CSP forbids inline scripts; nothing is cached."""
    _seed(store, catalog)
    status, headers, body = _call(DashboardApp(store, catalog), "/dashboard/")
    assert status == "200 OK"
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert headers["Content-Security-Policy"] == CSP and "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP
    assert headers["Cache-Control"] == "no-store" and headers["X-Content-Type-Options"] == "nosniff"
    assert body.count("<script") == 1 and 'src="/dashboard/live.js"' in body
    assert "trap.rm-f-before-save" in body and "Ben B." in body


def test_the_refreshing_part_and_the_assets_are_served(store: ProgressStore, catalog: Catalog) -> None:
    """``live`` returns the fragment alone; the script and style are the package's files."""
    _seed(store, catalog)
    app = DashboardApp(store, catalog)
    status, _, fragment = _call(app, "/dashboard/live")
    assert status == "200 OK" and fragment.startswith('<p class="stamp">')
    assert "<html" not in fragment and 'data-learner="console:ben"' in fragment
    status, headers, script = _call(app, "/dashboard/live.js")
    assert status == "200 OK" and headers["Content-Type"].startswith("text/javascript")
    assert "fetch(url" in script
    assert _call(app, "/dashboard/nothing")[0] == "404 Not Found"
    assert _call(app, "/elsewhere")[0] == "404 Not Found"
    assert _call(app, "/dashboard/", method="POST")[0] == "405 Method Not Allowed"


def test_signed_links_let_instructors_in_and_nobody_else(store: ProgressStore, catalog: Catalog) -> None:
    """A valid link for an instructor works; forged, expired, missing or others' links get 403."""
    _seed(store, catalog)
    app = DashboardApp(store, catalog, secret=SECRET, instructors=frozenset({"UTEACH"}))
    good = sign_link(SECRET, "UTEACH")
    status, _, body = _call(app, "/dashboard/", query=f"t={good}")
    assert status == "200 OK" and "console:ben" in body
    assert f'data-live="/dashboard/live?t={good}"' in body  # the refreshes carry the link
    expired = sign_link(SECRET, "UTEACH", minutes=-1)
    status, _, body = _call(app, "/dashboard/live", query=f"t={expired}")
    assert status == "403 Forbidden" and "expired" in body and "console:ben" not in body
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert _call(app, "/dashboard/", query=f"t={forged}")[0] == "403 Forbidden"
    assert _call(app, "/dashboard/")[0] == "403 Forbidden"
    learner_link = sign_link(SECRET, "ULEARNER")
    status, _, body = _call(app, "/dashboard/", query=f"t={learner_link}")
    assert status == "403 Forbidden" and "not for an instructor" in body


def test_a_link_is_checked_from_itself() -> None:
    """The user comes back from a good token; other secrets, junk and old tokens are refused."""
    token = sign_link(SECRET, "U01", now=1_000_000, minutes=10)
    assert check_link(SECRET, token, now=1_000_000 + 599) == "U01"
    for bad_secret, bad_token, now in ((b"other", token, 1_000_000), (SECRET, "a.b", 1_000_000),
                                       (SECRET, "x" * 700, 1_000_000),
                                       (SECRET, token, 1_000_000 + 601)):
        with pytest.raises(LinkError):
            check_link(bad_secret, bad_token, now=now)
    with pytest.raises(LinkError):
        sign_link(b"", "U01")


def test_the_operators_server_answers_on_loopback(store: ProgressStore, catalog: Catalog) -> None:
    """``docker-tutor dashboard``'s server binds loopback and serves the page over HTTP."""
    _seed(store, catalog)
    with DashboardServer(DashboardApp(store, catalog)) as server:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url, timeout=5) as response:  # noqa: S310 (loopback)
            assert response.status == 200
            assert "docker-tutor · live class" in response.read().decode("utf-8")


def test_the_dashboard_command_refuses_to_bind_beyond_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    """Without links the operator's view must stay on loopback: another address is refused."""
    from bot.cli import main

    assert main(["dashboard", "--host", "0.0.0.0", "--port", "0"]) == 1  # noqa: S104
    assert "binds loopback only" in capsys.readouterr().err


def test_minutes_on_a_step_count_from_the_move(store: ProgressStore, catalog: Catalog) -> None:
    """The time on the current step starts when the learner moved to it, not at the start."""
    info = _seed(store, catalog)
    live = lesson_live(store, info.outline)
    ada = next(learner for learner in live.learners if learner.row.key == "console:ada")
    assert ada.step_since >= ada.row.started_at
    assert ada.minutes_on_step(ada.step_since + timedelta(minutes=7)) == pytest.approx(7)


def test_the_served_dashboard_refuses_everyone_without_a_secret(settings: Settings) -> None:
    """``serve``'s mount without a link secret lets nobody in, not even with a made-up link."""
    from bot.factory import build_dashboard

    app = build_dashboard(settings)
    assert isinstance(app, DashboardApp)
    try:
        assert _call(app, "/dashboard/")[0] == "403 Forbidden"
        assert _call(app, "/dashboard/live", query="t=" + sign_link(b"guess", "UINSTRUCTOR"))[0] \
            == "403 Forbidden"
    finally:
        app.store.close()
