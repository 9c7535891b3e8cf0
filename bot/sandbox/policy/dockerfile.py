r"""The Dockerfile a learner builds, read as untrusted input and vetted instruction by instruction.

A Dockerfile comes from the learner's workspace, which their own containers can write:
it may hold any bytes. :func:`parse` reads it the way the engine's classic builder does
(comments, ``\`` line continuations, one instruction a line) and refuses, with one
printable line naming the instruction and its line number, anything the sandbox does not
build: ``RUN --mount`` and every other ``RUN`` flag, ``ADD`` of a URL or a git
repository, ``COPY --from`` of something that is not an earlier stage, ``ONBUILD``,
heredocs, a parser directive, variables where the sandbox must know the value (``FROM``,
``WORKDIR``, ``VOLUME``, ``LABEL`` keys), ``WORKDIR`` and ``VOLUME`` on or under ``/proc``,
``/sys`` or ``/dev`` (CVE-2024-21626 worked through ``WORKDIR /proc/self/fd/N``), and
``LABEL docker-tutor.*`` (ownership labels are the tutor's). Nothing here talks to the
engine: the ``FROM`` references it returns are resolved, and the builder's text written,
by :mod:`bot.sandbox.resources.build`.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from bot.errors import CommandRefused
from bot.printable import describe_char, first_unsafe, one_line
from bot.sandbox.policy import values
from bot.sandbox.policy.values import SYSTEM_PATHS

MAX_DOCKERFILE_BYTES = 64 * 1024
"""The largest Dockerfile the sandbox reads."""

MAX_INSTRUCTIONS = 200
"""The most instructions one Dockerfile may hold."""

MAX_STAGES = 8
"""The most ``FROM`` stages one Dockerfile may hold."""

KNOWN = ("FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
         "USER", "WORKDIR", "ARG", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER", "ONBUILD")
"""Every instruction the classic builder knows."""

_STAGE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")
_HEREDOC_RE = re.compile(r"<<-?\s*[\"']?[A-Za-z_][A-Za-z0-9_]*")
_URL_RE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|git@)")
_OWN_LABEL = "docker-tutor."


@dataclass(frozen=True)
class Instruction:
    """One instruction of a Dockerfile.

    Attributes:
        line: The line number (from 1) where it starts.
        keyword: ``FROM``, ``RUN``... (upper case).
        args: Its text after the keyword, continuations joined.
        stage: The index of the stage it belongs to (``-1`` for an ``ARG`` before ``FROM``).
    """

    line: int
    keyword: str
    args: str
    stage: int

    @property
    def text(self) -> str:
        """The instruction as the learner wrote it, on one line."""
        return f"{self.keyword} {self.args}".strip()


@dataclass(frozen=True)
class Stage:
    """One ``FROM`` of a Dockerfile.

    Attributes:
        index: From 0.
        base: What the stage starts from as written (``busybox``, ``app:v1``, ``scratch``).
        kind: ``scratch``, ``stage`` (an earlier stage), or ``image`` (a lesson image or
            one of the learner's own, resolved by the engine side).
        name: The ``AS`` name, or ``""``.
        line: The line number of the ``FROM``.
    """

    index: int
    base: str
    kind: str
    name: str
    line: int


@dataclass
class Dockerfile:
    """A vetted Dockerfile.

    Attributes:
        instructions: Every instruction, in order.
        stages: Every ``FROM``, in order.
    """

    instructions: list[Instruction] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)

    def stage_named(self, ref: str, before: int) -> Stage | None:
        """The stage ``ref`` names (its ``AS`` name or its index) among the first ``before``."""
        for stage in self.stages[:before]:
            if ref in (stage.name, str(stage.index)) and ref:
                return stage
        return None


def refuse(line: int, message: str) -> CommandRefused:
    """A one-line refusal of a Dockerfile line."""
    return CommandRefused(f"Dockerfile line {line}: {message}", option="Dockerfile")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """The Dockerfile's instructions as ``(first line number, text)``, continuations joined.

    Blank lines and comments (a ``#`` first on a line, also inside a continuation) are
    dropped, as the builder drops them.
    """
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        body = raw.rstrip()
        if body.endswith("\\"):
            pending.append(body[:-1])
            continue
        pending.append(body)
        out.append((start, " ".join(p.strip() for p in pending if p.strip())))
        pending = []
    if pending:
        out.append((start, " ".join(p.strip() for p in pending if p.strip())))
    return out


def _directive(text: str) -> None:
    """Refuse parser directives (``# syntax=``, ``# escape=``) at the top of the file."""
    for raw in text.split("\n"):
        stripped = raw.strip()
        if not stripped:
            continue
        match = re.match(r"^#\s*([A-Za-z]+)\s*=", stripped)
        if match and match.group(1).lower() in ("syntax", "escape", "check"):
            raise refuse(1, f"the parser directive `{one_line(stripped)}` is refused: the "
                            "sandbox builds with its own builder and the default escape `\\`.")
        if not stripped.startswith("#"):
            return


def _flags(args: str) -> tuple[dict[str, str], str]:
    """Split leading ``--name=value`` flags off an instruction's arguments."""
    flags: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        name, _, value = word[2:].partition("=")
        flags[name.lower()] = value
        rest = after.lstrip()
    return flags, rest


def _system_path(path: str, workdir: str) -> str | None:
    """``path`` made absolute against ``workdir``, if it lies on or under a kernel folder."""
    clean = posixpath.normpath(posixpath.join(workdir, path))
    clean = "/" + clean.lstrip("/")
    if any(clean == top or clean.startswith(top + "/") for top in SYSTEM_PATHS):
        return clean
    return None


def _json_or_words(args: str) -> list[str]:
    """The words of ``VOLUME``/``COPY``-like arguments, in JSON form or space separated."""
    text = args.strip()
    if text.startswith("["):
        return re.findall(r'"((?:[^"\\]|\\.)*)"', text)
    return text.split()


def parse(text: str, allowed: frozenset[str] | None) -> Dockerfile:
    """Read and vet a learner's Dockerfile.

    Args:
        text: The Dockerfile's text (bytes that were not UTF-8 arrive as lone surrogates).
        allowed: The lesson's image names (``None``: any well-formed name).

    Returns:
        The instructions and stages, every one inside the policy.

    Raises:
        CommandRefused: With one printable line naming the line and the reason.
    """
    if len(text.encode("utf-8", "surrogateescape")) > MAX_DOCKERFILE_BYTES:
        raise refuse(1, f"the Dockerfile is larger than {MAX_DOCKERFILE_BYTES // 1024} KiB.")
    text = text.replace("\r\n", "\n")
    bad = first_unsafe(text)
    if bad is not None:
        line = text[: text.index(bad)].count("\n") + 1
        raise refuse(line, f"the text holds a control character ({describe_char(bad)}).")
    _directive(text)
    result = Dockerfile()
    workdir = "/"
    for line, logical in logical_lines(text):
        keyword, _, args = logical.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword not in KNOWN:
            raise refuse(line, f"`{one_line(keyword)}` is not a Dockerfile instruction.")
        if len(result.instructions) >= MAX_INSTRUCTIONS:
            raise refuse(line, f"at most {MAX_INSTRUCTIONS} instructions.")
        if keyword == "FROM":
            result.stages.append(_from(result, line, args, allowed))
            workdir = "/"
        elif not result.stages and keyword != "ARG":
            raise refuse(line, f"`{keyword}` before the first `FROM`.")
        else:
            workdir = _vet(result, line, keyword, args, workdir)
        result.instructions.append(Instruction(line, keyword, args, len(result.stages) - 1))
    if not result.stages:
        raise refuse(1, "the Dockerfile has no `FROM`.")
    return result


def _from(result: Dockerfile, line: int, args: str, allowed: frozenset[str] | None) -> Stage:
    flags, rest = _flags(args)
    if flags:
        raise refuse(line, f"`FROM --{one_line(next(iter(flags)))}` is refused: the "
                           "sandbox builds for its own platform.")
    words = rest.split()
    if not words or len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise refuse(line, "write `FROM IMAGE` or `FROM IMAGE AS NAME`.")
    if len(result.stages) >= MAX_STAGES:
        raise refuse(line, f"at most {MAX_STAGES} stages.")
    base, name = words[0], (words[2].lower() if len(words) == 3 else "")
    if name and (not _STAGE_RE.match(name) or result.stage_named(name, len(result.stages))):
        raise refuse(line, f"`AS {one_line(name)}`: a stage name is lower-case letters, "
                           "digits, `_`, `.` or `-`, used once.")
    index = len(result.stages)
    if "$" in base:
        raise refuse(line, "`FROM` with a variable is refused: write the image's name, so "
                           "the sandbox can tell it is allowed.")
    if base == "scratch":
        return Stage(index, base, "scratch", name, line)
    if result.stage_named(base.lower(), index) is not None:
        return Stage(index, base.lower(), "stage", name, line)
    try:
        values.check_image(base, None)
    except CommandRefused:
        raise refuse(line, f"`FROM {one_line(base)}`: " + _FROM_REASON
                     + values.image_hint(allowed)) from None
    return Stage(index, base, "image", name, line)


_FROM_REASON = ("only the lesson's images, your own images and earlier stages may be built "
                "from (the sandbox has no registry). ")


def _vet(result: Dockerfile, line: int, keyword: str, args: str, workdir: str) -> str:
    """Refuse what an instruction may not do; return the stage's working directory after it."""
    flags, rest = _flags(args) if keyword in ("RUN", "COPY", "ADD") else ({}, args)
    if keyword in ("RUN", "COPY", "ADD") and _HEREDOC_RE.search(rest if keyword != "RUN"
                                                                 else args):
        raise refuse(line, f"heredocs (`{keyword} <<EOF`) are refused: the builder here "
                           "reads one instruction a line. Write the file with `edit` and "
                           "`COPY` it.")
    if keyword == "RUN" and flags:
        flag = next(iter(flags))
        raise refuse(line, f"`RUN --{one_line(flag)}` is refused: build steps get no mounts, "
                           "no network and no extra privileges.")
    if keyword == "ONBUILD":
        raise refuse(line, "`ONBUILD` is refused: it hides instructions that run later, in "
                           "another build.")
    if keyword in ("COPY", "ADD"):
        _copy(result, line, keyword, flags, rest=rest, workdir=workdir)
    elif keyword == "WORKDIR":
        if "$" in args:
            raise refuse(line, "`WORKDIR` with a variable is refused: write the path out.")
        where = _system_path(args, workdir)
        if where is not None:
            raise refuse(line, f"`WORKDIR {one_line(where)}` is refused: the kernel's "
                               "folders are no place to work (CVE-2024-21626 escaped "
                               "through `WORKDIR /proc/self/fd/N`).")
        return posixpath.normpath(posixpath.join(workdir, args)) if args else workdir
    elif keyword == "VOLUME":
        if "$" in args:
            raise refuse(line, "`VOLUME` with a variable is refused: write the path out.")
        for path in _json_or_words(args):
            if _system_path(path, "/") is not None or posixpath.normpath(
                    "/" + path.lstrip("/")) == "/":
                raise refuse(line, f"`VOLUME {one_line(path)}`: a volume may not cover `/` "
                                   "or the kernel's folders.")
    elif keyword == "LABEL":
        _label(line, args)
    return workdir


def _copy(result: Dockerfile, line: int, keyword: str, flags: dict[str, str], *, rest: str,
          workdir: str) -> None:
    for flag, value in flags.items():
        if flag == "from" and keyword == "COPY":
            if result.stage_named(value.lower(), len(result.stages) - 1) is None:
                raise refuse(line, f"`COPY --from={one_line(value)}`: only an earlier stage "
                                   "(its `AS` name or number) may be copied from.")
        elif flag != "chown":
            raise refuse(line, f"`{keyword} --{one_line(flag)}` is refused here (only "
                               "`--chown` and, for `COPY`, `--from=STAGE`).")
    words = _json_or_words(rest)
    if len(words) < 2:
        raise refuse(line, f"`{keyword}` needs a source and a destination.")
    for source in words[:-1]:
        if _URL_RE.match(source):
            raise refuse(line, f"`{keyword} {one_line(source)}` is refused: the sandbox has "
                               "no network; copy files from your workspace.")
    dest = words[-1]
    if "$" in dest or _system_path(dest, workdir) is not None:
        raise refuse(line, f"`{keyword}` into {one_line(dest)} is refused: write a plain path "
                           "outside `/proc`, `/sys` and `/dev`.")


def _label(line: int, args: str) -> None:
    keys = re.findall(r'(?:^|\s)("(?:[^"\\]|\\.)*"|[^\s=]+)=', args) or args.split()[:1]
    for key in keys:
        bare = key.strip('"')
        if "$" in bare or bare.lower().startswith(_OWN_LABEL):
            raise refuse(line, f"`LABEL {one_line(bare)}` is refused: `docker-tutor.*` labels "
                               "mark ownership and are the tutor's; label keys are plain text.")
