"""Where each learner's sandbox lives: placements on the pool of engines, in the database.

Every replica reads and writes placements here, so they agree on each learner's engine.
Placing is race-free by construction:

* the learner's key is the table's primary key: of two replicas placing the same new
  learner at once, one insert wins and the other reads the winner's engine;
* the count of learners per engine is read and the new row written under one lock
  (a PostgreSQL transaction advisory lock across replicas, and a process lock), so no
  engine ever takes more than its capacity.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import StoreError
from bot.progress.models import LearnerEngine
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


def _loads(session: Session) -> dict[str, int]:
    rows = session.execute(select(LearnerEngine.engine, func.count())
                           .group_by(LearnerEngine.engine)).all()
    return {engine: int(count) for engine, count in rows}


def _place(session: Session, key: str, candidates: Sequence[str], capacity: int) -> str | None:
    placed = session.scalar(select(LearnerEngine.engine).where(LearnerEngine.learner_key == key))
    if placed is not None:
        return placed
    loads = _loads(session)
    open_ = [(loads.get(engine, 0), index, engine) for index, engine in enumerate(candidates)
             if loads.get(engine, 0) < capacity]
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


__all__ = ["PlacementMixin"]
