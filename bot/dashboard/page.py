"""The live class view as HTML: the page's frame and the part that refreshes.

Every learner-controlled string (names, commands, output, step titles) goes through
:func:`html.escape` here and nowhere else is HTML built. The page needs no inline script
or style: the Content-Security-Policy of :mod:`bot.dashboard.app` forbids both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from bot.progress.live import LessonLive, LiveLearner
from bot.reports.exports import LessonInfo

REFRESH_SECONDS = 5
"""How often the page asks for a fresh view."""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return "<1 min"
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


def _clip(text: str, limit: int = 120) -> str:
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _last_cell(learner: LiveLearner) -> str:
    last = learner.last
    if last is None:
        return '<td class="muted">no line yet</td>'
    status = "ok" if last.exit_status == 0 else "fail"
    result = {0: "✓", -1: "refused", -2: "not run"}.get(last.exit_status, f"exit {last.exit_status}")
    parts = [f'<code>{_e(_clip(last.text))}</code> <span class="{status}">{_e(result)}</span>']
    if last.diagnosis:
        parts.append(f'<span class="diag" data-diagnosis="{_e(last.diagnosis)}">'
                     f'{_e(last.diagnosis)}</span>')
    elif last.exit_status != 0 and last.output:
        parts.append(f'<span class="muted">{_e(_clip(last.output, 90))}</span>')
    return "<td>" + "<br>".join(parts) + "</td>"


def _learner_row(info: LessonInfo, learner: LiveLearner, now: datetime) -> str:
    row = learner.row
    if row.finished:
        state = '<span class="done">finished</span>'
    elif learner.stuck:
        state = '<span class="stuck">stuck: ' + _e("; ".join(learner.stuck)) + "</span>"
    else:
        state = '<span class="working">working</span>'
    return (
        f'<tr data-learner="{_e(row.key)}" class="{"is-stuck" if learner.stuck else ""}">'
        f"<td>{_e(row.name)}</td>"
        f"<td>{_e(info.step_label(row.current_step))}</td>"
        f'<td class="num">{_e(_minutes(learner.minutes_on_step(now)))}</td>'
        f"{_last_cell(learner)}"
        f"<td>{state}</td>"
        f'<td class="num">{row.failed_attempts}</td>'
        f'<td class="num">{learner.hints}</td>'
        "</tr>"
    )


def _funnel(info: LessonInfo, live: LessonLive) -> str:
    summary = live.summary
    rows = []
    for number, (step_id, title) in enumerate(info.steps, start=1):
        done = summary.step_completions.get(step_id, 0)
        rows.append(
            f"<tr><td>{number}. {_e(title)}</td>"
            f'<td><progress max="{max(summary.started, 1)}" value="{done}"></progress></td>'
            f'<td class="num">{done}/{summary.started}</td></tr>'
        )
    return ('<table class="funnel"><caption>Funnel: learners who completed each step</caption>'
            + "".join(rows) + "</table>")


def _small_tables(info: LessonInfo, live: LessonLive) -> str:
    mistakes = "".join(
        f'<tr><td><span class="diag">{_e(m.diagnosis)}</span></td>'
        f'<td class="num">{m.times}</td><td class="num">{m.learners}</td></tr>'
        for m in live.mistakes
    ) or '<tr><td colspan="3" class="muted">none yet</td></tr>'
    times = "".join(
        f'<tr><td>{_e(info.step_label(t.step_id))}</td><td class="num">{t.completions}</td>'
        f'<td class="num">{_e(_minutes(t.median_minutes))}</td></tr>'
        for t in live.step_times if t.completions
    ) or '<tr><td colspan="3" class="muted">no step completed yet</td></tr>'
    quizzes = "".join(
        f'<tr><td>{_e(info.step_label(q.step_id))}</td><td class="num">{q.answers}</td>'
        f'<td class="num">{q.miss_rate:.0%}</td></tr>'
        for q in live.quizzes
    ) or '<tr><td colspan="3" class="muted">no answers yet</td></tr>'
    return (
        '<div class="cols">'
        '<table class="mistakes"><caption>Most common mistakes (the tutor\'s diagnoses)</caption>'
        "<tr><th>diagnosis</th><th>times</th><th>learners</th></tr>" + mistakes + "</table>"
        '<table><caption>Time per step (median)</caption>'
        "<tr><th>step</th><th>done</th><th>median</th></tr>" + times + "</table>"
        '<table><caption>Quiz misses</caption>'
        "<tr><th>quiz</th><th>answers</th><th>missed</th></tr>" + quizzes + "</table>"
        "</div>"
    )


def lesson_section(info: LessonInfo, live: LessonLive, now: datetime) -> str:
    """One lesson: its figures, its learners, its funnel, mistakes, times and quizzes."""
    summary = live.summary
    stuck = sum(1 for learner in live.learners if learner.stuck)
    median = _minutes(summary.median_minutes) if summary.median_minutes is not None else "none yet"
    learners = "".join(_learner_row(info, learner, now) for learner in live.learners) or (
        '<tr><td colspan="7" class="muted">nobody has started this lesson yet</td></tr>')
    return (
        f'<section class="lesson" data-lesson="{_e(info.id)}">'
        f"<h2>{_e(info.title)} <small>({_e(info.id)})</small></h2>"
        f'<p class="figures"><b>{summary.started}</b> started · <b>{summary.finished}</b> finished'
        f" · median time to finish {_e(median)} · "
        f'<b class="{"stuck" if stuck else ""}">{stuck}</b> look stuck</p>'
        '<table class="learners"><tr><th>learner</th><th>step</th><th>on it</th>'
        "<th>last line and the tutor's diagnosis</th><th>state</th><th>failed</th>"
        "<th>hints</th></tr>" + learners + "</table>"
        + _funnel(info, live) + _small_tables(info, live) + "</section>"
    )


def live_fragment(infos: Mapping[str, LessonInfo], lessons: Sequence[LessonLive],
                  now: datetime) -> str:
    """The part of the page that refreshes: every lesson anyone started (or the first)."""
    shown = [live for live in lessons if live.summary.started] or list(lessons[:1])
    body = "".join(lesson_section(infos[live.summary.outline.lesson_id], live, now)
                   for live in shown)
    stamp = now.strftime("%H:%M:%S UTC")
    return f'<p class="stamp">updated <time datetime="{_e(now.isoformat())}">{stamp}</time></p>' + body


def page(fragment: str, *, base: str, query: str) -> str:
    """The whole page around a first fragment; ``live.js`` refreshes it from ``base/live``."""
    suffix = f"?{_e(query)}" if query else ""
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>docker-tutor · live class</title>"
        f'<link rel="stylesheet" href="{_e(base)}/style.css">'
        f'<script src="{_e(base)}/live.js" defer></script></head>'
        f'<body data-refresh="{REFRESH_SECONDS}" data-live="{_e(base)}/live{suffix}">'
        "<header><h1>docker-tutor · live class</h1>"
        f'<p class="muted">Refreshes every {REFRESH_SECONDS} s. Learners who look stuck come '
        "first.</p></header>"
        f'<main id="live" aria-live="polite">{fragment}</main></body></html>'
    )


__all__ = ["REFRESH_SECONDS", "lesson_section", "live_fragment", "page"]
