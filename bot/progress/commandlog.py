"""The command log half of the progress store: appending entries and reading them back.

Both run once per learner command (the log write, then the history the step's checks
read), so they use SQLAlchemy Core statements over the mapped columns: no ORM objects
are built, flushed or tracked for a row that is written once and never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.identity import Person
from bot.printable import printable
from bot.progress.models import CommandLog, Learner
from bot.progress.recent import RecentHistory, WrittenFacts
from bot.progress.records import CommandEntry

OUTPUT_KEEP = 500
"""How many characters of a command's output the log keeps."""


class CommandLogMixin:
    """The store's command-log methods (mixed into :class:`~bot.progress.store.ProgressStore`)."""

    session: Callable[[], AbstractContextManager[Session]]
    connection: Callable[[], AbstractContextManager[Connection]]
    _learner: Callable[[Session, Person], Learner]
    _recent: RecentHistory
    _written: WrittenFacts

    def log(
        self,
        person: Person,
        *,
        kind: str,
        text: str,
        exit_status: int,
        duration_ms: int = 0,
        output: str = "",
        lesson_id: str | None = None,
        step_id: str | None = None,
        facts: dict[str, Any] | None = None,
        learner_id: int | None = None,
        diagnosis: str | None = None,
    ) -> int:
        """Append one entry to the command log and return its id.

        Given ``learner_id``, the person's row as
        :meth:`~bot.progress.store.ProgressStore.enter` read it this turn (which also
        recorded them active), the entry is written in one statement, without reading or
        touching the learner again; without it the learner is looked up (made if new) and
        recorded active. ``diagnosis`` is the stable id of what the tutor diagnosed.
        """
        values: dict[str, Any] = {
            "lesson_id": lesson_id,
            "step_id": step_id,
            "kind": kind,
            "text": printable(text[:2000]),  # a lone surrogate would fail the encoder
            "exit_status": exit_status,
            "duration_ms": duration_ms,
            "output": printable(output[:OUTPUT_KEEP]),
            "facts": facts,
            "diagnosis": diagnosis,
        }
        if learner_id is None:
            with self.session() as session:
                values["learner_id"] = self._learner(session, person).id
                entry = _append(session.connection(), values)
        else:
            with self.connection() as connection:
                entry = _append(connection, {**values, "learner_id": learner_id})
        self._written.keep(entry, facts)
        return entry

    def set_diagnosis(self, entry_id: int, diagnosis: str) -> None:
        """Record on a logged line the diagnosis the tutor gave after it (its stable id)."""
        with self.connection() as connection:
            connection.execute(
                update(CommandLog).where(CommandLog.id == entry_id).values(diagnosis=diagnosis[:80])
            )

    def history(
        self, person: Person, *, kind: str | None = None, limit: int | None = None,
        since: datetime | None = None,
    ) -> list[CommandEntry]:
        """The person's command log, oldest first (the last ``limit`` entries if given).

        With ``since`` (a lesson's start), only the entries logged at or after it.
        """
        return self.history_of(person.key, kind=kind, limit=limit, since=since)

    def history_of(
        self, learner_key: str, *, kind: str | None = None, limit: int | None = None,
        since: datetime | None = None, lesson_id: str | None = None,
    ) -> list[CommandEntry]:
        """:meth:`history` by store key, optionally in one lesson (for instructors' views).

        The history of a lesson (``since`` and ``limit``, every kind: what a step's checks
        read after each line) reads only the rows new since the last read
        (:class:`~bot.progress.recent.RecentHistory`).
        """
        def whole(last: int | None) -> list[CommandEntry]:
            query = (select(*_COLUMNS).join(Learner, Learner.id == CommandLog.learner_id)
                     .where(Learner.key == learner_key))
            if lesson_id is not None:
                query = query.where(CommandLog.lesson_id == lesson_id)
            if kind is not None:
                query = query.where(CommandLog.kind == kind)
            if since is not None:
                query = query.where(CommandLog.at >= since)
            query = query.order_by(CommandLog.id.desc())
            if last is not None:
                query = query.limit(last)
            with self.connection() as connection:
                rows = list(_entries(connection.execute(query)))
            rows.reverse()
            return rows

        if since is None or limit is None or kind is not None or lesson_id is not None:
            return whole(limit)

        def newer(first_id: int) -> list[CommandEntry]:
            with self.connection() as connection:
                return list(_entries(connection.execute(_NEWER, {
                    "learner_key": learner_key, "since": since, "first_id": first_id})))

        return self._recent.read(learner_key, since, limit, whole, newer)

    def note_diagnosis(self, entry_id: int, *, found: str, diagnosis: str | None = None,
                       said: str = "") -> None:
        """Record on a logged line what its step's check found, and the diagnosis given.

        Args:
            entry_id: The line's log entry (as :meth:`log` returned it).
            found: The failure state the check found after the line (``""``: none).
            diagnosis: The stable id of the diagnosis the tutor gave the learner, if any.
            said: The words the learner was shown (kept, cut, in the line's facts).
        """
        with self.connection() as connection:
            known, facts = self._written.facts(entry_id)  # written by this process: no read
            if not known:
                facts = connection.execute(select(CommandLog.facts).where(
                    CommandLog.id == entry_id)).scalar_one_or_none()
            added: dict[str, Any] = {"found": found}
            values: dict[str, Any] = {}
            if diagnosis is not None:
                added["said"] = printable(said[:OUTPUT_KEEP])
                values["diagnosis"] = diagnosis
            merged = {**(facts or {}), **added}
            connection.execute(_NOTE_SAID if values else _NOTE, {
                "entry_id": entry_id, "facts": merged, **values})
        self._written.keep(entry_id, merged)


_COLUMNS = (CommandLog.id, CommandLog.at, CommandLog.lesson_id, CommandLog.step_id,
            CommandLog.kind, CommandLog.text, CommandLog.exit_status, CommandLog.duration_ms,
            CommandLog.output, CommandLog.facts, CommandLog.diagnosis)

_NEWER = (select(*_COLUMNS)
          .where(CommandLog.learner_id == select(Learner.id).where(
              Learner.key == bindparam("learner_key")).scalar_subquery(),
                 CommandLog.id >= bindparam("first_id"), CommandLog.at >= bindparam("since"))
          .order_by(CommandLog.id))
"""A learner's rows from one id on (what :class:`RecentHistory` asks after each line), built
once. The learner is a subquery, so the engine walks the log from that id (its primary key)
rather than all the learner's rows of the lesson."""

_NOTE = (update(CommandLog).where(CommandLog.id == bindparam("entry_id"))
         .values(facts=bindparam("facts")))
_NOTE_SAID = _NOTE.values(diagnosis=bindparam("diagnosis"))
"""What a check found after a line (and the diagnosis said), noted on its row: built once."""

_APPEND = insert(CommandLog).returning(CommandLog.id)
"""The log's insert, built once: each entry only binds its values."""


def _append(connection: Connection, values: dict[str, Any]) -> int:
    """Insert one log row and return its id."""
    return int(connection.execute(_APPEND, values).scalar_one())


def _entries(rows: Any) -> Iterator[CommandEntry]:
    for r in rows:
        yield CommandEntry(r.id, r.at, r.lesson_id, r.step_id, r.kind, r.text, r.exit_status,
                           r.duration_ms, r.output, r.facts, r.diagnosis)


__all__ = ["OUTPUT_KEEP", "CommandLogMixin"]
