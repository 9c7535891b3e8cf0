"""A local fake of the Slack Web API, for tests and offline demos.

:class:`FakeSlack` listens on loopback, answers the Web API methods the bot uses
(``auth.test``, ``chat.postMessage``, ``chat.postEphemeral``, ``views.publish``, ``views.open``,
``conversations.open``, ``users.info``, ``files.getUploadURLExternal``,
``files.completeUploadExternal``, plus the upload URL it hands out) and fake
``response_url`` endpoints, and records every call. Point the bot at it with
``SLACK_API_URL=<fake.url>``. It can answer a method with HTTP 429 and ``Retry-After``
a number of times, to test rate-limit handling. :func:`sign` signs a request body the
way Slack does.

Example:
    >>> with FakeSlack() as slack:
    ...     url = slack.response_url()
    ...     # ... run the bot with SLACK_API_URL=slack.url, post commands ...
    ...     call = slack.wait_for("chat.postMessage", lambda c: c.body["channel"] == "D1")
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from bot.dashboard.background import BackgroundServer

API_PREFIX = "/api/"
RESPONSE_PREFIX = "/response/"
UPLOAD_PREFIX = "/upload/"
RESPONSE = "response"
"""The ``method`` recorded for a post to a fake ``response_url``."""
UPLOAD = "upload"
"""The ``method`` recorded for a file sent to a fake upload URL."""

_JSON_FIELDS = ("blocks", "view", "files", "attachments", "metadata")


def sign(body: str | bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request: ``X-Slack-Signature`` and its timestamp.

    Args:
        body: The exact request body.
        secret: The app's signing secret.
        timestamp: Seconds since the epoch (default: now).
    """
    when = int(time.time()) if timestamp is None else timestamp
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = f"v0:{when}:".encode() + raw
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(when), "X-Slack-Signature": f"v0={digest}"}


@dataclass(frozen=True)
class Call:
    """One request the fake received.

    Attributes:
        method: The Web API method (``chat.postMessage``), ``"response"`` for a post to
            a response URL, or ``"upload"`` for a file upload.
        path: The request path.
        headers: Request headers (names lower-cased).
        body: The form or JSON body, decoded; JSON-valued form fields (``blocks``,
            ``view``, ``files``) are decoded too.
        raw: The raw body.
        status: The HTTP status the fake answered with.
        target: The response id (for ``response``) or file id (for ``upload``).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes
    status: int
    target: str = ""

    @property
    def ok(self) -> bool:
        """Whether the fake accepted the call (not a 429 or an auth error)."""
        return self.status == 200 and self.body.get("_refused") is None

    def texts(self) -> str:
        """Every text of the posted message or view (blocks and fallback), joined."""
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "text" and isinstance(value, str):
                        found.append(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk({k: v for k, v in self.body.items() if k != "_refused"})
        return "\n".join(found)

    def blocks(self) -> list[dict[str, Any]]:
        """The posted blocks (or the view's blocks)."""
        if isinstance(self.body.get("view"), dict):
            return list(self.body["view"].get("blocks") or [])
        blocks = self.body.get("blocks")
        return list(blocks) if isinstance(blocks, list) else []


@dataclass
class _Fault:
    times: int
    retry_after: int


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, _Fault] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    """The fake's HTTP server: a thread per request, and a listen backlog for a whole class.

    With the standard backlog of 5, a class's worth of simultaneous replies overflows it
    and the kernel drops the extra connection attempts: their clients retry after a
    second, which Slack never makes them do.
    """

    daemon_threads = True
    request_queue_size = 256


class FakeSlack(BackgroundServer):
    """A fake Slack Web API on ``127.0.0.1``.

    Args:
        host: The loopback address to listen on.
        port: ``0`` picks a free port.
        team_id: The workspace id it pretends to be.
        bot_user_id: The bot's user id (``auth.test``).
        bot_id: The bot id (``auth.test``).
        token: When set, API calls must carry this token (else ``invalid_auth``).
    """

    _server: ThreadingHTTPServer
    thread_name = "fake-slack"
    poll_interval = 0.02  # stop() waits for the serving loop to notice: a fake stops at once

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, team_id: str = "T0FAKE",
                 bot_user_id: str = "U0BOT", bot_id: str = "B0BOT",
                 token: str | None = None) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.token = token
        self._state = _State()
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        handler = type("FakeSlackHandler", (_Handler,), {"fake": self})
        self._server = _Server((host, port), handler)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL, for ``SLACK_API_URL`` (ends in ``/api/``)."""
        return self.base + API_PREFIX

    # -- set-up ---------------------------------------------------------------------------

    def response_url(self, name: str | None = None) -> str:
        """A fresh fake ``response_url``; posts to it are recorded as ``"response"`` calls."""
        return f"{self.base}{RESPONSE_PREFIX}{name or f'r{next(self._ids)}'}"

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        with self._cond:
            self._state.faults[method] = _Fault(times, retry_after)

    def answer(self, method: str, payload: dict[str, Any]) -> None:
        """Answer ``method`` with this JSON from now on (instead of the built-in answer)."""
        with self._cond:
            self._state.answers[method] = payload

    # -- inspection -----------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every recorded call, or those of one method, oldest first."""
        with self._cond:
            return [c for c in self._state.calls if method is None or c.method == method]

    def responses(self, url: str) -> list[Call]:
        """Accepted posts to one fake response URL (the URL or its id), oldest first."""
        target = url.rsplit("/", 1)[-1]
        return [c for c in self.calls(RESPONSE) if c.target == target]

    def wait_for(self, method: str, predicate: Callable[[Call], bool] | None = None,
                 timeout: float = 15.0) -> Call:
        """The first accepted call of ``method`` matching ``predicate``, waiting for it.

        Raises:
            TimeoutError: No such call within ``timeout`` seconds (the message lists
                what was received).
        """
        return self.wait_for_all(method, 1, predicate, timeout)[0]

    def wait_for_all(self, method: str, count: int,
                     predicate: Callable[[Call], bool] | None = None,
                     timeout: float = 15.0) -> list[Call]:
        """The first ``count`` accepted calls of ``method`` matching ``predicate``."""
        deadline = time.monotonic() + timeout

        def matching() -> list[Call]:
            return [c for c in self._state.calls if c.method == method and c.ok
                    and (predicate is None or predicate(c))]

        with self._cond:
            while len(found := matching()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = ", ".join(f"{c.method}:{c.status}" for c in self._state.calls)
                    raise TimeoutError(
                        f"{len(found)}/{count} {method} call(s) after {timeout}s; got: {seen}"
                    )
                self._cond.wait(left)
            return found[:count]

    def wait_for_response(self, url: str, count: int = 1, timeout: float = 15.0) -> list[Call]:
        """The first ``count`` posts to one fake response URL, waiting for them."""
        target = url.rsplit("/", 1)[-1]
        return self.wait_for_all(RESPONSE, count, lambda c: c.target == target, timeout)

    def uploaded(self, file_id: str) -> dict[str, Any]:
        """What is known of an uploaded file: ``filename``, ``length``, ``content``, ..."""
        with self._cond:
            return dict(self._state.uploads.get(file_id, {}))

    def reset(self) -> None:
        """Forget every recorded call, fault and custom answer."""
        with self._cond:
            self._state = _State()

    # -- answering (called by the request handler) ----------------------------------------

    def _record(self, call: Call) -> None:
        with self._cond:
            self._state.calls.append(call)
            self._cond.notify_all()

    def _take_fault(self, method: str) -> _Fault | None:
        with self._cond:
            fault = self._state.faults.get(method)
            if fault is None or fault.times <= 0:
                return None
            fault.times -= 1
            return fault

    def _api(self, method: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        with self._cond:
            custom = self._state.answers.get(method)
        if custom is not None:
            return custom
        if self.token is not None:
            given = headers.get("authorization", "").removeprefix("Bearer ") or body.get("token")
            if given != self.token:
                return {"ok": False, "error": "invalid_auth"}
        elif not headers.get("authorization") and not body.get("token"):
            return {"ok": False, "error": "not_authed"}
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(self, body)

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://fake.slack.invalid/", "team": "Fake",
                "user": "docker-tutor", "team_id": self.team_id, "user_id": self.bot_user_id,
                "bot_id": self.bot_id, "is_enterprise_install": False}

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        ts = self._ts()
        return {"ok": True, "channel": body["channel"], "ts": ts,
                "message": {"type": "message", "text": body.get("text", ""),
                            "blocks": body.get("blocks") or [], "bot_id": self.bot_id,
                            "user": self.bot_user_id, "ts": ts}}

    def _post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel") or not body.get("user"):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self._ts()}

    def _views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        if not body.get("user_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": f"V{next(self._ids):08d}", "team_id": self.team_id,
                                     **view}}

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not body.get("trigger_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": f"V{next(self._ids):08d}", "team_id": self.team_id,
                                     **view}}

    def _conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        users = str(body.get("users") or "")
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        ids = [user.strip() for user in users.split(",") if user.strip()]
        if len(ids) > 1:  # a group DM (mpim) with the bot and these users
            return {"ok": True, "channel": {"id": "G" + "".join(u.removeprefix("U") for u in ids)}}
        return {"ok": True, "channel": {"id": "D" + ids[0].removeprefix("U")}}

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = str(body.get("user") or "")
        return {"ok": True, "user": {"id": user, "name": user.lower(),
                                     "real_name": user, "profile": {"display_name": user}}}

    def _upload_url(self, body: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        with self._cond:
            self._state.uploads[file_id] = {"filename": body.get("filename"),
                                            "length": int(body.get("length") or 0)}
        return {"ok": True, "upload_url": f"{self.base}{UPLOAD_PREFIX}{file_id}",
                "file_id": file_id}

    def _complete_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        files = body.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        out = []
        with self._cond:
            for item in files:
                known = self._state.uploads.get(str(item.get("id")))
                if known is None or "content" not in known:
                    return {"ok": False, "error": "file_not_found"}
                known.update(title=item.get("title"), channel=body.get("channel_id"))
                out.append({"id": item["id"], "title": item.get("title"),
                            "name": known["filename"], "size": len(known["content"])})
        return {"ok": True, "files": out}

    def _store_upload(self, file_id: str, content: bytes) -> bool:
        with self._cond:
            known = self._state.uploads.get(file_id)
            if known is None:
                return False
            known["content"] = content
            return True


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._post_message,
    "chat.postEphemeral": FakeSlack._post_ephemeral,
    "views.publish": FakeSlack._views_publish,
    "views.open": FakeSlack._views_open,
    "conversations.open": FakeSlack._conversations_open,
    "users.info": FakeSlack._users_info,
    "files.getUploadURLExternal": FakeSlack._upload_url,
    "files.completeUploadExternal": FakeSlack._complete_upload,
}


def _decode(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    """A request body (form or JSON) plus query parameters, as one dict."""
    body: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        loaded = json.loads(text) if text.strip() else {}
        if isinstance(loaded, dict):
            body.update(loaded)
    elif "form" in content_type or (text and "=" in text and not text.lstrip().startswith("{")):
        body.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
    for key in _JSON_FIELDS:
        value = body.get(key)
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                body[key] = json.loads(value)
    return body


class _Handler(BaseHTTPRequestHandler):
    fake: ClassVar[FakeSlack]
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def _reply(self, status: int, payload: dict[str, Any] | str,
               headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        raw = data.encode("utf-8")
        self.send_response(status)
        kind = "text/plain" if isinstance(payload, str) else "application/json"
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake = self.fake
        if url.path.startswith(UPLOAD_PREFIX):
            file_id = url.path[len(UPLOAD_PREFIX):]
            stored = fake._store_upload(file_id, raw)
            status = 200 if stored else 404
            fake._record(Call(UPLOAD, url.path, headers, {"length": len(raw)}, raw, status,
                              file_id))
            self._reply(status, f"OK - {len(raw)}" if stored else "not_found")
            return
        body = _decode(raw, headers.get("content-type", ""), url.query)
        if url.path.startswith(RESPONSE_PREFIX):
            target = url.path[len(RESPONSE_PREFIX):]
            fault = fake._take_fault(RESPONSE)
            if fault is not None:
                fake._record(Call(RESPONSE, url.path, headers, body, raw, 429, target))
                self._reply(429, "rate_limited", {"Retry-After": str(fault.retry_after)})
                return
            fake._record(Call(RESPONSE, url.path, headers, body, raw, 200, target))
            self._reply(200, "ok")
            return
        if not url.path.startswith(API_PREFIX):
            self._reply(404, "not_found")
            return
        method = url.path[len(API_PREFIX):]
        fault = fake._take_fault(method)
        if fault is not None:
            fake._record(Call(method, url.path, headers, body, raw, 429))
            self._reply(429, {"ok": False, "error": "ratelimited"},
                        {"Retry-After": str(fault.retry_after)})
            return
        answer = fake._api(method, body, headers)
        recorded = body if answer.get("ok") else {**body, "_refused": answer.get("error")}
        fake._record(Call(method, url.path, headers, recorded, raw, 200))
        self._reply(200, answer)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith(API_PREFIX):
            self.do_POST()
        else:
            self._reply(404, "not_found")


def main() -> int:
    """Run a fake Slack on a free port until interrupted (``python -m tests.fake_slack``)."""
    with FakeSlack() as fake:
        print(f"fake Slack Web API at {fake.url}  (SLACK_API_URL); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


__all__ = ["RESPONSE", "UPLOAD", "Call", "FakeSlack", "main", "sign"]

if __name__ == "__main__":
    raise SystemExit(main())
