"""Output that reads like the docker CLI's: tables, relative times, JSON, ``inspect -f``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.views import Outcome


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
    """A left-aligned table with three spaces between columns, like ``docker ps``."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *[list(r) for r in rows]]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def truncate_command(command: str, width: int = 20) -> str:
    """The quoted, shortened COMMAND column: ``"docker-entrypoint.s…"``."""
    if len(command) > width:
        command = command[: width - 1] + "\u2026"
    return f'"{command}"'


def to_json(value: Any) -> str:
    """Indented JSON like ``docker inspect`` prints."""
    return json.dumps(value, indent=4, sort_keys=False) + "\n"


def template(fmt: str, obj: Any) -> str:
    """Render the small subset of Go templates that ``-f/--format`` needs.

    Supports ``{{.A.B}}`` and ``{{json .A.B}}`` (and text around them).
    """
    out: list[str] = []
    rest = fmt
    while "{{" in rest:
        before, _, tail = rest.partition("{{")
        expr, sep, rest = tail.partition("}}")
        if not sep:
            raise ValueError("unclosed {{")
        out.append(before)
        expr = expr.strip()
        as_json = expr.startswith("json ")
        path = expr.removeprefix("json ").strip()
        if not path.startswith("."):
            raise ValueError(f"unsupported template expression {expr!r}")
        value: Any = obj
        for key in filter(None, path[1:].split(".")):
            if not isinstance(value, dict) or key not in value:
                raise ValueError(f"no field {key!r}")
            value = value[key]
        if as_json:
            out.append(json.dumps(value))
        elif isinstance(value, dict | list):
            out.append(json.dumps(value) if isinstance(value, dict) else str(value))
        elif value is None:
            out.append("<no value>")
        else:
            out.append(str(value).lower() if isinstance(value, bool) else str(value))
    out.append(rest)
    return "".join(out).replace("\\n", "\n") + "\n"


def render_objects(
    objects: list[dict[str, Any]], errors: list[str], fmt: str | None, what: str
) -> Outcome:
    """``docker inspect``'s answer: the objects (as JSON or through ``-f``), then misses.

    Args:
        objects: What was found, already in the learner's names.
        errors: The references that matched nothing.
        fmt: The ``-f`` template, if one was given.
        what: ``object`` or ``volume``, for the CLI's "No such ..." line.
    """
    if fmt:
        try:
            text = "".join(template(fmt, obj) for obj in objects)
        except ValueError as exc:
            return Outcome(1, f"template parsing error: {exc}\n")
    else:
        text = to_json(objects)
    code = 1 if errors else 0
    return Outcome(code, text + "".join(f"Error: No such {what}: {e}\n" for e in errors))
