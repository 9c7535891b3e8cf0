"""The live class view as a WSGI app: the page, its refreshing part, its script and style.

Plain WSGI, no framework: the project already serves WSGI, and four routes need no more.
Every response carries a strict Content-Security-Policy (no inline script or style, no
frames, nothing fetched from elsewhere), ``nosniff``, ``no-referrer`` and ``no-store``.

Two ways in. The operator's ``docker-tutor dashboard`` binds loopback and asks nothing
(``secret=None``): whoever can reach the port already holds the database. Under ``serve``
the app is given the deployment's secret and every request must carry a signed, unexpired
link (``?t=``) for an instructor (:mod:`bot.dashboard.links`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from bot.dashboard.links import LinkError, check_link
from bot.dashboard.page import live_fragment, page
from bot.lessons.model import Catalog
from bot.progress import ProgressStore, StuckRules
from bot.progress.live import class_live
from bot.progress.records import utcnow
from bot.reports.exports import LessonInfo, lesson_infos

PREFIX = "/dashboard"
"""Where the app lives under ``serve`` (and on the operator's port)."""

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
"""What the browser may load: this app's own script, style and refreshes; nothing else."""

SNAPSHOT_SECONDS = 2.0
"""How long one reading of the class serves every viewer (a class of viewers polls at once)."""

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _static(name: str) -> bytes:
    return resources.files("bot.dashboard").joinpath("static", name).read_bytes()


class DashboardApp:
    """The WSGI callable.

    Args:
        store: The progress store to read.
        catalog: The lessons (titles and steps).
        rules: When a learner looks stuck.
        secret: The link-signing secret; ``None`` serves without links (operator, loopback);
            empty refuses every request (no link can be checked).
        instructors: Who a signed link may be for (``None``: anyone the secret signed).
        prefix: The path the app answers under.
        clock: The time source (tests).
    """

    def __init__(
        self,
        store: ProgressStore,
        catalog: Catalog,
        *,
        rules: StuckRules | None = None,
        secret: bytes | None = None,
        instructors: frozenset[str] | None = None,
        prefix: str = PREFIX,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.infos: dict[str, LessonInfo] = {info.id: info for info in lesson_infos(catalog)}
        self.rules = rules or StuckRules()
        self.secret = secret
        self.instructors = instructors
        self.prefix = prefix.rstrip("/")
        self.clock = clock
        self._snapshot: tuple[float, str] | None = None
        self._assets = {"live.js": ("text/javascript; charset=utf-8", _static("live.js")),
                        "style.css": ("text/css; charset=utf-8", _static("style.css"))}

    # -- what it shows ----------------------------------------------------------------------

    def fragment(self) -> str:
        """The refreshing part, read from the store at most every :data:`SNAPSHOT_SECONDS`."""
        cached = self._snapshot
        if cached is not None and time.monotonic() - cached[0] < SNAPSHOT_SECONDS:
            return cached[1]
        now = self.clock()
        lessons = class_live(self.store, [info.outline for info in self.infos.values()],
                             now=now, rules=self.rules)
        html = live_fragment(self.infos, lessons, now)
        self._snapshot = (time.monotonic(), html)
        return html

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request."""
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "") or "/"
        query = environ.get("QUERY_STRING", "")
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            return self._send(start_response, "404 Not Found", "text/plain", b"not found\n")
        if method not in ("GET", "HEAD"):
            return self._send(start_response, "405 Method Not Allowed", "text/plain",
                              b"only GET\n", [("Allow", "GET, HEAD")])
        rest = path[len(self.prefix):].strip("/")
        if rest in self._assets:
            kind, body = self._assets[rest]
            return self._send(start_response, "200 OK", kind, body)
        if rest not in ("", "live"):
            return self._send(start_response, "404 Not Found", "text/plain", b"not found\n")
        refusal = self._refusal(query)
        if refusal is not None:
            return self._send(start_response, "403 Forbidden", "text/html; charset=utf-8",
                              page(f'<p class="stuck">{refusal}</p>', base=self.prefix,
                                   query="").encode("utf-8"))
        fragment = self.fragment()
        html = fragment if rest == "live" else page(fragment, base=self.prefix, query=query)
        return self._send(start_response, "200 OK", "text/html; charset=utf-8",
                          html.encode("utf-8"))

    def _refusal(self, query: str) -> str | None:
        """Why this request may not see the class (escaped HTML), or ``None``."""
        if self.secret is None:
            return None
        token = (parse_qs(query).get("t") or [""])[0]
        try:
            user = check_link(self.secret, token)
        except LinkError as exc:
            from html import escape

            return escape(str(exc))
        if self.instructors is not None and user not in self.instructors:
            return "This link is not for an instructor of this class."
        return None

    @staticmethod
    def _send(start_response: StartResponse, status: str, kind: str, body: bytes,
              extra: Sequence[tuple[str, str]] = ()) -> list[bytes]:
        start_response(status, [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Content-Security-Policy", CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Cache-Control", "no-store"),
            ("X-Frame-Options", "DENY"),
            *extra,
        ])
        return [body]


def dashboard_app(store: ProgressStore, catalog: Catalog, **options: Any) -> DashboardApp:
    """Build the dashboard's WSGI app (see :class:`DashboardApp` for the options)."""
    return DashboardApp(store, catalog, **options)


__all__ = ["CSP", "PREFIX", "DashboardApp", "dashboard_app"]
