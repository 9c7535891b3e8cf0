"""The learner's command history as checks read it, and the ``history_has`` primitive.

The sandbox records structured *facts* for every command (which container an ``exec``
ran in, with which mounts; which containers ``rm`` removed; ...). The helpers here turn
the log into :class:`Event` objects and read the files a container command wrote or
read from its argument vector, without running anything.
"""

from __future__ import annotations

import itertools
import posixpath
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.library import check
from bot.errors import CommandRefused
from bot.progress import CommandEntry
from bot.sandbox import parse
from bot.sandbox.policy import parse_mount_flag, parse_volume_flag

CHECKED_KINDS = ("docker", "edit", "quiz")
"""Kinds of command-log entries that checks see: docker commands and the tutor words
``edit`` and ``answer`` (logged as ``quiz``)."""

HISTORY_LIMIT = 2000
"""How many recent log entries checks look at."""


def checked_history(entries: Iterable[CommandEntry], since: datetime | None) -> list[CommandEntry]:
    """The entries checks see: the checked kinds, logged at or after ``since``."""
    return [e for e in entries if e.kind in CHECKED_KINDS and (since is None or e.at >= since)]


@dataclass(frozen=True)
class Event:
    """One logged command, as checks read it.

    Attributes:
        index: Position in the history (later commands have larger indexes).
        kind: ``docker``, ``edit`` or ``quiz``.
        verb: The docker verb (``run``, ``volume rm``, ...), or ``edit`` / ``answer``.
        text: What the learner typed.
        exit: The exit status (``-1``: refused by the sandbox, nothing ran).
        output: The start of the command's output.
        facts: What the sandbox (or tutor) recorded about it.
    """

    index: int
    kind: str
    verb: str
    text: str
    exit: int
    output: str
    facts: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether the command succeeded (exit status 0)."""
        return self.exit == 0

    @property
    def container(self) -> dict[str, Any]:
        """The container the command ran in or created (``run``, ``exec``), or ``{}``."""
        value = self.facts.get("container")
        return value if isinstance(value, dict) else {}

    @property
    def container_id(self) -> str:
        """The id of :attr:`container` (``""`` if none)."""
        return str(self.container.get("id", ""))

    @property
    def argv(self) -> list[str]:
        """The command run inside the container (``run``/``exec``), or ``[]``."""
        raw = self.facts.get("argv")
        return [str(a) for a in raw] if isinstance(raw, list) else []

    def ids(self, fact: str) -> set[str]:
        """Container ids listed under ``fact`` (``removed``, ``stopped``, ``started``...)."""
        return {str(item.get("id", "")) for item in self.facts.get(fact) or []
                if isinstance(item, dict)}

    @property
    def in_container(self) -> bool:
        """Whether the command ran something inside a container (``run`` or ``exec``)."""
        return self.verb in ("run", "exec") and bool(self.container_id)


def events(ctx: CheckContext, start: int = 0, stop: int | None = None) -> list[Event]:
    """Every logged command of the check's history that the sandbox ran, oldest first.

    ``start`` and ``stop`` take a slice of the history (indexes stay the history's own).
    """
    found = []
    stop = len(ctx.history) if stop is None else stop
    for i in range(start, stop):
        entry = ctx.history[i]
        facts = entry.facts or {}
        if entry.kind == "docker":
            if entry.exit_status == -1 or "verb" not in facts:
                continue  # refused before reaching the engine
            verb = str(facts["verb"])
        elif entry.kind == "edit":
            verb = "edit"
        elif entry.kind == "quiz":
            verb = "answer"
        else:
            continue
        found.append(Event(i, entry.kind, verb, entry.text, entry.exit_status, entry.output, facts))
    return found


def on_current_step(ctx: CheckContext, history: Sequence[Event]) -> list[Event]:
    """The events the learner typed while on the step the check is for.

    Lets an any-name primitive point out a container the learner made for this step
    (and not one left over from an earlier step). Empty when the step is not known.
    """
    if ctx.step_id is None:
        return []
    return [e for e in history if ctx.history[e.index].step_id == ctx.step_id]


# -- what a container command reads and writes ---------------------------------------------

_SHELLS = {"sh", "ash", "bash", "dash", "/bin/sh", "/bin/ash", "/bin/bash", "/usr/bin/sh"}
_READERS = {
    "cat", "head", "tail", "more", "less", "ls", "stat", "wc", "md5sum", "sha1sum",
    "sha256sum", "od", "hexdump", "xxd", "strings", "sort", "uniq", "nl", "tac", "file",
}
_TESTS = {"test", "["}
_TEST_FLAGS = {"-e", "-f", "-s", "-r", "-d"}
_CREATORS = {"touch", "tee", "mkdir"}
_COPIERS = {"cp", "mv", "install", "ln"}
_SEPARATORS = {";", "&&", "||", "|", "&", "\n"}
_REDIRECT_OUT = {">", ">>", ">|"}
_REDIRECT_IN = "<"
_SPECIAL = ("/dev/", "/proc/", "/sys/")


def _clean(path: str) -> str | None:
    """An absolute, normalised path, or ``None`` for relative or special paths."""
    if not path.startswith("/"):
        return None
    clean = posixpath.normpath(path)
    if clean.startswith(_SPECIAL) or clean in ("/dev", "/proc", "/sys"):
        return None
    return "/" + clean.lstrip("/")


def _simple_commands(argv: Sequence[str]) -> list[tuple[list[str], list[str], list[str]]]:
    """Split a container command into simple commands: (words, written, read) each.

    A ``sh -c SCRIPT`` wrapper is looked into; redirections (``>``, ``>>``, ``<``) are
    taken out of the words and reported as written or read paths.
    """
    if len(argv) >= 3 and argv[0] in _SHELLS and argv[1] == "-c":
        lexer = shlex.shlex(argv[2], posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        lexer.commenters = ""
        try:
            tokens = list(lexer)
        except ValueError:
            return []
    else:
        tokens = list(argv)
    commands: list[tuple[list[str], list[str], list[str]]] = []
    words: list[str] = []
    written: list[str] = []
    read: list[str] = []
    pending = ""
    for token in tokens:
        if pending:
            (written if pending == ">" else read).append(token)
            pending = ""
        elif token in _REDIRECT_OUT:
            pending = ">"
            if words and words[-1].isdigit():
                words.pop()  # `2>` names a file descriptor, not a word
        elif token == _REDIRECT_IN:
            pending = "<"
        elif token in _SEPARATORS:
            commands.append((words, written, read))
            words, written, read = [], [], []
        else:
            words.append(token)
    commands.append((words, written, read))
    return commands


def _operands(words: list[str]) -> list[str]:
    return [w for w in words[1:] if not w.startswith("-")]


def paths_written(argv: Sequence[str]) -> list[str]:
    """Absolute paths a container command writes (redirections, ``touch``, ``cp``...)."""
    found: list[str] = []
    for words, written, _ in _simple_commands(argv):
        found.extend(written)
        if not words:
            continue
        name = posixpath.basename(words[0])
        operands = _operands(words)
        if name in _CREATORS:
            found.extend(operands)
        elif name in _COPIERS and len(operands) >= 2:
            found.append(operands[-1])
        elif name == "dd":
            found.extend(w[3:] for w in words[1:] if w.startswith("of="))
    return [p for p in (_clean(f) for f in found) if p]


def paths_read(argv: Sequence[str]) -> list[str]:
    """Absolute paths a container command reads or looks for (``cat``, ``ls``, ``test``...)."""
    found: list[str] = []
    for words, _, read in _simple_commands(argv):
        found.extend(read)
        if not words:
            continue
        name = posixpath.basename(words[0])
        operands = _operands(words)
        if name in _READERS:
            found.extend(operands)
        elif name == "grep" and len(operands) >= 2:
            found.extend(operands[1:])
        elif name in _COPIERS and len(operands) >= 2:
            found.extend(operands[:-1])
        elif name in _TESTS:
            found.extend(w2 for w1, w2 in itertools.pairwise(words[1:]) if w1 in _TEST_FLAGS)
    return [p for p in (_clean(f) for f in found) if p]


def under(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or inside it."""
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder + "/") or folder == "/"


def relative(path: str, folder: str) -> str:
    """``path`` relative to ``folder`` (``""`` for the folder itself)."""
    rel = posixpath.relpath(path, folder)
    return "" if rel == "." else rel


def mount_covering(container: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The mount (as recorded in facts) that ``path`` lies in, or ``None``."""
    best: dict[str, Any] | None = None
    for mount in container.get("mounts") or []:
        target = str(mount.get("target", ""))
        if target and under(path, target) and (
            best is None or len(target) > len(str(best.get("target", "")))
        ):
            best = mount
    return best


def bind_sources(text: str) -> dict[str, str]:
    """For a logged ``docker run`` line: each bind mount's target and workspace folder.

    Returns:
        ``{target: source}`` where ``source`` is the folder inside the learner's
        workspace (``""`` for ``$(pwd)`` itself).
    """
    try:
        command = parse(text)
        requests = [parse_volume_flag(v) for v in command.values("volume")]
        requests += [parse_mount_flag(m) for m in command.values("mount")]
    except CommandRefused:
        return {}
    return {r.target: r.source for r in requests if r.kind == "bind"}


def removed_with_run(event: Event) -> bool:
    """Whether a ``docker run`` removed its container when it ended (``--rm``, foreground)."""
    if event.verb != "run" or event.facts.get("detach"):
        return False
    try:
        return parse(event.text).flag("rm")
    except CommandRefused:
        return False


def removed_at(history: Sequence[Event], container_id: str) -> int | None:
    """The index of the event that removed a container, or ``None`` while it exists."""
    for event in history:
        if container_id in event.ids("removed"):
            return event.index
        if event.container_id == container_id and removed_with_run(event):
            return event.index
    return None


def shown(path: str) -> str:
    """A path as inline code for a message."""
    return f"`{path}`"


# -- the primitive ---------------------------------------------------------------------------


def _mentions(event: Event, container: str | None, volume: str | None) -> bool:
    if container is not None:
        names = {str(event.container.get("name", ""))}
        for fact in ("removed", "stopped", "started", "restarted"):
            names |= {str(i.get("name", "")) for i in event.facts.get(fact) or []}
        if container not in names:
            return False
    if volume is not None:
        names = {str(m.get("name", "")) for m in event.container.get("mounts") or []}
        names |= {str(v.get("name", "")) for v in event.facts.get("removed_volumes") or []}
        created = event.facts.get("volume")
        if isinstance(created, dict):
            names.add(str(created.get("name", "")))
        if volume not in names:
            return False
    return True


@check(
    "history_has",
    ParamSpec("verb"),
    ParamSpec("container", required=False),
    ParamSpec("volume", required=False),
    ParamSpec("contains", required=False),
    ParamSpec("succeeded", required=False, kind=bool),
    states=("not-in-history",),
)
def history_has(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The learner ran a kind of command since starting the lesson.

    Parameters: ``verb`` (a docker verb such as ``run``, ``exec``, ``rm``, ``restart``,
    ``volume rm``, or the tutor words ``edit`` and ``answer``); optional ``container``
    (the command ran in, created, removed, stopped, started or restarted that container),
    ``volume`` (the command mounted, created or removed that volume), ``contains`` (text
    that must appear in the command line) and ``succeeded`` (default ``true``: only
    commands that exited 0 count; ``false``: only commands that failed count).
    """
    verb = str(p["verb"])
    container = p.get("container")
    volume = p.get("volume")
    contains = p.get("contains")
    succeeded = bool(p.get("succeeded", True))
    for event in reversed(events(ctx)):
        if event.verb != verb or event.ok != succeeded:
            continue
        if contains is not None and str(contains) not in event.text:
            continue
        if _mentions(event, container, volume):
            return CheckResult(True, "", evidence={"history_has": event.text})
    what = f"`docker {verb}`" if event_is_docker(verb) else f"`{verb}`"
    extra = []
    if container is not None:
        extra.append(f"on `{container}`")
    if volume is not None:
        extra.append(f"with the volume `{volume}`")
    if contains is not None:
        extra.append(f"containing `{contains}`")
    outcome = "that succeeded" if succeeded else "that failed"
    detail = " ".join([*extra, outcome])
    return CheckResult(False, f"I haven't seen a {what} command {detail} yet.",
                       state="not-in-history")


def event_is_docker(verb: str) -> bool:
    """Whether a ``history_has`` verb names a docker command (not a tutor word)."""
    return verb not in ("edit", "answer")
