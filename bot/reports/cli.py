"""``docker-tutor progress``: the class report on the operator's machine.

It prints the summary and one row per learner (``table``), the CSV export (``csv``) or
one JSON document (``json``), and can write each lesson's funnel chart as a PNG. There is
no instructor check: whoever runs it already holds the database.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from bot.config import Settings
from bot.errors import UsageError
from bot.lessons.model import Catalog
from bot.progress import ProgressStore, StuckRules
from bot.progress.queries import lesson_summary
from bot.progress.records import utcnow
from bot.reports.exports import class_records, csv_bytes, json_text, lesson_infos, table_text
from bot.reports.replies import charts_available, funnel_png, summary_reply


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

    Raises:
        UsageError: A chart was asked for without the ``charts`` extra.
    """
    if chart is not None and not charts_available():
        raise UsageError("--chart needs matplotlib: install `docker-tutor[charts]`.")
    now = now or utcnow()
    rules = rules or StuckRules()
    infos = lesson_infos(catalog, lesson_id)
    items = [(info, lesson_summary(store, info.outline, now=now, rules=rules)) for info in infos]
    if lesson_id is None:
        items = [(info, summary) for info, summary in items if summary.started] or items[:1]
    records = class_records(store, [info for info, _ in items], now=now, rules=rules)
    if fmt == "csv":
        out.write(csv_bytes(records).decode("utf-8"))
    elif fmt == "json":
        out.write(json_text(items, records, now=now, rules=rules) + "\n")
    else:
        from bot.console.render import render

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
    """Stuck rules from command-line numbers.

    Raises:
        UsageError: A number is not positive.
    """
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


__all__ = ["chart_paths", "progress_cli", "rules_from", "run_cli"]
