"""The line's wall-time budget on every engine request a verb makes, and ``diff`` read bounded.

``run`` and ``exec`` keep their own clocks (they read output with deadlines, then stop
what outlives them), and so do ``stop`` and ``restart`` (each name waits its share of the
line's budget). Every other verb (``diff``, ``logs``, ``inspect``, ``top``, ``start``,
``container prune``, ``ps``, ``rm``, the ``volume`` and ``network`` verbs...) runs :func:`under` the
line's deadline: each request it makes to the engine waits at most the time left, and a
request the verb would make after the deadline is not made. A verb cut so ends as
:class:`LineTimedOut`, which the sandbox answers with a clean note.

The budget rides on docker-py's own hook for request timeouts (``_set_request_timeout``),
wrapped once per client and read from a thread-local, so other threads (the disk
watcher, the janitor) are untouched.

``docker diff`` on a container holding 100,000 files made the engine answer with
megabytes of JSON after minutes (issue 19, F6): :func:`changes` reads the answer as a
stream, keeps at most :data:`DIFF_READ_LIMIT` bytes, and decodes the complete entries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import docker
import requests.exceptions

from bot.errors import EngineUnavailable

DIFF_READ_LIMIT = 512 * 1024
"""The most bytes of ``docker diff``'s answer the tutor reads (thousands of lines)."""

MIN_WAIT = 0.2
"""The shortest wait given to a request made just before the deadline."""

_line = threading.local()


class LineTimedOut(Exception):
    """The line's time was up before a verb's engine requests were done."""


def _install(api: docker.APIClient) -> None:
    """Wrap ``api``'s request-timeout hook once, so it honours this thread's deadline."""
    if getattr(api, "_tutor_line_budget", False):
        return
    original: Callable[[dict[str, Any]], dict[str, Any]] = api._set_request_timeout

    def with_deadline(kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs = original(kwargs)
        deadline = getattr(_line, "deadline", None)
        if deadline is None:
            return kwargs
        left = deadline - time.monotonic()
        if left <= 0:
            raise LineTimedOut
        current = kwargs.get("timeout")
        wait = max(left, MIN_WAIT)
        kwargs["timeout"] = wait if current is None else min(current, wait)
        return kwargs

    api._set_request_timeout = with_deadline
    api._tutor_line_budget = True


@contextmanager
def under(api: docker.APIClient, deadline: float | None) -> Iterator[None]:
    """Run the block with every engine request of this thread bounded by ``deadline``.

    Raises:
        LineTimedOut: A request waited past the deadline, or would have started after it.
    """
    if deadline is None:
        yield
        return
    _install(api)
    outer = getattr(_line, "deadline", None)
    _line.deadline = deadline
    try:
        yield
    except (requests.exceptions.Timeout, EngineUnavailable) as exc:
        timed_out = isinstance(exc, requests.exceptions.Timeout) or isinstance(
            exc.__cause__, requests.exceptions.Timeout)
        if timed_out and time.monotonic() >= deadline - MIN_WAIT:
            raise LineTimedOut from exc
        raise
    finally:
        _line.deadline = outer


def changes(api: docker.APIClient, container_id: str,
            limit: int = DIFF_READ_LIMIT) -> tuple[list[tuple[int, str]], bool]:
    """``docker diff``'s entries (kind, path), read as a stream of at most ``limit`` bytes.

    Returns:
        The complete entries read, and whether the answer went on past ``limit``.

    Raises:
        docker.errors.APIError: The engine refused (no such container...).
    """
    response = api._get(api._url("/containers/{0}/changes", container_id), stream=True)
    try:
        api._raise_for_status(response)
        data = bytearray()
        more = False
        for chunk in response.iter_content(chunk_size=65536):
            data += chunk
            if len(data) > limit:
                more = True
                break
    finally:
        response.close()
    return _decode_changes(bytes(data[:limit]).decode("utf-8", "replace")), more


def _decode_changes(text: str) -> list[tuple[int, str]]:
    """The complete ``{"Path": ..., "Kind": ...}`` objects of a (maybe cut) JSON array."""
    decoder = json.JSONDecoder()
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "[], \t\r\n":
            i += 1
            continue
        try:
            item, i = decoder.raw_decode(text, i)
        except ValueError:
            break  # the cut entry at the end
        if isinstance(item, dict):
            found.append((int(item.get("Kind", -1)), str(item.get("Path", ""))))
    return found
