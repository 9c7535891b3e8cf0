"""Class progress for instructors, free of Slack: replies, exports and the CLI's output.

The SQL lives in :mod:`bot.progress.reports`; this module turns its figures into a
:class:`~bot.reply.Reply` (the summary with its funnel chart, one learner's timeline,
the CSV export as a file) and into the CSV, JSON and table output of
``docker-tutor progress``.

Only instructors (``TUTOR_INSTRUCTORS``) may see class data in Slack or the console;
anyone else gets :data:`REFUSAL`, which names nobody. The command line has no such
check: whoever runs it already holds the database.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bot.config import Settings
from bot.errors import NotAllowed, UsageError
from bot.identity import Person
from bot.lessons import Catalog, Lesson
from bot.progress import ProgressStore
from bot.progress.models import utcnow
from bot.progress.reports import (
    LearnerRef,
    LearnerRow,
    LearnerTimeline,
    LessonOutline,
    LessonSummary,
    LessonTrack,
    StuckRules,
    find_learners,
    learner_rows,
    learner_timeline,
    lesson_summary,
)
from bot.reply import Code, Context, File, Heading, Image, Markdown, Notice, Reply, Tone

if TYPE_CHECKING:
    from bot.tutor import Tutor

REFUSAL = (
    "Class progress is only for instructors. Type `status` to see your own progress."
)
"""What anyone but an instructor gets; it must never name a learner."""

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
USAGE = (
    "`progress`: the class in every lesson (with a chart) · `progress LESSON`: one lesson · "
    "`progress @learner` (or a name): one learner's timeline and last commands · "
    "`progress export`: every learner as a CSV file"
)
MAX_NAMES = 15
"""How many stuck learners the summary names (the export has them all)."""
RECENT_COMMANDS = 10
"""How many of a learner's last commands the timeline shows."""
OUTPUT_CHARS = 160
"""How much of a failed command's output the timeline quotes."""

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

_MENTION = re.compile(r"^<@([A-Za-z0-9_]+)(?:\|([^>]*))?>$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- lessons as the reports see them ------------------------------------------------------


@dataclass(frozen=True)
class LessonInfo:
    """A lesson's id, title and step titles: what the reports print.

    Attributes:
        id: The lesson id.
        title: Its title.
        steps: ``(step id, step title)`` in lesson order.
        challenge_step_ids: Its challenge steps.
    """

    id: str
    title: str
    steps: tuple[tuple[str, str], ...]
    challenge_step_ids: tuple[str, ...]

    @classmethod
    def of(cls, lesson: Lesson) -> LessonInfo:
        """The info of a loaded lesson."""
        return cls(lesson.id, lesson.title, tuple((s.id, s.title) for s in lesson.steps),
                   tuple(s.id for s in lesson.challenge_steps))

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


def _infos(catalog: Catalog, lesson_id: str | None = None) -> list[LessonInfo]:
    if lesson_id:
        return [LessonInfo.of(catalog.get(lesson_id))]
    return [LessonInfo.of(lesson) for lesson in catalog]


# -- small formatters ---------------------------------------------------------------------


def _minutes(minutes: float) -> str:
    """``50 min``, ``1 h 35 min``, ``2 d 3 h``."""
    whole = round(minutes)
    if whole < 60:
        return f"{whole} min"
    hours, rest = divmod(whole, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _iso(when: datetime | None) -> str:
    if when is None:
        return ""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


def _rules_text(rules: StuckRules) -> str:
    idle = rules.idle_after.total_seconds() / 60
    return STUCK_DEFINITION.format(idle=f"{idle:g}", failed=rules.failed_attempts)


# -- the tutor word -----------------------------------------------------------------------


def progress_word(tutor: Tutor, person: Person, rest: str) -> Reply:
    """Answer ``progress [LESSON | @learner | name | export]`` for an instructor.

    Raises:
        NotAllowed: When the person is not an instructor (checked before anything is read).
        UsageError: For an unknown learner or an ambiguous name.
    """
    if not tutor.is_instructor(person):
        raise NotAllowed(REFUSAL)
    rest = rest.strip()
    catalog, store = tutor.catalog, tutor.store
    lesson_ids = {lesson.id for lesson in catalog}
    if rest.lower() in ("help", "?"):
        return Reply().add(Markdown(USAGE))
    if rest.lower() in ("export", "export csv"):
        return export_reply(store, _infos(catalog))
    if rest in lesson_ids:
        info = LessonInfo.of(catalog.get(rest))
        return summary_reply([(info, lesson_summary(store, info.outline))], show_empty=True)
    if rest:
        ref = resolve_learner(store, rest)
        timeline = learner_timeline(store, ref.key, commands=RECENT_COMMANDS)
        if timeline is None:  # removed between the two reads
            raise UsageError(f"I have no progress for {rest}.")
        return timeline_reply(timeline, {info.id: info for info in _infos(catalog)})
    return summary_reply([(info, lesson_summary(store, info.outline)) for info in _infos(catalog)])


def class_summary(tutor: Tutor, person: Person) -> Reply:
    """The class summary without charts or usage lines, for an instructor's App Home.

    Raises:
        NotAllowed: When the person is not an instructor.
    """
    if not tutor.is_instructor(person):
        raise NotAllowed(REFUSAL)
    items = [(info, lesson_summary(tutor.store, info.outline)) for info in _infos(tutor.catalog)]
    return summary_reply(items, chart=False, usage=False)


# -- finding a learner --------------------------------------------------------------------


@dataclass(frozen=True)
class LearnerQuery:
    """Who an instructor asked about.

    Attributes:
        text: What they typed.
        user_id: The Slack user id of a mention (``<@U123|ada>``), else ``None``.
        name: The name to look up (the mention's label, or the plain text).
    """

    text: str
    user_id: str | None
    name: str


def parse_learner(text: str) -> LearnerQuery:
    """Read a Slack mention (``<@U123|name>``, ``<@U123>``), ``@name`` or a plain name."""
    text = text.strip()
    match = _MENTION.match(text)
    if match:
        return LearnerQuery(text, match.group(1), (match.group(2) or "").strip())
    return LearnerQuery(text, None, text.removeprefix("@").strip())


def resolve_learner(store: ProgressStore, text: str) -> LearnerRef:
    """The one learner an instructor means by ``text``.

    A mention matches the Slack user id only. Plain text matches a store key
    (``slack:U123``), a console or Slack user id, or a display name in any case; an exact
    key or id wins over display names.

    Raises:
        UsageError: When nobody, or more than one learner, matches.
    """
    query = parse_learner(text)
    if query.user_id:
        keys = [Person("slack", query.user_id).key]
        found = find_learners(store, keys=keys)
    else:
        if not query.name:
            raise UsageError("Whose progress? Try `progress @learner`.")
        keys = [Person("console", query.name).key, Person("slack", query.name).key]
        if ":" in query.name:
            keys.append(query.name)
        found = find_learners(store, keys=keys, name=query.name)
        by_key = [ref for ref in found if ref.key in keys]
        found = by_key or found
    if not found:
        raise UsageError(f"I have no progress for {query.text}: they haven't used the tutor yet.")
    if len(found) > 1:
        names = ", ".join(f"{ref.name} (`{ref.key}`)" for ref in found[:10])
        raise UsageError(f"Several learners match {query.text}: {names}. Use a mention or a key.")
    return found[0]


# -- the class summary --------------------------------------------------------------------


def summary_reply(
    items: Sequence[tuple[LessonInfo, LessonSummary]],
    *,
    chart: bool = True,
    show_empty: bool = False,
    usage: bool = True,
) -> Reply:
    """The class summary of each lesson, with its funnel chart as an Image part.

    Args:
        items: Each lesson with its summary.
        chart: Add a funnel PNG per lesson.
        show_empty: Show lessons nobody started (otherwise they are left out).
        usage: End with the ``progress`` words an instructor can type next.
    """
    reply = Reply(ephemeral=True)
    shown = [(info, summary) for info, summary in items if summary.started or show_empty]
    if not shown:
        return reply.add(Notice("No learner has started a lesson yet.", Tone.INFO))
    for info, summary in shown:
        reply.add(Heading(f"Class progress: {info.title}"), Markdown(_summary_text(info, summary)))
        if chart:
            reply.add(Image(funnel_png(info, summary), f"Completion funnel {info.title}"))
    rules = shown[0][1].rules
    reply.add(Context(f"Definitions: {MEDIAN_DEFINITION}; {_rules_text(rules)}."))
    return reply.add(Context(USAGE)) if usage else reply


def _summary_text(info: LessonInfo, summary: LessonSummary) -> str:
    started = summary.started
    lines = [f"**{started}** started"]
    if summary.challenge_completions is not None:
        lines[0] += (f" \u00b7 **{summary.challenge_completions}** completed the challenge "
                     f"({_percent(summary.challenge_completions, started)})")
    lines[0] += f" \u00b7 **{summary.lesson_completions}** completed the whole lesson"
    if summary.median_minutes is not None:
        lines.append(f"Median time to complete: **{_minutes(summary.median_minutes)}** "
                     f"(lesson start to challenge completion, {summary.finished} learners)")
    else:
        lines.append("Median time to complete: nobody has completed it yet")
    lines.append("")
    lines.append("Completed each step:")
    challenge = set(info.challenge_step_ids)
    for step_id, _title in info.steps:
        count = summary.step_completions.get(step_id, 0)
        mark = " (challenge)" if step_id in challenge else ""
        lines.append(f"{info.step_label(step_id)}{mark}: {count} ({_percent(count, started)})")
    lines.append("")
    if summary.stuck_step is not None:
        lines.append(f"Most learners still working are on {info.step_label(summary.stuck_step)} "
                     f"({summary.stuck_step_learners} of {summary.unfinished}).")
    else:
        lines.append("Everyone who started has finished.")
    if summary.stuck:
        lines.append(f"**Look stuck ({len(summary.stuck)}):**")
        now = summary.generated_at
        for row in summary.stuck[:MAX_NAMES]:
            reasons = ", ".join(row.stuck_reasons(now, summary.rules))
            lines.append(f"\u2022 {row.name}: {info.step_label(row.current_step)}, {reasons}")
        more = len(summary.stuck) - MAX_NAMES
        if more > 0:
            lines.append(f"\u2026 and {more} more (`progress export` lists everyone).")
    else:
        lines.append("Nobody looks stuck.")
    return "\n".join(lines)


def funnel_png(info: LessonInfo, summary: LessonSummary) -> bytes:
    """The lesson's completion funnel as PNG bytes."""
    from bot.chart import funnel_chart

    challenge = set(info.challenge_step_ids)
    steps = [(f"{n}. {title}", summary.step_completions.get(step, 0))
             for n, (step, title) in enumerate(info.steps, start=1)]
    highlight = {i for i, (step, _) in enumerate(info.steps) if step in challenge}
    return funnel_chart(f"{info.title}: {summary.started} started", steps,
                        total=summary.started, highlight=highlight).png


# -- one learner ----------------------------------------------------------------------------


def timeline_reply(timeline: LearnerTimeline, lessons: Mapping[str, LessonInfo]) -> Reply:
    """One learner's timeline in every lesson they started, then their last commands."""
    who = timeline.learner
    reply = Reply(ephemeral=True).add(
        Heading(f"Progress of {who.name}"),
        Context(f"`{who.key}` \u00b7 last active {who.last_active_at:%Y-%m-%d %H:%M} UTC "
                "\u00b7 times in UTC"),
    )
    if not timeline.lessons:
        reply.add(Notice(f"{who.name} has not started a lesson.", Tone.INFO))
    for track in timeline.lessons:
        info = lessons.get(track.lesson_id) or LessonInfo(track.lesson_id, track.lesson_id, (), ())
        reply.add(Markdown(_track_text(info, track)))
    if timeline.commands:
        reply.add(Markdown(f"**Last {len(timeline.commands)} commands** (oldest first):"),
                  Code(_commands_text(timeline)))
    else:
        reply.add(Context("No commands yet."))
    return reply


def _track_text(info: LessonInfo, track: LessonTrack) -> str:
    done = sum(1 for mark in track.steps.values() if mark.completed_at is not None)
    total = len(info.steps) or len(track.steps)
    lines = [f"**{info.title}**: {done} of {total} steps done"]
    events: list[tuple[datetime, int, str]] = [(track.started_at, 0, "started the lesson")]
    order = {step: i for i, (step, _) in enumerate(info.steps)}
    for mark in track.steps.values():
        if mark.completed_at is not None:
            after = _minutes((mark.completed_at - track.started_at).total_seconds() / 60)
            events.append((mark.completed_at, 1 + order.get(mark.step_id, 0),
                           f"\u2705 completed {info.step_label(mark.step_id)} ({after} in)"))
    for step_id, when in track.challenges.items():
        after = _minutes((when - track.started_at).total_seconds() / 60)
        events.append((when, 1000 + order.get(step_id, 0),
                       f"\U0001f3c6 challenge completed, {after} after the start"))
    if track.completed_at is not None:
        events.append((track.completed_at, 2000, "\U0001f393 completed the lesson"))
    events.sort()
    previous: datetime | None = None
    for when, _, text in events:
        stamp = f"{when:%H:%M}" if previous and previous.date() == when.date() else f"{when:%Y-%m-%d %H:%M}"
        lines.append(f"\u2022 {stamp} {text}")
        previous = when
    if track.completed_at is None:
        current = track.steps.get(track.current_step)
        detail = ""
        if current is not None:
            detail = (f": {current.failed_checks} failed of {current.check_attempts} checks, "
                      f"{current.hints_shown} hints")
        lines.append(f"\u2022 now on {info.step_label(track.current_step)}{detail}")
    return "\n".join(lines)


def _commands_text(timeline: LearnerTimeline) -> str:
    lines = []
    for entry in timeline.commands:
        step = entry.step_id or "-"
        lines.append(f"{entry.at:%m-%d %H:%M}  {step:<14} exit {entry.exit_status:<4} {entry.text}")
        if entry.exit_status != 0 and entry.output.strip():
            first = entry.output.strip().splitlines()[0][:OUTPUT_CHARS]
            lines.append(f"{'':<12}\u21b3 {first}")
    return "\n".join(lines)


# -- exports --------------------------------------------------------------------------------


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
        "started_at": _iso(row.started_at),
        "current_step": row.current_step,
        "current_step_number": info.outline.step_number(row.current_step),
        "steps_completed": row.steps_completed,
        "steps_total": len(info.steps),
        "challenge_completed_at": _iso(row.challenge_completed_at),
        "lesson_completed_at": _iso(row.lesson_completed_at),
        "minutes_to_complete": None if minutes is None else round(minutes, 1),
        "failed_checks": row.failed_checks,
        "failed_commands": row.failed_commands,
        "failed_attempts": row.failed_attempts,
        "last_progress_at": _iso(row.last_progress_at),
        "last_active_at": _iso(row.last_active_at),
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
            for info in infos for row in learner_rows(store, info.outline)]


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


def export_reply(store: ProgressStore, infos: Sequence[LessonInfo], *, now: datetime | None = None) -> Reply:
    """The CSV export as a File part, with a line saying what is in it."""
    now = now or utcnow()
    records = class_records(store, infos, now=now)
    learners = len({rec["learner_key"] for rec in records})
    filename = f"class-progress-{now:%Y%m%d-%H%M}.csv"
    return Reply(ephemeral=True).add(
        File(csv_bytes(records), filename, f"Class progress, {now:%Y-%m-%d %H:%M} UTC"),
        Context(f"{len(records)} rows ({learners} learners), one per learner per lesson started. "
                f"Columns: {', '.join(CSV_COLUMNS)}."),
    )


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
        "generated_at": _iso(now),
        "definitions": {"median": MEDIAN_DEFINITION, "stuck": _rules_text(rules)},
        "rules": {"idle_minutes": rules.idle_after.total_seconds() / 60,
                  "failed_attempts": rules.failed_attempts},
        "columns": list(CSV_COLUMNS),
        "lessons": [summary_record(info, summary) for info, summary in items],
        "learners": records,
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


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


def table_text(records: Sequence[Record]) -> str:
    """The records as an aligned plain-text table (a subset of the CSV's columns)."""
    header = [title for _, title in TABLE_COLUMNS]
    body = [[_plain(rec[key]) for key, _ in TABLE_COLUMNS] for rec in records]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [header, *body]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# -- the command line -----------------------------------------------------------------------


def chart_paths(chart: Path, lesson_ids: Sequence[str]) -> dict[str, Path]:
    """Where each lesson's chart goes: ``chart`` itself for one lesson, else ``stem-ID.png``."""
    if len(lesson_ids) == 1:
        return {lesson_ids[0]: chart}
    return {lesson_id: chart.with_name(f"{chart.stem}-{lesson_id}{chart.suffix or '.png'}")
            for lesson_id in lesson_ids}


def run_cli(
    store: ProgressStore,
    catalog: Catalog,
    out: IO[str],
    *,
    lesson_id: str | None = None,
    fmt: str = "table",
    chart: Path | None = None,
    rules: StuckRules | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Write the class report to ``out`` (and charts to files) for ``docker-tutor progress``.

    Returns:
        The chart files written.
    """
    now = now or utcnow()
    rules = rules or StuckRules()
    infos = _infos(catalog, lesson_id)
    items = [(info, lesson_summary(store, info.outline, now=now, rules=rules)) for info in infos]
    if lesson_id is None:
        items = [(info, summary) for info, summary in items if summary.started] or items[:1]
    records = class_records(store, [info for info, _ in items], now=now, rules=rules)
    if fmt == "csv":
        out.write(csv_bytes(records).decode("utf-8"))
    elif fmt == "json":
        out.write(json_text(items, records, now=now, rules=rules) + "\n")
    else:
        from bot.render_text import render

        out.write(render(summary_reply(items, chart=False, show_empty=True, usage=False)) + "\n\n")
        out.write((table_text(records) if records else "(no learners)") + "\n")
    written = []
    if chart is not None:
        paths = chart_paths(chart, [info.id for info, _ in items])
        for info, summary in items:
            path = paths[info.id]
            path.write_bytes(funnel_png(info, summary))
            written.append(path)
    return written


def rules_from(idle_minutes: float, failed_attempts: int) -> StuckRules:
    """Stuck rules from command-line numbers."""
    if idle_minutes <= 0 or failed_attempts <= 0:
        raise UsageError("--stuck-minutes and --stuck-failures must be positive.")
    return StuckRules(timedelta(minutes=idle_minutes), failed_attempts)


def progress_cli(
    settings: Settings,
    *,
    lesson_id: str | None = None,
    fmt: str = "table",
    chart: Path | None = None,
    idle_minutes: float = 30,
    failed_attempts: int = 3,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """``docker-tutor progress``: the class report on the operator's machine (no role check).

    Returns:
        The exit status: 0.
    """
    import sys

    rules = rules_from(idle_minutes, failed_attempts)
    catalog = Catalog(settings.lessons_dir)
    store = ProgressStore(settings.database_url)
    try:
        written = run_cli(store, catalog, out or sys.stdout, lesson_id=lesson_id, fmt=fmt,
                          chart=chart, rules=rules)
    finally:
        store.close()
    for path in written:
        print(f"chart written to {path}", file=err or sys.stderr)
    return 0


__all__ = [
    "CSV_COLUMNS",
    "REFUSAL",
    "LearnerQuery",
    "LessonInfo",
    "Record",
    "class_records",
    "csv_bytes",
    "export_csv",
    "export_reply",
    "funnel_png",
    "json_text",
    "parse_learner",
    "progress_cli",
    "progress_word",
    "resolve_learner",
    "rules_from",
    "run_cli",
    "summary_reply",
    "table_text",
    "timeline_reply",
]
