"""The operators' log line about each learner line: what it holds and how it is written.

:meth:`bot.tutor.core.Tutor.handle` fills a :class:`LineTrace` while it answers a line and
logs it as one ``logfmt`` line (``command learner=… verb=… exit=… ms=… engine=…
requests=…``), with the same fields in the record's ``command`` attribute for structured
handlers; ``requests`` is how many engine requests the line made (counted by
:mod:`bot.sandbox.engine.meter`), and the structured fields add them by kind
(``requests_by_kind``: ``{"GET /containers/{id}/json": 2, ...}``). The
learner is pseudonymous (the hash that also labels their engine objects) and what they
typed is never logged, only its verb.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from bot.errors import CommandRefused, EngineUnavailable, TutorError

EXIT_REFUSED = -1
"""Logged exit status of a line the policy or a quota refused (as in the command log)."""
EXIT_ENGINE_UNAVAILABLE = -2
"""Logged exit status of a line the engine could not answer (as in the command log)."""
EXIT_TUTOR_ERROR = 1
"""Logged exit status of a tutor word answered with an error (misspelt, not allowed, ...)."""
EXIT_BUG = -3
"""Logged exit status of a line that failed with an unexpected exception."""


@dataclass
class LineTrace:
    """What the operators' log line says about one handled line."""

    started: float
    verb: str = "docker"
    exit_status: int | None = None
    requests: Counter[str] = field(default_factory=Counter)
    """The line's engine requests by kind (filled by :func:`bot.sandbox.engine.meter.counting`)."""

    def settle(self, status: int) -> None:
        """Record the exit status, unless an earlier stage already did."""
        if self.exit_status is None:
            self.exit_status = status


def logfmt(value: str) -> str:
    """A logfmt value: quoted when it holds spaces, quotes or ``=``."""
    if value and not any(c in value for c in ' "=\\'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exit_status_of(error: TutorError) -> int:
    """The logged exit status of a line answered with a tutor error."""
    if isinstance(error, CommandRefused):
        return EXIT_REFUSED
    if isinstance(error, EngineUnavailable):
        return EXIT_ENGINE_UNAVAILABLE
    return EXIT_TUTOR_ERROR


def log_line(logger: logging.Logger, trace: LineTrace, *, learner: str, engine: str) -> None:
    """Log one handled line at INFO: ``command learner=… verb=… exit=… ms=… engine=… requests=…``.

    An exit status never settled means the line failed with a bug (:data:`EXIT_BUG`).
    """
    status = EXIT_BUG if trace.exit_status is None else trace.exit_status
    millis = int((time.monotonic() - trace.started) * 1000)
    requests = sum(trace.requests.values())
    fields = {"learner": learner, "verb": trace.verb, "exit": status, "ms": millis, "engine": engine,
              "requests": requests, "requests_by_kind": dict(trace.requests)}
    logger.info("command learner=%s verb=%s exit=%d ms=%d engine=%s requests=%d", learner,
                logfmt(trace.verb), status, millis, logfmt(engine), requests,
                extra={"command": fields})


__all__ = ["EXIT_BUG", "EXIT_ENGINE_UNAVAILABLE", "EXIT_REFUSED", "EXIT_TUTOR_ERROR", "LineTrace",
           "exit_status_of", "log_line", "logfmt"]
