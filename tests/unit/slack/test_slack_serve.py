"""`docker-tutor serve`: HTTP mode on a real port, Socket Mode selection, token checks.

No engine is needed: the tutor's sandbox points at an engine that cannot answer, so the
housekeeping thread's passes fail (and are logged) while Slack is served.
"""

from __future__ import annotations

import threading
import urllib.request
from dataclasses import replace

import pytest
from pytest_mock import MockerFixture

from bot.config import Settings
from bot.errors import UsageError
from bot.tutor.core import Tutor
from handlers.serve import serve
from handlers.web.asgi import MAX_BODY
from tests.conftest import NO_ENGINE
from tests.fake_slack import FakeSlack
from tests.slack_helpers import SECRET, TOKEN, SlackSender


def _run(settings: Settings) -> tuple[threading.Thread, threading.Event, list[str], list[int]]:
    stop = threading.Event()
    ready: list[str] = []
    result: list[int] = []
    started = threading.Event()

    def on_ready(where: str) -> None:
        ready.append(where)
        started.set()

    thread = threading.Thread(
        target=lambda: result.append(serve(settings, stop=stop, on_ready=on_ready,
                                           host="127.0.0.1")))
    thread.start()
    assert started.wait(30), "serve() did not come up"
    return thread, stop, ready, result


def test_http_mode_serves_slack_and_stops_cleanly(settings: Settings) -> None:
    """Without an app token, serve() answers signed requests over HTTP and exits 0 on stop."""
    with FakeSlack(token=TOKEN) as fake:
        config = replace(settings, slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                         slack_api_url=fake.url, port=0, docker_host=NO_ENGINE)
        thread, stop, ready, result = _run(config)
        try:
            events_url = ready[0]
            base = events_url.rsplit("/slack/events", 1)[0]
            with urllib.request.urlopen(base + "/healthz", timeout=5) as response:  # noqa: S310
                assert response.read() == b"ok"
            sender = SlackSender(events_url, fake)
            too_big = sender.post("x" * (MAX_BODY + 1), "application/x-www-form-urlencoded")
            assert too_big.status == 413
            sent = sender.command("/tutor", "help")
            assert sent.status == 200
            [reply] = fake.wait_for_response(sent.response_url)
            assert "start" in reply.texts()
            assert fake.calls()[0].method == "auth.test"
        finally:
            stop.set()
            thread.join(30)
    assert not thread.is_alive()
    assert result == [0]


def test_socket_mode_is_used_when_an_app_token_is_set(
    settings: Settings, mocker: MockerFixture
) -> None:
    """With SLACK_APP_TOKEN, serve() connects over Socket Mode and closes it on stop.

    The tutor's housekeeping runs alongside and is stopped too.
    """
    handler = mocker.patch("handlers.serve.SocketModeHandler")
    housekeeping = mocker.patch.object(Tutor, "start_housekeeping")
    with FakeSlack(token=TOKEN) as fake:
        config = replace(settings, slack_bot_token=TOKEN, slack_app_token="xapp-test",
                         slack_api_url=fake.url, docker_host=NO_ENGINE)
        thread, stop, ready, result = _run(config)
        stop.set()
        thread.join(30)
    assert ready == ["socket-mode"]
    assert result == [0]
    assert handler.call_args.args[1] == "xapp-test"
    handler.return_value.connect.assert_called_once_with()
    handler.return_value.close.assert_called_once_with()
    housekeeping.assert_called_once_with()
    housekeeping.return_value.stop.assert_called_once_with()


@pytest.mark.parametrize("changes", [
    {"slack_signing_secret": SECRET},
    {"slack_bot_token": TOKEN},
])
def test_missing_tokens_are_a_clear_error(settings: Settings, changes: dict[str, str]) -> None:
    """Without a bot token, or without both an app token and a signing secret, serve() refuses."""
    with pytest.raises(UsageError, match=r"docs/slack-setup\.md"):
        serve(replace(settings, **changes))  # type: ignore[arg-type]
