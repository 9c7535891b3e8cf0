"""Listing what the learner's containers are and do: ``ps``, ``top`` and ``diff``.

Each sees only the learner's own containers (found by labels, as every verb does);
anything else answers "No such container", as the docker CLI does for a name it does
not know. Output and exit statuses are the docker CLI's.
"""

from __future__ import annotations

from typing import Any

from docker.models.containers import Container

from bot.errors import CommandRefused
from bot.identity import Person
from bot.printable import one_line
from bot.sandbox.engine import line_budget
from bot.sandbox.engine.client import NOT_FOUND, Plan, SandboxBase
from bot.sandbox.engine.translate import engine_calls
from bot.sandbox.output import formatting, templates
from bot.sandbox.output.template_values import Budget, Method, Struct
from bot.sandbox.policy import values as option_values
from bot.sandbox.policy.naming import Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import Outcome

_DIFF_KINDS = {0: "C", 1: "A", 2: "D"}

PS_FIELDS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
    "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
}
"""The fields of a ``docker ps --format`` row, and the header of each in ``table``."""

PS_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


class ListingMixin(SandboxBase):
    """The learner's containers listed (``ps``), their processes (``top``) and changes (``diff``)."""

    def _do_diff(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        ref = command.args[0]
        container = self._find_container(ns, ref)
        if container is None:
            return Outcome(1, NOT_FOUND.format(ref))
        with engine_calls():
            changes, more = line_budget.changes(self.client.api, container.id)
        lines = [f"{_DIFF_KINDS.get(kind, '?')} {path}\n" for kind, path in changes]
        notes = ["The container has more changes than the tutor reads; these are the first "
                 f"{len(changes)}."] if more else []
        return Outcome(0, "".join(lines), notes=notes,
                       facts={"container": self._view(ns, container).as_fact()})

    def _do_top(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        ref = command.args[0]
        container = self._find_container(ns, ref)
        if container is None:
            return Outcome(1, NOT_FOUND.format(ref))
        if container.status != "running":
            return Outcome(
                1, f"Error response from daemon: Container {container.id} is not running\n")
        with engine_calls():
            top = container.top()
        lines = ["\t".join(top.get("Titles") or [])]
        lines += ["\t".join(row) for row in top.get("Processes") or []]
        return Outcome(0, formatting.tabulate(lines, min_width=20))

    # -- ps --------------------------------------------------------------------------------

    def _do_ps(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        filters = _ps_filters(command.values("filter"))
        show_all = command.flag("all") or bool(filters.get("status"))
        containers = self._containers(ns, all_=show_all)
        containers.sort(key=lambda c: c.attrs.get("Created", ""), reverse=True)
        full = command.flag("no_trunc")
        rows = [self._ps_row(ns, c, full) for c in containers]
        rows = [r for r in rows if _ps_match(r, filters)]
        if command.value("last") is not None:
            rows = rows[: option_values.check_count(command.value("last"), "--last")]
        if command.flag("latest"):
            rows = rows[:1]
        if command.flag("quiet"):
            return Outcome(0, "".join(r["ID"] + "\n" for r in rows))
        fmt = command.value("format")
        if fmt is None or fmt == "table":
            fmt = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t"
                   "{{.Ports}}\t{{.Names}}")
        return _render_rows(fmt, rows, self.limits.output_chars)

    def _ps_row(self, ns: Namespace, c: Container, full: bool) -> dict[str, Any]:
        view = self._view(ns, c)
        command = " ".join(view.command)
        state = c.attrs.get("State") or {}
        mounts = [m.name if m.kind == "volume" else "$(pwd)" for m in view.mounts
                  if m.kind != "tmpfs"]
        if not full:
            mounts = [m if len(m) <= 15 else m[:14] + "\u2026" for m in mounts]
        created = formatting.parse_time(c.attrs.get("Created", ""))
        labels = {k: v for k, v in (c.attrs.get("Config") or {}).get("Labels", {}).items()
                  if not k.startswith("docker-tutor.")}
        return Struct({
            "ID": c.id if full else c.id[:12],
            "Image": view.image,
            "Command": f'"{command}"' if full else formatting.truncate_command(command),
            "CreatedAt": created.strftime("%Y-%m-%d %H:%M:%S +0000 UTC") if created else "",
            "RunningFor": formatting.ago(c.attrs.get("Created", "")),
            "Ports": "",
            "State": state.get("Status", ""),
            "Status": formatting.status_line(state),
            "Names": view.name,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "LocalVolumes": str(sum(1 for m in view.mounts if m.kind == "volume")),
            "Mounts": ",".join(mounts),
            "Networks": (c.attrs.get("HostConfig") or {}).get("NetworkMode", ""),
            "Label": Method("Label", 1, lambda key: labels.get(key, "")),
        }).typed("*formatter.ContainerContext", json_sorted=True)


def _ps_filters(values: list[str]) -> dict[str, list[str]]:
    """``-f key=value`` items of ``ps``: ``status`` and ``name`` only.

    Raises:
        CommandRefused: For another key, or a status Docker does not know.
    """
    filters: dict[str, list[str]] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or key not in ("status", "name"):
            raise CommandRefused(
                f"`--filter {one_line(item)}`: the sandbox filters `ps` by "
                "`status=...` or `name=...` only.", option="--filter")
        if key == "status" and value not in PS_STATUSES:
            raise CommandRefused(
                f"Invalid filter 'status={one_line(value)}': use one of "
                + ", ".join(PS_STATUSES) + ".", option="--filter")
        filters.setdefault(key, []).append(value)
    return filters


def _ps_match(row: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    statuses = filters.get("status")
    if statuses and row["State"] not in statuses:
        return False
    names = filters.get("name")
    return not names or any(n in row["Names"] for n in names)


def _render_rows(fmt: str, rows: list[dict[str, Any]], limit: int) -> Outcome:
    """``ps --format``: each row through the template; ``table`` adds a header and aligns."""
    is_table = fmt.startswith("table")
    body = fmt[len("table"):] if is_table else fmt
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    try:
        nodes = templates.parse(body)
    except templates.TemplateError as exc:
        return Outcome(1, f"failed to parse template: {exc}\n")
    try:
        lines: list[str] = []
        size = 0
        budget = Budget()  # one for the whole listing, not one a row
        if is_table:
            header = templates.render(nodes, dict(PS_FIELDS), limit=limit, budget=budget).text
            lines.append(header)
            size += len(header)
        for row in rows:
            rendered = templates.render(nodes, row, limit=max(0, limit - size), budget=budget)
            lines.append(rendered.text)
            size += len(rendered.text) + 1
            if rendered.cut:
                break
    except templates.TemplateError as exc:
        return Outcome(1, f"failed to execute template: {exc}\n")
    if is_table:
        return Outcome(0, formatting.tabulate("\n".join(lines).split("\n")))
    return Outcome(0, "".join(line + "\n" for line in lines))
