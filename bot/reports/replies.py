"""Class progress for instructors, in words: who may see it, and the replies they get.

The SQL lives in :mod:`bot.progress.queries` and the machine-readable formats in
:mod:`bot.reports.exports`; this module answers the ``progress`` word with a
:class:`~bot.reply.Reply` (the summary with its funnel chart, one learner's timeline,
the CSV export as a file) and gives the App Home its class summary.

Only instructors (``TUTOR_INSTRUCTORS``) may see class data in Slack or the console;
anyone else gets :data:`REFUSAL`, which names nobody, before anything is read. The
command line (:mod:`bot.reports.cli`) has no such check: whoever runs it already holds
the database. Nothing here knows the tutor service: it is given the store and lessons.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.errors import NotAllowed, UsageError
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import CommandEntry, LearnerRef, LearnerTimeline, LessonSummary, ProgressStore
from bot.progress.figures import LessonTrack
from bot.progress.queries import find_learners, hints_asked, learner_timeline, lesson_summary
from bot.progress.records import utcnow
from bot.reply import Code, Context, File, Heading, Image, Markdown, Notice, Reply, Tone
from bot.reports import exports
from bot.reports.exports import MEDIAN_DEFINITION, LessonInfo, lesson_infos, rules_text

REFUSAL = (
    "Class progress is only for instructors. Type `status` to see your own progress."
)
"""What anyone but an instructor gets; it must never name a learner."""

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
NO_CHARTS = (
    "The completion funnel chart needs matplotlib: install `docker-tutor[charts]` to see it."
)
"""Said in place of the chart where the ``charts`` extra is not installed."""

_MENTION = re.compile(r"^<@([A-Za-z0-9_]+)(?:\|([^>]*))?>$")


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


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


def _count(number: int, noun: str) -> str:
    """``1 hint``, ``2 hints``, ``0 hints``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _listed(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def where_most_are(info: LessonInfo, summary: LessonSummary) -> str:
    """The step most learners still working are on, or the steps that tie for it."""
    if summary.stuck_step is None:
        return "Everyone who started has finished."
    if summary.tied_steps:
        steps = _listed([info.step_label(step) for step in summary.tied_steps])
        return (f"No one step has most learners still working: {steps} tie with "
                f"{summary.stuck_step_learners} each (of {summary.unfinished}).")
    if summary.unfinished == 1:
        return f"The one learner still working is on {info.step_label(summary.stuck_step)}."
    return (f"Most learners still working are on {info.step_label(summary.stuck_step)} "
            f"({summary.stuck_step_learners} of {summary.unfinished}).")


# -- the tutor word -----------------------------------------------------------------------


def progress_word(store: ProgressStore, catalog: Catalog, rest: str, *, allowed: bool) -> Reply:
    """Answer ``progress [LESSON | @learner | name | export]``.

    Args:
        store: The progress store.
        catalog: The lessons.
        rest: What followed the word.
        allowed: Whether the person asking is an instructor.

    Raises:
        NotAllowed: When the person is not an instructor (checked before anything is read).
        UsageError: For an unknown learner or an ambiguous name.
    """
    if not allowed:
        raise NotAllowed(REFUSAL)
    rest = rest.strip()
    lesson_ids = {lesson.id for lesson in catalog}
    if rest.lower() in ("help", "?"):
        return Reply().add(Markdown(USAGE))
    if rest.lower() in ("export", "export csv"):
        return export_reply(store, lesson_infos(catalog))
    if rest in lesson_ids:
        info = LessonInfo.of(catalog.get(rest))
        return summary_reply([(info, lesson_summary(store, info.outline))], show_empty=True)
    if rest:
        ref = resolve_learner(store, rest)
        timeline = learner_timeline(store, ref.key, commands=RECENT_COMMANDS)
        if timeline is None:  # removed between the two reads
            raise UsageError(f"I have no progress for {rest}.")
        return timeline_reply(timeline, {info.id: info for info in lesson_infos(catalog)},
                              hints=hints_asked(store, ref.key))
    infos = lesson_infos(catalog)
    return summary_reply([(info, lesson_summary(store, info.outline)) for info in infos])


def class_summary(store: ProgressStore, catalog: Catalog, *, allowed: bool) -> Reply:
    """The class summary without charts or usage lines, for an instructor's App Home.

    Raises:
        NotAllowed: When the person is not an instructor.
    """
    if not allowed:
        raise NotAllowed(REFUSAL)
    items = [(info, lesson_summary(store, info.outline)) for info in lesson_infos(catalog)]
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
        chart: Add a funnel PNG per lesson (a note instead, without the ``charts`` extra).
        show_empty: Show lessons nobody started (otherwise they are left out).
        usage: End with the ``progress`` words an instructor can type next.
    """
    reply = Reply(ephemeral=True)
    shown = [(info, summary) for info, summary in items if summary.started or show_empty]
    if not shown:
        return reply.add(Notice("No learner has started a lesson yet.", Tone.INFO))
    charts = chart and charts_available()
    for info, summary in shown:
        reply.add(Heading(f"Class progress: {info.title}"), Markdown(_summary_text(info, summary)))
        if charts:
            reply.add(Image(funnel_png(info, summary), f"Completion funnel {info.title}"))
    if chart and not charts:
        reply.add(Context(NO_CHARTS))
    rules = shown[0][1].rules
    reply.add(Context(f"Definitions: {MEDIAN_DEFINITION}; {rules_text(rules)}."))
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
    lines.append(where_most_are(info, summary))
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


def charts_available() -> bool:
    """Whether matplotlib (the ``charts`` extra) is installed; nothing is imported to find out."""
    from importlib.util import find_spec

    return find_spec("matplotlib") is not None


def funnel_png(info: LessonInfo, summary: LessonSummary) -> bytes:
    """The lesson's completion funnel as PNG bytes (needs the ``charts`` extra)."""
    from bot.reports.chart import funnel_chart

    challenge = set(info.challenge_step_ids)
    steps = [(f"{n}. {title}", summary.step_completions.get(step, 0))
             for n, (step, title) in enumerate(info.steps, start=1)]
    highlight = {i for i, (step, _) in enumerate(info.steps) if step in challenge}
    return funnel_chart(f"{info.title}: {summary.started} started", steps,
                        total=summary.started, highlight=highlight).png


# -- one learner ----------------------------------------------------------------------------


def timeline_reply(timeline: LearnerTimeline, lessons: Mapping[str, LessonInfo],
                   hints: Mapping[tuple[str, str], int] | None = None) -> Reply:
    """One learner's timeline in every lesson they started, then their last commands.

    Args:
        timeline: The learner's record.
        lessons: The lessons, by id (for step titles and quiz choices).
        hints: Hints given per ``(lesson, step)`` (:func:`bot.progress.queries.hints_asked`);
            without it, the step's hint counter (which stops at its number of hints).
    """
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
        reply.add(Markdown(_track_text(info, track, hints)))
    if timeline.commands:
        reply.add(Markdown(f"**Last {len(timeline.commands)} commands** (oldest first):"),
                  Code(_commands_text(timeline, lessons)))
    else:
        reply.add(Context("No commands yet."))
    return reply


def _track_text(info: LessonInfo, track: LessonTrack,
                hints: Mapping[tuple[str, str], int] | None = None) -> str:
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
        given = (current.hints_shown if current is not None else 0) if hints is None else (
            hints.get((track.lesson_id, track.current_step), 0))
        if current is not None or given:
            failed, asked = ((current.failed_checks, current.check_attempts) if current is not None
                             else (0, 0))
            detail = f": {failed} failed of {_count(asked, 'check')}, {_count(given, 'hint')}"
        lines.append(f"\u2022 now on {info.step_label(track.current_step)}{detail}")
    return "\n".join(lines)


def entry_text(entry: CommandEntry, lessons: Mapping[str, LessonInfo]) -> str:
    """What a logged entry says: its text, or for a quiz answer the choice's own words."""
    fact = (entry.facts or {}).get("quiz") if entry.kind == "quiz" else None
    info = lessons.get(entry.lesson_id or "")
    if isinstance(fact, dict) and info is not None:
        question = str(fact.get("question"))
        label = info.choice_text(str(fact.get("step")), question, fact.get("choice"))
        if label is not None:
            verdict = "right" if fact.get("correct") else "wrong"
            return f"answer \u201c{label}\u201d ({question}: {verdict})"
    return entry.text


def _commands_text(timeline: LearnerTimeline, lessons: Mapping[str, LessonInfo]) -> str:
    lines = []
    for entry in timeline.commands:
        step = entry.step_id or "-"
        lines.append(f"{entry.at:%m-%d %H:%M}  {step:<14} exit {entry.exit_status:<4} "
                     f"{entry_text(entry, lessons)}")
        if entry.exit_status != 0 and entry.output.strip():
            first = entry.output.strip().splitlines()[0][:OUTPUT_CHARS]
            lines.append(f"{'':<12}\u21b3 {first}")
    return "\n".join(lines)


# -- the export as a file -------------------------------------------------------------------


def export_reply(store: ProgressStore, infos: Sequence[LessonInfo], *, now: datetime | None = None) -> Reply:
    """The CSV export as a File part, with a line saying what is in it."""
    now = now or utcnow()
    records = exports.class_records(store, infos, now=now)
    learners = len({rec["learner_key"] for rec in records})
    filename = f"class-progress-{now:%Y%m%d-%H%M}.csv"
    return Reply(ephemeral=True).add(
        File(exports.csv_bytes(records), filename, f"Class progress, {now:%Y-%m-%d %H:%M} UTC"),
        Context(f"{len(records)} rows ({learners} learners), one per learner per lesson started. "
                f"Columns: {', '.join(exports.CSV_COLUMNS)}."),
    )


__all__ = [
    "NO_CHARTS",
    "REFUSAL",
    "USAGE",
    "LearnerQuery",
    "charts_available",
    "class_summary",
    "entry_text",
    "export_reply",
    "funnel_png",
    "parse_learner",
    "progress_word",
    "resolve_learner",
    "summary_reply",
    "timeline_reply",
    "where_most_are",
]
