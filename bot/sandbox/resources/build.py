"""``docker build`` in the sandbox: the workspace as context, a vetted Dockerfile, confined steps.

The builder is the engine's **classic** builder (``POST /build``, ``version=1``). BuildKit
was measured on this engine (Docker 20.10) and refused: its ``RUN`` steps ignore the
build's memory and CPU limits (a step saw ``memory.limit_in_bytes`` unlimited where the
classic builder's saw the 64 MiB asked), its cache lives outside the image store with no
owner (so it can be neither counted per learner nor kept apart between learners), and
its output is protobuf. The classic builder runs every ``RUN`` as a plain container
with the limits of the request (memory and swap, CPU quota, ``--network none``), keeps
its cache as images, and stops and removes the running step when the request's
connection closes (measured: the step's container was gone within 2 s).

What a build may do (each rule in SECURITY.md, section "Builds"):

- the Dockerfile is vetted by :mod:`bot.sandbox.policy.dockerfile`; every ``FROM`` is
  then pinned to an image id the learner may use (a lesson image, or one of their own,
  checked by its labels), so the builder never looks a name up itself;
- after every ``FROM`` the tutor adds ``LABEL`` with the learner's ownership labels: every
  layer the build makes, its cache included, is the learner's (counted in their disk
  quota, removed by their ``image prune``, and never shared with another learner's
  build: the cache chains part right after ``FROM``);
- ``RUN`` steps get the learner containers' memory (swap the same) and CPU, no network,
  and one wall-time budget for the whole build (:data:`BUILD_FACTOR` x the foreground
  limit); at the deadline the connection is cut and the engine kills the step;
- the output is read within the output cap and summarised (the steps, the last lines of
  each step's output, errors in full);
- builds are refused on an engine whose runc is older than 1.1.12 and not a known fixed
  distribution build (CVE-2024-21626), and on an engine whose default runtime is not the
  one the sandbox gives learner containers (``TUTOR_RUNTIME``, e.g. ``runsc``).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from contextlib import suppress
from typing import Any

import requests.exceptions

from bot.errors import CommandRefused, QuotaExceeded
from bot.identity import Person
from bot.sandbox.engine.client import Plan, SandboxBase
from bot.sandbox.engine.image_lookups import engine_ref, find_image, lesson_tag, own_images
from bot.sandbox.engine.translate import engine_calls
from bot.sandbox.policy import dockerfile as df
from bot.sandbox.policy import values
from bot.sandbox.policy.naming import (
    LABEL_LEARNER,
    LABEL_MANAGED,
    LABEL_NAMESPACE,
    Namespace,
    own_image_bytes,
)
from bot.sandbox.policy.parser import Command
from bot.sandbox.policy.workspace_paths import clean_path
from bot.sandbox.views import Outcome
from bot.sandbox.workspace.context import TUTOR_DOCKERFILE, Context, context_archive

BUILD_FACTOR = 3.0
"""A build's wall time is this many times the foreground limit (60 s by default)."""

BUILD_SLOTS = 8
"""Builds one sandbox runs at once; more wait (within their deadline) for a slot."""

RUNC_FIXED = "1.1.12"
"""The first upstream runc without CVE-2024-21626 (``WORKDIR /proc/self/fd/N``)."""

RUNC_BACKPORTS = (re.compile(r"^1\.1\.5\+ds1-1\+deb12u\d+$"),)
"""Distribution builds of older runc versions with the fix (Debian 12's security update
``1.1.5+ds1-1+deb12u1``: its changelog names CVE-2024-21626)."""

TAIL_EVENTS = 400
"""Output events kept at a build's end once its output passed the budget."""

STEP_TAIL = 6
"""Lines of each step's own output the summary keeps (the last ones)."""

CONTEXT_FORMS = (".", "./", "$(pwd)", "$(pwd)/")
"""How a learner may name the build context: their workspace."""


def runc_ok(version: str, commit: str) -> bool:
    """Whether an engine's runc (``docker version``'s component) is free of CVE-2024-21626."""
    if any(p.match(commit) or p.match(version) for p in RUNC_BACKPORTS):
        return True
    numbers = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", version)
    if numbers is None:
        return False
    found = tuple(int(n) for n in numbers.groups())
    return found >= tuple(int(n) for n in RUNC_FIXED.split("."))


def vet_build(command: Command, allowed: frozenset[str] | None) -> dict[str, Any]:
    """Check a ``docker build`` line before the engine: context, tags, file, args, target.

    Raises:
        CommandRefused: With the reason.
    """
    if command.args[0] not in CONTEXT_FORMS:
        raise CommandRefused(f"`docker build {command.args[0][:40]}`: the build context is "
                             "your workspace: type `docker build .`.", option="context")
    tags = command.values("tag")
    if len(tags) > values.MAX_TAGS:
        raise CommandRefused(f"`-t`: at most {values.MAX_TAGS} names.", option="-t")
    target = command.value("target")
    if target is not None and not re.match(r"^[a-z][a-z0-9_.-]{0,62}$", target):
        raise CommandRefused("`--target`: give the name of a stage (`AS NAME`).",
                             option="--target")
    return {
        "tags": [values.check_own_image(t, allowed, option="-t") for t in tags],
        "file": clean_path(command.value("file") or "Dockerfile"),
        "args": values.check_build_args(command.values("build_arg")),
        "target": target,
    }


class BuildMixin(SandboxBase):
    """``docker build`` on the learner's workspace, and the engine checks a build needs."""

    _build_slots = threading.BoundedSemaphore(BUILD_SLOTS)
    _engine_ok: tuple[bool, str] | None = None

    def _build_engine_refusal(self) -> str | None:
        """Why this engine may not build (an old runc, another runtime), once per sandbox."""
        if self._engine_ok is None:
            with engine_calls():
                version = self.client.version()
                info = self.client.info()
            runc: dict[str, Any] = next((c for c in version.get("Components") or []
                         if str(c.get("Name", "")).lower() == "runc"), {})
            details = runc.get("Details") or {}
            number = str(runc.get("Version", "")).removeprefix("v")
            commit = str(details.get("GitCommit", ""))
            reason = ""
            if not runc_ok(number, commit):
                reason = (f"builds are off on this engine: its runc ({number or 'unknown'}) "
                          f"is older than {RUNC_FIXED} (CVE-2024-21626). Tell your instructor.")
            elif self.settings.runtime and info.get("DefaultRuntime") != self.settings.runtime:
                reason = ("builds are off on this engine: build steps would not run under "
                          f"{self.settings.runtime}. Tell your instructor.")
            self._engine_ok = (not reason, reason)
        return None if self._engine_ok[0] else self._engine_ok[1]

    def _pin(self, ns: Namespace, stage: df.Stage) -> str:
        """The image id a ``FROM`` builds on: a lesson image's, or one of the learner's own."""
        lesson = lesson_tag(self.allowed_images, stage.base)
        if lesson is not None:
            with engine_calls():
                return str(self.client.api.inspect_image(lesson)["Id"])
        image = find_image(self.client, ns, stage.base) if self._own_ref(stage.base) else None
        if image is None:
            raise df.refuse(stage.line, f"`FROM {stage.base}`: " + df._FROM_REASON.strip()
                            + " " + values.image_hint(self.allowed_images))
        return str(image["Id"])

    def _own_ref(self, ref: str) -> bool:
        try:
            values.check_own_image(ref, self.allowed_images)
        except CommandRefused:
            return False
        return True

    def _rewrite_dockerfile(self, ns: Namespace, parsed: df.Dockerfile) -> tuple[str, list[int]]:
        """The builder's Dockerfile, and for each of its steps the learner's step (0: the tutor's)."""
        labels = " ".join(f'{k}="{v}"' for k, v in (
            (LABEL_MANAGED, "1"), (LABEL_NAMESPACE, ns.prefix), (LABEL_LEARNER, ns.learner)))
        lines: list[str] = []
        steps: list[int] = []
        for number, instruction in enumerate(parsed.instructions, start=1):
            if instruction.keyword == "FROM":
                stage = parsed.stages[instruction.stage]
                base = stage.base if stage.kind in ("scratch", "stage") else self._pin(ns, stage)
                lines.append(f"FROM {base}" + (f" AS {stage.name}" if stage.name else ""))
                lines.append(f"LABEL {labels}")
                steps += [number, 0]
            else:
                lines.append(instruction.text)
                steps.append(number)
        return "\n".join(lines) + "\n", steps

    def _do_build(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        asked = vet_build(command, self.allowed_images)
        refusal = self._build_engine_refusal()
        if refusal:
            raise CommandRefused(refusal[0].upper() + refusal[1:], option="build")
        self._check_image_quota(ns)
        context = self._workspace(ns).build_context()
        path = asked["file"]
        if path not in context.unfiltered:
            return Outcome(1, f"unable to prepare context: unable to evaluate symlinks in "
                              f"Dockerfile path: lstat $(pwd)/{path}: no such file or "
                              "directory\n")
        text = context.unfiltered[path].decode("utf-8", "surrogateescape")
        parsed = df.parse(text, self.allowed_images)
        if asked["target"] and parsed.stage_named(asked["target"], len(parsed.stages)) is None:
            return Outcome(1, f"failed to reach build target {asked['target']} in "
                              "Dockerfile\n")
        rewritten, steps = self._rewrite_dockerfile(ns, parsed)
        archive = context_archive(context, rewritten)
        params: dict[str, Any] = {
            "t": [engine_ref(ns, repo, tag) for repo, tag in asked["tags"]],
            "dockerfile": TUTOR_DOCKERFILE, "rm": 1, "forcerm": 1, "pull": 0,
            "networkmode": "none", "memory": self.limits.memory_bytes,
            "memswap": self.limits.memory_bytes, "cpuperiod": 100_000,
            "cpuquota": max(1000, self.limits.nano_cpus // 10_000),
            "buildargs": json.dumps(asked["args"]), "nocache": int(command.flag("no_cache")),
        }
        if asked["target"]:
            params["target"] = asked["target"]
        self._disk_watch.ensure_running()
        deadline = time.monotonic() + self.limits.foreground_seconds * BUILD_FACTOR
        if not self._build_slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return Outcome(1, "The builder is busy with other learners' builds; try again "
                              "in a moment.\n")
        try:
            events, timed_out = self._stream_build(params, archive, deadline)
        finally:
            self._build_slots.release()
        return self._build_outcome(ns, command, parsed, steps=steps, events=events,
                                   timed_out=timed_out, context=context)

    def _stream_build(self, params: dict[str, Any], archive: bytes,
                      deadline: float) -> tuple[list[dict[str, Any]], bool]:
        """Send the build and read its events until it ends or the deadline cuts it."""
        api = self.client.api
        with engine_calls():
            response = api._post(api._url("/build"), params=params, data=archive,
                                 headers={"Content-Type": "application/x-tar"}, stream=True,
                                 timeout=(30, None))
        timer = threading.Timer(max(0.1, deadline - time.monotonic()), _cut, (response,))
        timer.daemon = True
        timer.start()
        events: list[dict[str, Any]] = []
        tail: deque[dict[str, Any]] = deque(maxlen=TAIL_EVENTS)
        budget = self._kept_bytes() * 8
        timed_out = False
        try:
            for line in response.iter_lines():
                if not line or len(line) > 1_000_000:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(event, dict):
                    continue
                if "aux" in event or "error" in event:
                    events.append(event)  # the image id and the error are always kept
                elif budget > 0:
                    events.append(event)
                    budget -= len(line)
                else:
                    tail.append(event)  # past the budget only the latest output is kept
        except (requests.exceptions.RequestException, OSError, AttributeError):
            timed_out = time.monotonic() >= deadline - 0.5
            if not timed_out:
                raise
        finally:
            timer.cancel()
            response.close()
        timed_out = timed_out or (time.monotonic() >= deadline - 0.5 and not _finished(events))
        return events + list(tail), timed_out

    def _build_outcome(self, ns: Namespace, command: Command, parsed: df.Dockerfile, *,
                       steps: list[int], events: list[dict[str, Any]], timed_out: bool,
                       context: Context) -> Outcome:
        image_id = next((str((e.get("aux") or {}).get("ID", "")) for e in reversed(events)
                         if isinstance(e.get("aux"), dict) and e["aux"].get("ID")), "")
        error = next((str(e.get("error") or "") for e in events if e.get("error")), "")
        text = "".join(str(e.get("stream") or "") for e in events)
        summary, cached = summarise(self._rewrite(ns, text), parsed, steps)
        error_room = len(error) + 200 if error else 200
        summary = keep_tail(summary, max(400, self.limits.output_chars - error_room))
        facts: dict[str, Any] = {"build": {
            "ok": bool(image_id) and not error and not timed_out, "image": image_id,
            "tags": [f"{r}:{t}" for r, t in vet_build(command, self.allowed_images)["tags"]],
            "stages": len(parsed.stages), "target": command.value("target") or "",
            "keywords": [i.keyword for i in parsed.instructions], "cached": cached,
            "steps": len(parsed.instructions), "ignored": context.ignored[:50],
            "files": sorted(context.files)[:50], "no_cache": command.flag("no_cache"),
        }}
        notes = []
        if timed_out:
            notes.append(f"The build was still running after "
                         f"{self.limits.foreground_seconds * BUILD_FACTOR:g} seconds, so the "
                         "tutor stopped it.")
            return Outcome(1, summary, notes=notes, facts=facts)
        if error or not image_id:
            shown = self._rewrite(ns, error or "the build ended without an image")
            return Outcome(1, summary + f"ERROR: {shown.rstrip()}\n", facts=facts)
        if command.flag("quiet"):
            return Outcome(0, image_id + "\n", facts=facts)
        return Outcome(0, summary, facts=facts)

    def _check_image_quota(self, ns: Namespace) -> None:
        """Refuse a build while the learner's images alone take their whole disk quota."""
        quota = self.limits.disk_bytes
        if quota <= 0:
            return
        used = own_image_bytes(own_images(self.client, ns, all_=True), ns.prefix).get(ns.learner, 0)
        if used >= quota:
            raise QuotaExceeded(
                f"Your images and their build cache take {used // 2**20} MiB, your whole "
                f"disk quota ({quota // 2**20} MiB).", option="quota:disk",
                hint="Remove some: `docker images`, `docker image rm NAME`, "
                     "`docker image prune -a -f`.")


def summarise(text: str, parsed: df.Dockerfile, steps: list[int]) -> tuple[str, int]:
    """The builder's output in the learner's terms, shortened; and how many steps hit the cache.

    ``Step i/N`` lines are renumbered to the learner's instructions and show their text;
    the steps the tutor added are left out; each step's own output keeps its last
    :data:`STEP_TAIL` lines (with a count of the rest).
    """
    total = len(parsed.instructions)
    out: list[str] = []
    tail: deque[str] = deque(maxlen=STEP_TAIL)
    dropped = 0
    hidden = False
    cached = 0

    def flush() -> None:
        nonlocal dropped
        if dropped:
            out.append(f" ... ({dropped} more line(s) of output)\n")
        out.extend(tail)
        tail.clear()
        dropped = 0

    for line in text.splitlines(keepends=True):
        match = re.match(r"^Step (\d+)/\d+ : ", line)
        if match:
            flush()
            index = int(match.group(1)) - 1
            learner_step = steps[index] if index < len(steps) else 0
            hidden = learner_step == 0
            if not hidden:
                instruction = parsed.instructions[learner_step - 1]
                out.append(f"Step {learner_step}/{total} : {instruction.text}\n")
            continue
        if hidden or not line.strip():
            continue
        if line.startswith((" ---> ", "Successfully ", "Removing intermediate")):
            if "Using cache" in line:
                cached += 1
            if line.startswith("Removing intermediate"):
                continue
            flush()
            out.append(line)
            continue
        if len(tail) == STEP_TAIL:
            dropped += 1
        tail.append(line)
    flush()
    return "".join(out), cached


def keep_tail(text: str, limit: int) -> str:
    """``text`` cut to its last ``limit`` characters at a line start, saying what was cut.

    A build's end (the failing step, ``Successfully tagged``) matters more than its start.
    """
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    tail = tail[tail.find("\n") + 1:] if "\n" in tail else tail
    return f" ... ({len(text) - len(tail)} characters of earlier steps cut)\n{tail}"


def _finished(events: list[dict[str, Any]]) -> bool:
    return any(e.get("error") or (isinstance(e.get("aux"), dict) and e["aux"].get("ID"))
               for e in events)


def _cut(response: Any) -> None:
    """Close a build's connection at its deadline: the engine then kills the running step."""
    with suppress(Exception):
        response.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
    with suppress(Exception):
        response.close()
