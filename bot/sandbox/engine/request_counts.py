"""Counting the engine requests of each learner line, by kind (an operator metric).

:func:`install` adds a response hook to a docker-py client's requests session: every
answer the engine gives (hijacked exec and attach streams included: the hook runs when
the headers arrive) adds one to the counter of the line being answered, under its kind,
the method and the path with ids and names replaced (``GET /containers/{id}/json``).
The line is the :func:`counting` block around it (:meth:`bot.tutor.core.Tutor.handle`);
a context variable carries it, so the pool's worker threads, which run a call in a
copy of the caller's context, count for the same line. Requests outside any line (the
disk watcher, housekeeping) count only in the process total.

The cost is one dictionary update and one regular-expression match per request (a few
microseconds against the engine's milliseconds).
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # no docker at run time: the tutor imports this through bot.sandbox
    import docker
    import requests

_VERSION = re.compile(r"^/v\d+(?:\.\d+)?(?=/)")
_IMAGE = re.compile(r"^/(?:images|distribution)/(.+?)(/(?:json|history|tag|push|get))?$")
_OBJECT = re.compile(r"^/(containers|exec|volumes|networks|plugins|secrets|configs|services|"
                     r"tasks|nodes|swarm)/([^/]+)(.*)$")
_COLLECTION_VERBS = frozenset({"json", "create", "prune", "load"})
"""Path words after a collection that are not an object's id or name."""

_line: contextvars.ContextVar[tuple[Counter[str], ...]] = contextvars.ContextVar(
    "engine_requests", default=())
_line_token: contextvars.ContextVar[object | None] = contextvars.ContextVar("learner_line",
                                                                         default=None)
_total: Counter[str] = Counter()
_total_lock = threading.Lock()


def kind(method: str, path: str) -> str:
    """The kind of a request: its method and path template (no API version, no query).

    >>> kind("GET", "/v1.43/containers/0123abcd/json?size=1")
    'GET /containers/{id}/json'
    """
    path = _VERSION.sub("", path.split("?", 1)[0])
    if path.startswith(("/images/", "/distribution/")):
        image = _IMAGE.match(path)
        if image and image.group(1) not in _COLLECTION_VERBS:
            return f"{method} /{path.split('/')[1]}/{{name}}{image.group(2) or ''}"
        return f"{method} {path}"
    found = _OBJECT.match(path)
    if found and found.group(2) not in _COLLECTION_VERBS:
        return f"{method} /{found.group(1)}/{{id}}{found.group(3)}"
    return f"{method} {path}"


def count(method: str, path: str) -> None:
    """Count one engine answer to ``method path`` for the current line and the process."""
    name = kind(method, path)
    for counter in _line.get():
        counter[name] += 1
    with _total_lock:
        _total[name] += 1


def _hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    request = response.request
    count(request.method or "?", request.path_url)
    return response


def install(client: docker.DockerClient) -> docker.DockerClient:
    """Count every request ``client`` makes from now on (idempotent)."""
    hooks = client.api.hooks.setdefault("response", [])
    if _hook not in hooks:
        hooks.append(_hook)
    return client


@contextmanager
def counting(counter: Counter[str] | None = None) -> Iterator[Counter[str]]:
    """Count the engine requests made inside the block (in this context) into ``counter``.

    Blocks nest: a request counts in every block it is made in (a bench's block around
    :meth:`~bot.tutor.core.Tutor.handle` sees what the line's own block sees).
    """
    counter = Counter() if counter is None else counter
    token = _line.set((*_line.get(), counter))
    try:
        yield counter
    finally:
        _line.reset(token)


class Line:
    """The scope of one learner line (:func:`current_line`).

    Attributes:
        seq: Which of the learner's lines it is, as the progress store counted it
            (:func:`note_line_seq`); ``None`` until the tutor says.
    """

    __slots__ = ("seq",)

    def __init__(self) -> None:
        self.seq: int | None = None


@contextmanager
def learner_line(counter: Counter[str] | None = None) -> Iterator[Counter[str]]:
    """One learner line: its engine requests counted (:func:`counting`), and a scope of its own.

    The scope (:func:`current_line`) is what the sandbox's per-line reads are kept for
    (:mod:`bot.sandbox.engine.recall`): a new line never sees what an earlier one read.
    """
    token = _line_token.set(Line())
    try:
        with counting(counter) as counted:
            yield counted
    finally:
        _line_token.reset(token)


def current_line() -> object | None:
    """The token of the learner line being answered in this context, ``None`` outside one."""
    return _line_token.get()


def note_line_seq(seq: int) -> None:
    """Say which of the learner's lines the current one is (the store's count; see :class:`Line`).

    Outside a learner line it does nothing.
    """
    line = _line_token.get()
    if isinstance(line, Line):
        line.seq = seq


def line_seq() -> int | None:
    """The current line's :attr:`Line.seq`: ``None`` outside a line or before it is noted."""
    line = _line_token.get()
    return line.seq if isinstance(line, Line) else None


def totals() -> Counter[str]:
    """Every request counted in this process so far, by kind (a copy)."""
    with _total_lock:
        return Counter(_total)


def summary(counter: Counter[str]) -> str:
    """``n kind, n kind`` most frequent first (for notes and logs)."""
    return ", ".join(f"{n} {name}" for name, n in counter.most_common())


__all__ = ["Line", "count", "counting", "current_line", "install", "kind", "learner_line", "line_seq",
           "note_line_seq", "summary", "totals"]
