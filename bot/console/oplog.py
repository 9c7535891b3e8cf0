"""The console's two audiences: the learner's terminal, and the operator's log file.

A console shares its terminal with the learner's prompt. Background threads (the disk
watcher, the reaper, pool pings, image fills) log for the operators; on the terminal,
their lines (and a traceback) landed in the middle of the prompt (finding 8 of the trust
issue). :func:`divert_background` keeps every record made outside the main thread off
the terminal's handlers and writes all records to the operator's log file instead
(``TUTOR_LOG_FILE``, by default ``console.log`` in the data folder).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


class MainThreadOnly(logging.Filter):
    """Passes only records made in the main thread (the one reading the learner's lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` was made in the main thread."""
        return record.thread == threading.main_thread().ident


def divert_background(path: Path, root: logging.Logger | None = None) -> logging.Handler:
    """Keep background threads' records off the terminal; write every record to ``path``.

    The handlers already on ``root`` (the terminal's) get :class:`MainThreadOnly`. When the
    file cannot be opened, background records are dropped rather than shown.

    Returns:
        The operator's handler added to ``root`` (the caller may remove it).
    """
    root = root or logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, MainThreadOnly) for f in handler.filters):
            handler.addFilter(MainThreadOnly())
    operator: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        operator = logging.FileHandler(path, encoding="utf-8")
        operator.setFormatter(logging.Formatter(FORMAT))
    except OSError:
        operator = logging.NullHandler()
    root.addHandler(operator)
    return operator
