"""Output that reads like the docker CLI's: tables, relative times, JSON, ``--format``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.output import templates
from bot.sandbox.output.template_values import Budget, Nil
from bot.sandbox.views import Outcome

RENDER_LIMIT = 64_000
"""The most characters one ``--format`` rendering produces before it stops."""


def parse_time(raw: str) -> datetime | None:
    """Parse a Docker API timestamp (RFC 3339 with nanoseconds) into an aware datetime."""
    if not raw or raw.startswith("0001-"):
        return None
    raw = raw.rstrip("Z")
    if "." in raw:
        head, frac = raw.split(".", 1)
        frac = "".join(ch for ch in frac if ch.isdigit())[:6]
        raw = f"{head}.{frac}"
    raw = raw.split("+")[0]
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Docker's wording for a duration: ``Less than a second``, ``3 seconds``, ``About a minute``."""
    seconds = int(seconds)
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    return f"{hours // 24} days"


def ago(raw: str, now: datetime | None = None) -> str:
    """``3 seconds ago`` for an API timestamp."""
    when = parse_time(raw)
    if when is None:
        return ""
    now = now or datetime.now(UTC)
    return f"{human_duration((now - when).total_seconds())} ago"


def status_line(state: dict[str, Any], now: datetime | None = None) -> str:
    """The STATUS column of ``docker ps``: ``Up 5 seconds``, ``Exited (0) 2 minutes ago``."""
    now = now or datetime.now(UTC)
    status = state.get("Status", "")
    if status == "running":
        started = parse_time(state.get("StartedAt", ""))
        since = human_duration((now - started).total_seconds()) if started else ""
        return f"Up {since}".strip()
    if status == "exited":
        finished = state.get("FinishedAt", "")
        return f"Exited ({state.get('ExitCode', 0)}) {ago(finished, now)}".strip()
    if status == "created":
        return "Created"
    return str(status).capitalize()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned table like ``docker ps`` prints (Go's tabwriter: min width 10, padding 3)."""
    return tabulate(["\t".join(headers), *("\t".join(r) for r in rows)])


TAB_MIN_WIDTH = 10
TAB_PADDING = 3


def tabulate(lines: Sequence[str], *, min_width: int = TAB_MIN_WIDTH) -> str:
    """Align tab-separated cells as the docker CLI's tabwriter does.

    Every cell but a line's last is padded to its column's width: the widest cell plus
    :data:`TAB_PADDING`, at least ``min_width`` (``docker top`` uses 20). Trailing blanks
    are dropped.
    """
    split = [line.split("\t") for line in lines]
    widths: list[int] = []
    for cells in split:
        for i, cell in enumerate(cells[:-1]):
            if i == len(widths):
                widths.append(min_width)
            widths[i] = max(widths[i], len(cell) + TAB_PADDING)
    out = []
    for cells in split:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])]
        out.append(("".join(padded) + cells[-1]).rstrip())
    return "\n".join(out) + "\n"


def truncate_command(command: str, width: int = 20) -> str:
    """The quoted, shortened COMMAND column: ``"docker-entrypoint.s…"``."""
    if len(command) > width:
        command = command[: width - 1] + "\u2026"
    return f'"{command}"'


def to_json(value: Any) -> str:
    """Indented JSON like ``docker inspect`` prints."""
    return json.dumps(_shown(value), indent=4, sort_keys=False, default=lambda _nil: None) + "\n"


def _shown(value: Any) -> Any:
    """``value`` without the empty fields Go's JSON leaves out (``omitempty``)."""
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items() if not (isinstance(v, Nil) and v.omit)}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def template(fmt: str, obj: Any, limit: int = RENDER_LIMIT) -> str:
    """Render a Go template of ``-f/--format`` over ``obj`` (see :mod:`bot.sandbox.output.templates`).

    Raises:
        TemplateError: The template cannot be read or run over ``obj``.
    """
    return templates.render(templates.parse(fmt), obj, limit=limit).text + "\n"


def render_objects(
    objects: list[dict[str, Any]], errors: list[str], fmt: str | None, what: str,
    *, limit: int = RENDER_LIMIT, deadline: float | None = None,
) -> Outcome:
    """``docker inspect``'s answer: the objects (as JSON or through ``-f``), then misses.

    Args:
        objects: What was found, already in the learner's names.
        errors: The references that matched nothing.
        fmt: The ``-f`` template, if one was given.
        what: ``object`` or ``volume``, for the CLI's "No such ..." line.
        limit: The most characters a template may render (output stops there).
        deadline: When the line's time is up (``time.monotonic()``); the renderings of
            all objects share one :class:`~bot.sandbox.output.template_values.Budget`.
    """
    dropped = 0
    if fmt:
        try:
            nodes = templates.parse(fmt)
        except templates.TemplateError as exc:
            return Outcome(64, f"template parsing error: {exc}\n")
        parts: list[str] = []
        size = 0
        budget = Budget(deadline=deadline)
        for obj in objects:
            try:
                rendered = templates.render(nodes, obj, limit=max(0, limit - size),
                                            budget=budget, fallback=what != "volume")
            except templates.TemplateError as exc:
                return Outcome(1, "".join(parts) + f"\ntemplate parsing error: {exc}\n")
            parts.append(rendered.text + "\n")
            size += len(rendered.text) + 1
            if rendered.cut:
                dropped = rendered.dropped  # what the learner is told was not shown
                break
        text = "".join(parts)
    else:
        text = to_json(objects)
    code = 1 if errors else 0
    if what == "volume":  # the CLI passes the daemon's wording on for volumes
        misses = [f"Error response from daemon: get {e}: no such volume\n" for e in errors]
    else:
        misses = [f"Error: No such {what}: {e}\n" for e in errors]
    return Outcome(code, text + "".join(misses), cut=dropped)
