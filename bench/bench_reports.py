"""Class reports at scale: 10,000 learners and 1,000,000 command-log rows.

Seeds a fresh database through SQLAlchemy Core (``executemany`` in batches, one
transaction per table), then times what an instructor asks for: the class summary
(SQL only, and the whole Slack reply with its chart), one learner's timeline, and the
CSV export of every learner.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert

from bench import BenchSession
from bot.config import default_lessons_dir
from bot.lessons.model import Catalog, Lesson
from bot.progress import LessonOutline, ProgressStore, StuckRules
from bot.progress.models import ChallengeCompletion, CommandLog, Learner, LessonProgress, StepProgress
from bot.progress.queries import learner_timeline, lesson_summary
from bot.progress.records import utcnow
from bot.reply import Reply

LESSON_ID = "data-persistence"
LEARNERS = 10_000
COMMANDS = 1_000_000
BATCH = 20_000
SUMMARY_TARGET_MS = 200.0

# How many steps learners completed (index = steps completed), a typical class funnel.
FUNNEL = (4, 6, 8, 9, 7, 6, 6, 25, 12, 17)

COMMAND_TEXTS = (
    ("docker ps -a", "CONTAINER ID   IMAGE   COMMAND"),
    ("docker run -d --name redis-1 -v my-redis-data:/data redis", ""),
    ("docker exec redis-1 redis-cli set mykey \"Hello Persistence\"", "OK"),
    ("docker volume ls", "DRIVER    VOLUME NAME"),
    ("docker rm -f redis-1", "redis-1"),
    ("docker run --rm -v notes:/notes busybox cat /notes/a.txt", "kept"),
    ("docker exec devbox cat /app/notes.txt", "hello from the host"),
)
FAILURES = (
    (1, "cat: can't open '/note.txt': No such file or directory"),
    (125, "docker: Error response from daemon: Conflict. The container name is already in use."),
    (1, "Error response from daemon: No such container: redis-2"),
    (-1, "--privileged is not allowed in the tutor's sandbox."),
)


@dataclass(frozen=True)
class Seeded:
    """What was seeded, for the notes."""

    learners: int
    lesson_rows: int
    step_rows: int
    completed_steps: int
    challenge_rows: int
    command_rows: int


def outline_of(lesson: Lesson) -> LessonOutline:
    """The reports' view of a lesson."""
    return LessonOutline(lesson.id, tuple(s.id for s in lesson.steps),
                         tuple(s.id for s in lesson.challenge_steps))


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(store: ProgressStore, outline: LessonOutline, *, learners: int, commands: int,
         now: datetime, rng: random.Random) -> Seeded:
    """Fill an empty store with a class in one lesson: positions, steps, challenges, log.

    Learners started within the last four hours; each completed a prefix of the lesson
    drawn from ``FUNNEL``; commands are spread over the steps they reached, one in five
    failing. Rows go in with Core ``executemany`` batches of ``BATCH``.
    """
    steps = outline.step_ids
    challenge_index = steps.index(outline.challenge_step_ids[0])
    learner_rows: list[dict[str, Any]] = []
    lesson_rows: list[dict[str, Any]] = []
    step_rows: list[dict[str, Any]] = []
    challenge_rows: list[dict[str, Any]] = []
    plans: list[tuple[int, datetime, float, int]] = []  # learner id, start, minutes, steps reached
    weights = [w / sum(FUNNEL) for w in FUNNEL]
    for n in range(1, learners + 1):
        done = rng.choices(range(len(FUNNEL)), weights)[0]
        span = rng.uniform(5, 240)
        start = now - timedelta(minutes=span)
        times = sorted(start + timedelta(minutes=rng.uniform(0, span)) for _ in range(done))
        current = steps[min(done, len(steps) - 1)]
        finished = done == len(steps)
        last = times[-1] if times else start
        learner_rows.append({"id": n, "key": f"slack:U{n:07d}", "display_name": f"Learner {n}",
                             "current_lesson": outline.lesson_id, "created_at": start,
                             "last_active_at": last + timedelta(minutes=rng.uniform(0, 3))})
        lesson_rows.append({"learner_id": n, "lesson_id": outline.lesson_id, "current_step": current,
                            "started_at": start, "updated_at": last,
                            "completed_at": last if finished else None})
        for i, when in enumerate(times):
            step_rows.append({"learner_id": n, "lesson_id": outline.lesson_id, "step_id": steps[i],
                              "completed_at": when, "hints_shown": rng.randint(0, 1),
                              "check_attempts": 1, "failed_checks": 0})
            if i == challenge_index:
                challenge_rows.append({"learner_id": n, "lesson_id": outline.lesson_id,
                                       "step_id": steps[i], "completed_at": when, "evidence": {}})
        if not finished:
            failed = rng.choice((0, 0, 0, 1, 1, 2, 3, 5))
            step_rows.append({"learner_id": n, "lesson_id": outline.lesson_id, "step_id": current,
                              "completed_at": None, "hints_shown": rng.randint(0, 3),
                              "check_attempts": failed + rng.randint(0, 1), "failed_checks": failed})
        plans.append((n, start, span, min(done, len(steps) - 1)))

    def command_rows() -> Iterator[dict[str, Any]]:
        per, extra = divmod(commands, learners)
        for n, start, span, reached in plans:
            for _ in range(per + (1 if n <= extra else 0)):
                step = steps[rng.randint(0, reached)]
                if rng.random() < 0.2:
                    status, output = rng.choice(FAILURES)
                    text = rng.choice(COMMAND_TEXTS)[0]
                else:
                    text, output = rng.choice(COMMAND_TEXTS)
                    status = 0
                yield {"learner_id": n, "lesson_id": outline.lesson_id, "step_id": step,
                       "at": start + timedelta(minutes=rng.uniform(0, span)),
                       "kind": "docker" if rng.random() < 0.95 else "tutor", "text": text,
                       "exit_status": status, "duration_ms": rng.randint(5, 900), "output": output}

    tables: list[tuple[Table, Iterator[list[dict[str, Any]]]]] = [
        (Learner.__table__, _batches(iter(learner_rows))),  # type: ignore[list-item]
        (LessonProgress.__table__, _batches(iter(lesson_rows))),  # type: ignore[list-item]
        (StepProgress.__table__, _batches(iter(step_rows))),  # type: ignore[list-item]
        (ChallengeCompletion.__table__, _batches(iter(challenge_rows))),  # type: ignore[list-item]
        (CommandLog.__table__, _batches(command_rows())),  # type: ignore[list-item]
    ]
    for table, batches in tables:
        with store.engine.begin() as connection:
            for batch in batches:
                connection.execute(insert(table), batch)
    completed = sum(1 for row in step_rows if row["completed_at"] is not None)
    return Seeded(learners, len(lesson_rows), len(step_rows), completed, len(challenge_rows), commands)


def run(session: BenchSession) -> None:
    """Seed a class and time the summary, a timeline and the export."""
    from bot.reports.exports import LessonInfo, export_csv
    from bot.reports.replies import summary_reply, timeline_reply

    learners = 300 if session.quick else LEARNERS
    commands = 3_000 if session.quick else COMMANDS  # quick: ten per learner, a smoke test
    url = session.database_url or f"sqlite:///{session.scratch / 'bench.db'}"
    lesson = Catalog(default_lessons_dir()).get(LESSON_ID)
    outline = outline_of(lesson)
    info = LessonInfo.of(lesson)
    store = ProgressStore(url)
    try:
        now = utcnow()
        clock = time.perf_counter()
        seeded = seed(store, outline, learners=learners, commands=commands, now=now,
                      rng=random.Random(20240501))
        session.record("seed (bulk insert, Core executemany)", time.perf_counter() - clock,
                       notes=f"{seeded.learners:,} learners, {seeded.command_rows:,} commands")
        if store.engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load: statistics and the visibility
            # map (index-only scans). SQLite gets no ANALYZE: its plans must not need one.
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
            session.note("PostgreSQL: VACUUM ANALYZE after seeding, as autovacuum would.")
        rules = StuckRules()

        summary = session.time(
            "class summary, SQL only", lambda: lesson_summary(store, outline, now=now, rules=rules),
            target_ms=SUMMARY_TARGET_MS, notes="4 aggregate queries + 1 row per unfinished learner",
        )
        session.time(
            "class summary reply (no chart)",
            lambda: summary_reply([(info, lesson_summary(store, outline, now=now, rules=rules))],
                                  chart=False),
        )
        session.time("funnel chart (PNG)", lambda: summary_reply([(info, summary)], chart=True),
                     runs=3, notes="formatting + matplotlib Agg PNG")
        key = f"slack:U{learners // 2:07d}"

        def timeline() -> Reply:
            found = learner_timeline(store, key, commands=10)
            assert found is not None
            return timeline_reply(found, {lesson.id: info})

        session.time("learner timeline reply", timeline, notes="last 10 commands")
        rows = session.time("CSV export, every learner",
                            lambda: export_csv(store, [info], now=now, rules=rules), runs=3,
                            notes=f"{learners:,} rows")
        session.note(
            f"Data: {seeded.learners:,} learners in `{LESSON_ID}`, {seeded.step_rows:,} step rows, "
            f"{seeded.challenge_rows:,} challenge completions, {seeded.command_rows:,} command-log rows "
            f"({_size(url)})."
        )
        session.note(
            f"Summary: {summary.started:,} started, {summary.finished:,} finished, median "
            f"{summary.median_minutes or 0:.1f} min, stuck step `{summary.stuck_step}`, "
            f"{len(summary.stuck):,} look stuck; export {len(rows):,} bytes."
        )
    finally:
        store.close()


def _size(url: str) -> str:
    if not url.startswith("sqlite:///"):
        return url.split("://", 1)[0]
    path = Path(url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    wal_mib = wal.stat().st_size / 2**20 if wal.exists() else 0
    return f"SQLite file {path.stat().st_size / 2**20:.0f} MiB, WAL {wal_mib:.0f} MiB"
