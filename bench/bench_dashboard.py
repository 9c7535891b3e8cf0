"""The live class view at workshop scale: 200 learners, 12,000 log lines, diagnoses.

Seeds a class (the reports suite's seeder) plus a diagnosis on one failing line in
four, then times what a browser asks every few seconds: the live figures in SQL, and
the whole refreshing fragment (figures + HTML) with the app's snapshot cache off. The
issue's target: the view of 200 learners renders in under a second.
"""

from __future__ import annotations

import io
import random
import time
from typing import Any

from sqlalchemy import update

from bench import BenchSession
from bench.bench_reports import outline_of, seed
from bot.config import default_lessons_dir
from bot.dashboard.app import DashboardApp
from bot.lessons.model import Catalog
from bot.progress import ProgressStore, StuckRules
from bot.progress.live import lesson_live
from bot.progress.models import CommandLog
from bot.progress.records import utcnow
from bot.reports.alerts import AlertRules, why_stuck

LESSON_ID = "data-persistence"
LEARNERS = 200
LINES_PER_LEARNER = 60
TARGET_MS = 1000.0
DIAGNOSES = ("trap.rm-f-before-save", "wrong-volume", "aof-one-side", "no-volume", "quiz-miss")


def _diagnose(store: ProgressStore, rng: random.Random) -> int:
    """Give one failing line in four a diagnosis id, as the tutor records them."""
    with store.engine.begin() as connection:
        ids = [row[0] for row in connection.execute(
            CommandLog.__table__.select().with_only_columns(CommandLog.id)  # type: ignore[attr-defined]
            .where(CommandLog.exit_status != 0))]
        chosen = [i for i in ids if rng.random() < 0.25]
        for diagnosis in DIAGNOSES:
            part = [i for i in chosen if hash(i) % len(DIAGNOSES) == DIAGNOSES.index(diagnosis)]
            if part:
                connection.execute(update(CommandLog).where(CommandLog.id.in_(part))
                                   .values(diagnosis=diagnosis))
    return len(chosen)


def run(session: BenchSession) -> None:
    """Seed a class of 200 and time the live figures and the refreshing fragment."""
    learners = 40 if session.quick else LEARNERS
    url = session.database_url or f"sqlite:///{session.scratch / 'dashboard.db'}"
    catalog = Catalog(default_lessons_dir())
    outline = outline_of(catalog.get(LESSON_ID))
    store = ProgressStore(url)
    try:
        now = utcnow()
        rng = random.Random(20261207)
        clock = time.perf_counter()
        seed(store, outline, learners=learners, commands=learners * LINES_PER_LEARNER, now=now, rng=rng)
        diagnosed = _diagnose(store, rng)
        session.record("seed a class", time.perf_counter() - clock,
                       notes=f"{learners} learners, {learners * LINES_PER_LEARNER:,} lines, "
                             f"{diagnosed:,} diagnoses")
        rules = StuckRules()
        live = session.time("live figures, SQL only",
                            lambda: lesson_live(store, outline, now=now, rules=rules),
                            notes="summary + rows + side facts + last lines + mistakes + times + quizzes")
        app = DashboardApp(store, catalog, rules=rules)

        def fragment() -> bytes:
            app._snapshot = None  # every viewer's refresh computed afresh (no cache)
            seen: dict[str, Any] = {}
            body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/dashboard/live",
                        "QUERY_STRING": "", "wsgi.input": io.BytesIO()},
                       lambda status, headers: seen.setdefault("status", status))
            assert seen["status"] == "200 OK"
            return b"".join(body)

        html = session.time(f"dashboard refresh of {learners} learners (figures + HTML)", fragment,
                            target_ms=TARGET_MS, notes="what the page fetches every 5 s, uncached")
        assert html.count(b"data-learner=") == learners
        alert_rules = AlertRules()
        stuck = session.time("stuck-alert rule over the class",
                             lambda: [why_stuck(x, now, alert_rules) for x in live.learners],
                             notes="the rule alone; claiming is one insert per new alert")
        session.note(f"{learners} learners, {len(html):,} bytes of HTML per refresh, "
                     f"{sum(1 for s in stuck if s)} stuck by the alert rule")
    finally:
        store.close()
