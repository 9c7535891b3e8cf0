"""The build context: the learner's workspace, as the engine archived it, filtered and capped.

``docker build .`` sends the folder ``.`` to the engine. Here ``.`` is the workspace
volume, read through a helper container (never a host path); this module turns the
engine's archive of it into the archive the builder receives:

- only regular files and folders travel (a link, FIFO or device is left out and counted:
  a link in a build context could only point inside the builder's own copy anyway);
- ``.dockerignore`` is applied here, as the docker CLI applies it on the client side
  (``*``, ``?``, ``[...]``, ``**``, ``!`` exceptions; the last matching line wins; a
  pattern that matches a folder leaves out everything in it);
- the tutor's own Dockerfile (the learner's, vetted and rewritten) travels as
  :data:`TUTOR_DOCKERFILE`, and a ``.dockerignore`` naming it makes the builder drop it
  from the context before any ``COPY`` sees it;
- the archive is read at most :data:`CONTEXT_BYTES` far and holds at most
  :data:`MAX_FILES` entries.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.errors import CommandRefused
from bot.sandbox.workspace.archives import Capped, close_stream

CONTEXT_BYTES = 16 * 1024 * 1024
"""The largest build context (the workspace's archive) the sandbox reads."""

MAX_FILES = 2000
"""The most files and folders one build context may hold."""

TUTOR_DOCKERFILE = ".tutor-Dockerfile"
"""The name the vetted Dockerfile travels under (no learner file can have it: ``edit``
writes no dot-file but ``.dockerignore``, and it is dropped from the learner's files)."""


@dataclass
class Context:
    """A build context read from the workspace.

    Attributes:
        files: Path -> bytes of every regular file kept (after ``.dockerignore``).
        folders: Every folder kept.
        mtimes: Path -> modification time, as the engine archived it (the builder's
            cache key for ``COPY`` includes it).
        ignored: Paths ``.dockerignore`` left out.
        skipped: Links and other non-files left out.
        dockerignore: The text of ``.dockerignore`` (``""`` when there is none).
        unfiltered: Every regular file read, ``.dockerignore`` or not (the Dockerfile is
            read from here: the docker CLI reads it even when it is ignored).
    """

    files: dict[str, bytes] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    mtimes: dict[str, float] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    dockerignore: str = ""
    unfiltered: dict[str, bytes] = field(default_factory=dict)


def _pattern(line: str) -> tuple[re.Pattern[str], bool] | None:
    """A ``.dockerignore`` line as a regular expression and whether it is an exception."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    line = line[1:].strip() if negate else line
    line = posixpath.normpath(line).lstrip("/")
    if line in ("", "."):
        return None
    out, i = [], 0
    while i < len(line):
        ch = line[i]
        if line.startswith("**", i):
            i += 2
            if line.startswith("/", i):
                i += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = line.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = line[i + 1:end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif ch == "\\" and i + 1 < len(line):
            i += 1
            out.append(re.escape(line[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z"), negate


def ignore_rules(text: str) -> list[tuple[re.Pattern[str], bool]]:
    """The rules of a ``.dockerignore`` text, in order."""
    return [rule for rule in (_pattern(line) for line in text.split("\n")[:500]) if rule]


def ignored(path: str, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    """Whether ``path`` (or a folder above it) is left out by the rules (the last match wins)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for rule, negate in rules:
        if any(rule.match(p) for p in prefixes):
            verdict = not negate
    return verdict


def read_context(chunks: Iterable[bytes], max_bytes: int = CONTEXT_BYTES) -> Context:
    """Read the engine's archive of the workspace (``<root>/.``) into a :class:`Context`.

    Raises:
        CommandRefused: The workspace is larger than the cap or holds too many entries.
    """
    found = Context()
    raw: dict[str, bytes] = {}
    folders: list[str] = []
    stream = Capped(iter(chunks), max_bytes)
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream), mode="r|") as tar:
            for count, member in enumerate(tar):
                if count > MAX_FILES:
                    raise CommandRefused(f"Your workspace holds more than {MAX_FILES} files "
                                         "and folders; the build context takes at most that.",
                                         option="context")
                name = member.name.split("/", 1)[1] if "/" in member.name else ""
                name = name.rstrip("/")
                if not name or name == TUTOR_DOCKERFILE:
                    continue
                found.mtimes[name] = float(member.mtime)
                if member.isdir():
                    folders.append(name)
                elif member.isfile():
                    handle = tar.extractfile(member)
                    raw[name] = handle.read() if handle is not None else b""
                else:
                    found.skipped.append(name)
    except tarfile.TarError:
        pass
    finally:
        close_stream(chunks)
    if stream.cut:
        raise CommandRefused(f"Your workspace is larger than {max_bytes // 2**20} MiB, the "
                             "most one build context may be here; remove big files or list "
                             "them in `.dockerignore`.", option="context")
    found.unfiltered = raw
    found.dockerignore = raw.get(".dockerignore", b"").decode("utf-8", "replace")
    rules = ignore_rules(found.dockerignore)
    for name in sorted(raw):
        if ignored(name, rules):
            found.ignored.append(name)
        else:
            found.files[name] = raw[name]
    found.ignored = sorted(set(found.ignored))
    found.folders = [f for f in sorted(folders) if not ignored(f, rules)]
    return found


def context_archive(context: Context, dockerfile: str) -> bytes:
    """The archive the builder receives: the kept files and the tutor's Dockerfile."""
    now = float(int(time.time()))
    archive = io.BytesIO()
    ignore = context.dockerignore
    if ".dockerignore" in context.files:
        ignore = ignore.rstrip("\n") + f"\n{TUTOR_DOCKERFILE}\n"
    else:
        ignore = f"{TUTOR_DOCKERFILE}\n.dockerignore\n"
    members = {**context.files, ".dockerignore": ignore.encode("utf-8"),
               TUTOR_DOCKERFILE: dockerfile.encode("utf-8")}
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder in context.folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            info.mtime = context.mtimes.get(folder, now)
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            info.mtime = context.mtimes.get(name, 0.0)
            tar.addfile(info, io.BytesIO(data))
    return archive.getvalue()
