"""The newest part of each learner's command log, kept between their lines.

After every learner line the step's checks read the learner's history since the lesson
began: read whole each time, a lesson of ``n`` lines costs ``n²/2`` rows read and
decoded (their facts are JSON). :class:`RecentHistory` keeps what was read, and each
later read asks the database only for the rows from the last one kept onwards
(``id >= last``): one statement, as before, returning one or two rows instead of all.

Why what is kept stays true, by construction of the log's writes (``commandlog.py``):

* a row is written once (``log``) and changed at most once more, by ``note_diagnosis``,
  in the same learner line, before any later row of that learner exists. So of the rows
  kept only the newest can still change, and each read asks for it again (``>=``);
* every learner's rows are written under that learner's lock (in-process and, on
  PostgreSQL, across replicas: :meth:`ProgressStore.learner_lock`), one line after the
  other, so a row with a smaller id than the newest kept never appears later;
* nothing deletes a log row. A kept newest row the database no longer returns (a
  restored backup) drops what is kept for that learner, and the read starts over.

Keyed by learner and ``since`` (a lesson's start: a new start is a new key); bounded by
:data:`MAX_ROWS` rows in all (least recently read learners go first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.progress.records import CommandEntry

MAX_ROWS = 20_000
"""The most log rows kept, over all learners."""

WRITTEN_ROWS = 1024
"""How many of the rows this process wrote last :class:`WrittenFacts` remembers."""


@dataclass
class _Kept:
    """One learner's newest rows since ``since``, oldest first."""

    rows: list[CommandEntry] = field(default_factory=list)
    complete: bool = False
    """Whether ``rows`` holds every row since ``since`` (not only the newest)."""


class RecentHistory:
    """Each learner's newest command-log rows (see the module docstring)."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self._max_rows = max_rows
        self._kept: OrderedDict[tuple[str, datetime | None], _Kept] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def read(
        self, learner_key: str, since: datetime | None, limit: int,
        whole: Callable[[int], list[CommandEntry]],
        newer: Callable[[int], list[CommandEntry]],
    ) -> list[CommandEntry]:
        """The last ``limit`` rows since ``since``, oldest first.

        Args:
            learner_key: The learner's store key.
            since: Only rows logged at or after it (``None``: all).
            limit: The most rows returned.
            whole: Reads the last ``n`` rows from the database (oldest first).
            newer: Reads the rows whose id is at least the given one (oldest first).
        """
        key = (learner_key, since)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                last = kept.rows[-1].id if kept.rows else None
                enough = kept.complete or len(kept.rows) >= limit
        if kept is None or last is None or not enough:
            rows = whole(limit)
            self._keep(key, _Kept(rows, complete=len(rows) < limit))
            return rows
        fresh = newer(last)
        with self._lock:
            if self._kept.get(key) is not kept:  # changed meanwhile: keep what was read now
                kept = None
            elif fresh[:1] and fresh[0].id == last:
                self._size += len(fresh) - 1
                kept.rows[-1:] = fresh  # the newest kept row, read again, and those after it
                over = len(kept.rows) - limit
                if over > 0:
                    del kept.rows[:over]
                    self._size -= over
                    kept.complete = False
                rows = kept.rows[-limit:]
                self._evict()
                return rows
            else:  # the newest kept row is gone: start over
                self._drop(key)
                kept = None
        rows = whole(limit)
        self._keep(key, _Kept(rows, complete=len(rows) < limit))
        return rows

    def forget(self, learner_key: str) -> None:
        """Drop what is kept for the learner (every ``since``)."""
        with self._lock:
            for key in [k for k in self._kept if k[0] == learner_key]:
                self._drop(key)

    @property
    def size(self) -> int:
        """How many rows are kept in all."""
        return self._size

    def _keep(self, key: tuple[str, datetime | None], kept: _Kept) -> None:
        with self._lock:
            self._drop(key)
            self._kept[key] = kept
            self._size += len(kept.rows)
            self._evict()

    def _drop(self, key: tuple[str, datetime | None]) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._size -= len(kept.rows)

    def _evict(self) -> None:
        while self._size > self._max_rows and self._kept:
            _, oldest = self._kept.popitem(last=False)
            self._size -= len(oldest.rows)


class WrittenFacts:
    """The facts of the log rows this process wrote last, as it wrote them.

    ``note_diagnosis`` adds to a row's facts in the line that wrote it; knowing what was
    written, it need not read the row first. Only this process changes a row it just wrote
    (the rest of its line runs here, under the learner's lock), so what is kept is what
    the database holds. Bounded: the newest :data:`WRITTEN_ROWS` rows.
    """

    def __init__(self, max_rows: int = WRITTEN_ROWS) -> None:
        self._max_rows = max_rows
        self._facts: OrderedDict[int, dict[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, entry_id: int, facts: dict[str, Any] | None) -> None:
        """Remember the facts row ``entry_id`` now holds (a copy: callers keep theirs)."""
        with self._lock:
            self._facts[entry_id] = None if facts is None else dict(facts)
            self._facts.move_to_end(entry_id)
            while len(self._facts) > self._max_rows:
                self._facts.popitem(last=False)

    def facts(self, entry_id: int) -> tuple[bool, dict[str, Any] | None]:
        """``(known, facts)`` of row ``entry_id``; ``known`` is ``False`` for a row not kept."""
        with self._lock:
            if entry_id not in self._facts:
                return False, None
            return True, self._facts[entry_id]


__all__ = ["MAX_ROWS", "WRITTEN_ROWS", "RecentHistory", "WrittenFacts"]
