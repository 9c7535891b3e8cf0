"""Where each learner's sandbox lives: placements on the pool of engines, in the database.

Every replica reads and writes placements here, so they agree on each learner's engine.
Placing is race-free by construction:

* the learner's key is the table's primary key: of two replicas placing the same new
  learner at once, one insert wins and the other reads the winner's engine;
* the count of learners per engine is read and the new row written under one lock
  (a PostgreSQL transaction advisory lock across replicas, and a process lock), so no
  engine ever takes more than its capacity.

An engine an operator drains (``docker-tutor engines drain``) has a row in
``engine_state``; placing reads it under the same lock, so once a drain is recorded no
replica places a new learner there. Moving a drained learner (:meth:`relocate_learner`)
updates their row only if it still names the engine the copy came from.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import StoreError
from bot.progress.models import EngineState, LearnerEngine
from bot.progress.records import utcnow

_PLACE_LOCK_ID = 0x706C6163  # "plac": the advisory lock of placements
_process_lock = threading.Lock()


class PlacementMixin:
    """The store's placement methods (mixed into :class:`~bot.progress.store.ProgressStore`)."""

    _sessions: sessionmaker[Session]

    @contextmanager
    def _placing(self) -> Iterator[Session]:
        """One transaction that holds the placement lock (across replicas on PostgreSQL)."""
        try:
            with _process_lock, self._sessions.begin() as session:
                if session.get_bind().dialect.name == "postgresql":
                    session.execute(text("SELECT pg_advisory_xact_lock(:id)"),
                                    {"id": _PLACE_LOCK_ID})
                yield session
        except SQLAlchemyError as exc:
            raise StoreError("The progress database could not record where your sandbox "
                             "lives; nothing was changed. Try again.") from exc

    def engine_of(self, key: str) -> str | None:
        """The engine the learner ``key`` is placed on, or ``None`` when not placed yet."""
        try:
            with self._sessions.begin() as session:
                return session.scalar(select(LearnerEngine.engine)
                                      .where(LearnerEngine.learner_key == key))
        except SQLAlchemyError as exc:
            raise StoreError("The progress database is not answering; try again.") from exc

    def engine_loads(self) -> dict[str, int]:
        """How many learners are placed on each engine (engines with none are absent)."""
        try:
            with self._sessions.begin() as session:
                return _loads(session)
        except SQLAlchemyError as exc:
            raise StoreError("The progress database is not answering; try again.") from exc

    def placements(self) -> dict[str, tuple[str, datetime]]:
        """Every placement: learner key to ``(engine, assigned_at)``."""
        try:
            with self._sessions.begin() as session:
                rows = session.execute(select(LearnerEngine.learner_key, LearnerEngine.engine,
                                              LearnerEngine.assigned_at)).all()
                return {key: (engine, at) for key, engine, at in rows}
        except SQLAlchemyError as exc:
            raise StoreError("The progress database is not answering; try again.") from exc

    def place_learner(self, key: str, candidates: Sequence[str], capacity: int) -> str | None:
        """The learner's engine: the one they are placed on, else a new placement.

        A new learner goes to the candidate with the fewest learners placed, among those
        below ``capacity`` (ties: the first in ``candidates``).

        Args:
            key: The learner's key.
            candidates: Healthy engines, in the pool's order.
            capacity: Learners an engine takes at most.

        Returns:
            The engine, or ``None`` when the learner is not placed and every candidate is
            full (or there is none).
        """
        with self._placing() as session:
            return _place(session, key, candidates, capacity)

    def move_learner(self, key: str, away_from: str, candidates: Sequence[str],
                     capacity: int) -> str | None:
        """Place the learner anew when they are on ``away_from`` (their engine is down).

        A learner placed elsewhere meanwhile (another replica moved them) keeps that
        placement. ``away_from`` is never chosen.

        Returns:
            The learner's engine now, or ``None`` when no candidate has room (the learner
            then stays unplaced, and is placed by their next command).
        """
        with self._placing() as session:
            session.execute(delete(LearnerEngine).where(LearnerEngine.learner_key == key,
                                                        LearnerEngine.engine == away_from))
            return _place(session, key, [c for c in candidates if c != away_from], capacity)

    def relocate_learner(self, key: str, source: str, target: str, capacity: int) -> bool:
        """Move the learner's placement from ``source`` to ``target`` in one statement.

        Done only after their volumes were copied to ``target``: the row changes only if it
        still names ``source``, ``target`` is not draining and has room.

        Returns:
            Whether the placement now names ``target``.
        """
        with self._placing() as session:
            if target in _drained(session) or _loads(session).get(target, 0) >= capacity:
                return False
            moved = session.execute(update(LearnerEngine)
                                    .where(LearnerEngine.learner_key == key,
                                           LearnerEngine.engine == source)
                                    .values(engine=target, assigned_at=utcnow()))
            return bool(getattr(moved, "rowcount", 0) == 1)

    def set_draining(self, engine: str, draining: bool) -> bool:
        """Record (or forget) that ``engine`` is draining: no new learner is placed there.

        Returns:
            Whether the state changed.
        """
        with self._placing() as session:
            was = session.get(EngineState, engine)
            if draining and was is None:
                session.add(EngineState(engine=engine, state=DRAINING, changed_at=utcnow()))
                return True
            if not draining and was is not None:
                session.delete(was)
                return True
            return False

    def draining_engines(self) -> set[str]:
        """The engines being drained (every replica's placements avoid them)."""
        try:
            with self._sessions.begin() as session:
                return _drained(session)
        except SQLAlchemyError as exc:
            raise StoreError("The progress database is not answering; try again.") from exc


DRAINING = "draining"
"""The state of a drained engine in ``engine_state``."""


def _drained(session: Session) -> set[str]:
    return set(session.scalars(select(EngineState.engine).where(EngineState.state == DRAINING)))


def _loads(session: Session) -> dict[str, int]:
    rows = session.execute(select(LearnerEngine.engine, func.count())
                           .group_by(LearnerEngine.engine)).all()
    return {engine: int(count) for engine, count in rows}


def _place(session: Session, key: str, candidates: Sequence[str], capacity: int) -> str | None:
    placed = session.scalar(select(LearnerEngine.engine).where(LearnerEngine.learner_key == key))
    if placed is not None:
        return placed
    loads = _loads(session)
    drained = _drained(session)
    open_ = [(loads.get(engine, 0), index, engine) for index, engine in enumerate(candidates)
             if loads.get(engine, 0) < capacity and engine not in drained]
    if not open_:
        return None
    chosen = min(open_)[2]
    try:
        with session.begin_nested():
            session.add(LearnerEngine(learner_key=key, engine=chosen, assigned_at=utcnow()))
            session.flush()
    except IntegrityError:  # another replica placed the learner first: theirs stands
        return session.scalar(select(LearnerEngine.engine)
                              .where(LearnerEngine.learner_key == key))
    return chosen


__all__ = ["DRAINING", "PlacementMixin"]
