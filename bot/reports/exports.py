"""Class data as records and files: the CSV export, the JSON document and the plain table.

The figures come from :mod:`bot.progress.queries`; :mod:`bot.reports.replies` words them for
people (and decides who may see them), :mod:`bot.reports.cli` writes them for
``docker-tutor progress``. This module holds what both share: the lessons as the reports
see them (:class:`LessonInfo`), the definitions, and every machine-readable format.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.lessons.model import Catalog, Lesson
from bot.progress import LearnerRow, LessonOutline, LessonSummary, ProgressStore, StuckRules, queries
from bot.progress.records import utcnow

MEDIAN_DEFINITION = (
    "time to complete = from the learner's lesson start to their challenge completion "
    "(in a lesson without a challenge: to the lesson's completion); the median is over "
    "the learners who completed it"
)
STUCK_DEFINITION = (
    "looks stuck = not finished, and no step completed (nor the lesson started) for "
    "{idle} min, or {failed}+ failed attempts (failed checks plus failed docker commands) "
    "on the current step"
)

CSV_COLUMNS = (
    "learner_key",
    "name",
    "lesson",
    "started_at",
    "current_step",
    "current_step_number",
    "steps_completed",
    "steps_total",
    "challenge_completed_at",
    "lesson_completed_at",
    "minutes_to_complete",
    "failed_checks",
    "failed_commands",
    "failed_attempts",
    "last_progress_at",
    "last_active_at",
    "idle_minutes",
    "stuck",
    "stuck_reason",
)
"""The export's columns: one row per learner per lesson they started.

Times are ISO 8601 in UTC (``2030-01-06T09:40:00Z``); ``minutes_to_complete`` runs from
the lesson start to the challenge completion (one decimal); ``failed_*`` count on the
current step only; ``idle_minutes`` is the time since the last progress (empty once
finished); ``stuck`` is ``yes`` or ``no`` and ``stuck_reason`` says why.
"""

TABLE_COLUMNS = (
    ("learner_key", "learner"),
    ("name", "name"),
    ("lesson", "lesson"),
    ("current_step_number", "step"),
    ("steps_completed", "done"),
    ("minutes_to_complete", "minutes"),
    ("failed_attempts", "failed"),
    ("idle_minutes", "idle"),
    ("stuck", "stuck"),
    ("stuck_reason", "why"),
)
"""The plain table's columns (a subset of the CSV's) and their headings."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- lessons as the reports see them ------------------------------------------------------


@dataclass(frozen=True)
class LessonInfo:
    """A lesson's id, title, step titles and quiz choices: what the reports print.

    Attributes:
        id: The lesson id.
        title: Its title.
        steps: ``(step id, step title)`` in lesson order.
        challenge_step_ids: Its challenge steps.
        choices: ``(step id, question id, its choices)`` of every quiz question, so an
            answer logged as ``answer keep:1`` reads as the choice's text.
    """

    id: str
    title: str
    steps: tuple[tuple[str, str], ...]
    challenge_step_ids: tuple[str, ...]
    choices: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, lesson: Lesson) -> LessonInfo:
        """The info of a loaded lesson."""
        return cls(lesson.id, lesson.title, tuple((s.id, s.title) for s in lesson.steps),
                   tuple(s.id for s in lesson.challenge_steps),
                   tuple((s.id, q.id, tuple(q.choices)) for s in lesson.steps for q in s.quiz))

    def choice_text(self, step_id: str, question_id: str, choice: object) -> str | None:
        """The text of choice number ``choice`` (1-based) of a quiz question, if it has one."""
        for step, question, choices in self.choices:
            if (step, question) == (step_id, question_id) and isinstance(choice, int) and (
                    1 <= choice <= len(choices)):
                return choices[choice - 1]
        return None

    @property
    def outline(self) -> LessonOutline:
        """The lesson as the SQL layer needs it."""
        return LessonOutline(self.id, tuple(step for step, _ in self.steps), self.challenge_step_ids)

    def step_label(self, step_id: str) -> str:
        """``3. “Named volumes”`` (or the bare id of a step the lesson no longer has)."""
        for number, (step, title) in enumerate(self.steps, start=1):
            if step == step_id:
                return f"{number}. \u201c{title}\u201d"
        return f"`{step_id}`"


def lesson_infos(catalog: Catalog, lesson_id: str | None = None) -> list[LessonInfo]:
    """Every lesson of the catalog as the reports see it, or just ``lesson_id``.

    Raises:
        LessonError: ``lesson_id`` is not in the catalog.
    """
    if lesson_id:
        return [LessonInfo.of(catalog.get(lesson_id))]
    return [LessonInfo.of(lesson) for lesson in catalog]


def iso(when: datetime | None) -> str:
    """A time as ISO 8601 in UTC (``2030-01-06T09:40:00Z``); empty for ``None``."""
    if when is None:
        return ""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rules_text(rules: StuckRules) -> str:
    """The "looks stuck" definition with the rules' numbers."""
    idle = rules.idle_after.total_seconds() / 60
    return STUCK_DEFINITION.format(idle=f"{idle:g}", failed=rules.failed_attempts)


# -- records --------------------------------------------------------------------------------


Record = dict[str, str | int | float | bool | None]
"""One export row, keyed by :data:`CSV_COLUMNS`."""


def record(info: LessonInfo, row: LearnerRow, *, now: datetime, rules: StuckRules) -> Record:
    """One learner's export row."""
    minutes = row.minutes_to_complete
    reasons = row.stuck_reasons(now, rules)
    idle = None if row.finished else int(row.idle(now).total_seconds() // 60)
    return {
        "learner_key": row.key,
        "name": row.name,
        "lesson": row.lesson_id,
        "started_at": iso(row.started_at),
        "current_step": row.current_step,
        "current_step_number": info.outline.step_number(row.current_step),
        "steps_completed": row.steps_completed,
        "steps_total": len(info.steps),
        "challenge_completed_at": iso(row.challenge_completed_at),
        "lesson_completed_at": iso(row.lesson_completed_at),
        "minutes_to_complete": None if minutes is None else round(minutes, 1),
        "failed_checks": row.failed_checks,
        "failed_commands": row.failed_commands,
        "failed_attempts": row.failed_attempts,
        "last_progress_at": iso(row.last_progress_at),
        "last_active_at": iso(row.last_active_at),
        "idle_minutes": idle,
        "stuck": bool(reasons),
        "stuck_reason": "; ".join(reasons),
    }


def class_records(
    store: ProgressStore,
    infos: Iterable[LessonInfo],
    *,
    now: datetime | None = None,
    rules: StuckRules | None = None,
) -> list[Record]:
    """Every learner of every lesson given, one record each, by lesson then learner key."""
    now = now or utcnow()
    rules = rules or StuckRules()
    return [record(info, row, now=now, rules=rules)
            for info in infos for row in queries.learner_rows(store, info.outline)]


# -- CSV ------------------------------------------------------------------------------------


def _plain(value: str | int | float | bool | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _cell(value: str | int | float | bool | None) -> str:
    text = _plain(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text  # keeps a spreadsheet from running a learner's name as a formula
    return text


def csv_bytes(records: Iterable[Record]) -> bytes:
    """The records as UTF-8 CSV with a header row of :data:`CSV_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for rec in records:
        writer.writerow([_cell(rec[column]) for column in CSV_COLUMNS])
    return buffer.getvalue().encode("utf-8")


def export_csv(
    store: ProgressStore,
    infos: Iterable[LessonInfo],
    *,
    now: datetime | None = None,
    rules: StuckRules | None = None,
) -> bytes:
    """The CSV export of every learner in the lessons given."""
    return csv_bytes(class_records(store, infos, now=now, rules=rules))


# -- JSON and the plain table ---------------------------------------------------------------


def summary_record(info: LessonInfo, summary: LessonSummary) -> dict[str, object]:
    """A lesson's summary as plain data (the JSON export)."""
    return {
        "lesson": info.id,
        "title": info.title,
        "started": summary.started,
        "steps": [{"step": step, "title": title, "completed": summary.step_completions.get(step, 0)}
                  for step, title in info.steps],
        "challenge_completions": summary.challenge_completions,
        "lesson_completions": summary.lesson_completions,
        "finished": summary.finished,
        "median_minutes_to_complete": (None if summary.median_minutes is None
                                       else round(summary.median_minutes, 1)),
        "stuck_step": summary.stuck_step,
        "stuck_step_learners": summary.stuck_step_learners,
        "tied_steps": list(summary.tied_steps),
        "stuck_learners": [{"learner_key": row.key, "name": row.name, "current_step": row.current_step,
                            "reasons": list(row.stuck_reasons(summary.generated_at, summary.rules))}
                           for row in summary.stuck],
    }


def json_text(
    items: Sequence[tuple[LessonInfo, LessonSummary]], records: Sequence[Record], *, now: datetime,
    rules: StuckRules,
) -> str:
    """Summaries, definitions and learner records as one JSON document."""
    document = {
        "generated_at": iso(now),
        "definitions": {"median": MEDIAN_DEFINITION, "stuck": rules_text(rules)},
        "rules": {"idle_minutes": rules.idle_after.total_seconds() / 60,
                  "failed_attempts": rules.failed_attempts},
        "columns": list(CSV_COLUMNS),
        "lessons": [summary_record(info, summary) for info, summary in items],
        "learners": records,
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def table_text(records: Sequence[Record]) -> str:
    """The records as an aligned plain-text table (a subset of the CSV's columns)."""
    header = [title for _, title in TABLE_COLUMNS]
    body = [[_plain(rec[key]) for key, _ in TABLE_COLUMNS] for rec in records]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [header, *body]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


__all__ = [
    "CSV_COLUMNS",
    "MEDIAN_DEFINITION",
    "STUCK_DEFINITION",
    "TABLE_COLUMNS",
    "LessonInfo",
    "Record",
    "class_records",
    "csv_bytes",
    "export_csv",
    "iso",
    "json_text",
    "lesson_infos",
    "record",
    "rules_text",
    "summary_record",
    "table_text",
]
