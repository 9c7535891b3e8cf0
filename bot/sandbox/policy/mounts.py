"""Mount requests (``-v``, ``--mount``, ``--tmpfs``) parsed and checked against the policy."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.errors import CommandRefused
from bot.printable import one_line, unsafe_char
from bot.sandbox.policy import rules as policy
from bot.sandbox.policy import values as option_values
from bot.sandbox.policy.parser import WORKSPACE

TMPFS_MAX_BYTES = 64 * 1024 * 1024
"""The largest tmpfs a learner may mount, and the most all tmpfs of one container may
take together; the default size of one is 16 MiB."""

TMPFS_DEFAULT_BYTES = 16 * 1024 * 1024
"""The size of a tmpfs mounted without ``size=``."""

MAX_MOUNTS = 8
"""How many mounts (``-v``, ``--mount``, ``--tmpfs`` together) one ``run`` may ask for."""

SYSTEM_TARGETS = option_values.SYSTEM_PATHS
"""Container folders the kernel and runtime own: nothing may be mounted on or under them."""


@dataclass(frozen=True)
class MountRequest:
    """One mount a learner asked for.

    Attributes:
        kind: ``volume``, ``anonymous``, ``bind`` or ``tmpfs``.
        source: The learner's volume name; for ``bind``, the path inside the workspace
            (``""`` is the workspace itself); empty for anonymous and tmpfs.
        target: The absolute path inside the container.
        read_only: Mounted read-only.
        tmpfs_size: For tmpfs, the size in bytes.
    """

    kind: str
    source: str
    target: str
    read_only: bool = False
    tmpfs_size: int = TMPFS_DEFAULT_BYTES


def _target(path: str, option: str) -> str:
    if not path.startswith("/"):
        raise CommandRefused(
            f"`{option}`: the path inside the container must be absolute, like /data "
            f"(got {one_line(path)!r}).",
            option=option,
        )
    if len(path) > option_values.MAX_PATH_CHARS:
        raise CommandRefused(f"`{option}`: the path inside the container is too long.",
                             option=option)
    if any(unsafe_char(ch) or ch in "\n\t" for ch in path):
        raise CommandRefused(f"`{option}`: the path inside the container holds a control "
                             "character; use plain text, like /data.", option=option)
    clean = posixpath.normpath(path)
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    if clean == "/":
        raise CommandRefused(f"`{option}`: cannot mount over the container's root `/`.",
                             option=option)
    if any(clean == top or clean.startswith(top + "/") for top in SYSTEM_TARGETS):
        raise CommandRefused(
            f"`{option}`: {clean} belongs to the kernel and the container runtime; mount "
            "somewhere else, like /data.",
            option=option,
        )
    return clean


def _workspace_path(source: str, option: str) -> str:
    """The path inside the workspace that a bind source names, or refuse it."""
    if source.startswith(WORKSPACE):
        rest = source[len(WORKSPACE) :]
    elif source == "." or source.startswith("./"):
        rest = source[1:]
    else:
        shown = source.replace(WORKSPACE, "$(pwd)")
        raise CommandRefused(
            f"`{option}`: bind mounts may only use your workspace (`$(pwd)` or `.`), "
            f"not {one_line(shown)!r}: other host paths are off limits in the sandbox.",
            option=option,
        )
    if WORKSPACE in rest or (rest and not rest.startswith("/")):
        raise CommandRefused(
            f"`{option}`: use `$(pwd)` once, at the start of the path (`$(pwd)/sub`).",
            option=option,
        )
    parts = [p for p in rest.split("/") if p not in ("", ".")]
    if ".." in parts or "~" in rest:
        raise CommandRefused(
            f"`{option}`: `..` and `~` may not leave your workspace.", option=option
        )
    return "/".join(parts)


def parse_volume_flag(spec: str) -> MountRequest:
    """Parse ``-v SOURCE:TARGET[:ro|rw]`` or ``-v TARGET`` (an anonymous volume)."""
    pieces = spec.split(":")
    mode = ""
    if len(pieces) == 3:
        source, target, mode = pieces
    elif len(pieces) == 2:
        source, target = pieces
    elif len(pieces) == 1:
        return MountRequest("anonymous", "", _target(pieces[0], "-v"))
    else:
        raise CommandRefused(f"`-v {one_line(spec)}` is not a volume spec; use `-v NAME:/path`.", option="-v")
    if mode not in ("", "ro", "rw"):
        raise CommandRefused(f"`-v`: mode must be `ro` or `rw`, not {one_line(mode)!r}.", option="-v")
    target = _target(target, "-v")
    if not source:
        raise CommandRefused("`-v`: the volume name is missing before `:`.", option="-v")
    if source.startswith(("/", ".", "~", WORKSPACE)) or "/" in source:
        return MountRequest("bind", _workspace_path(source, "-v"), target, mode == "ro")
    return MountRequest("volume", policy.check_name(source, "volume"), target, mode == "ro")


def _size(raw: str, option: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    raw = raw.strip().lower().removesuffix("b")
    try:
        size = int(raw[:-1]) * units[raw[-1]] if raw and raw[-1] in units else int(raw)
    except ValueError:
        raise CommandRefused(f"`{option}`: size {one_line(raw)!r} is not a size like 16m.",
                             option=option) from None
    if size <= 0 or size > TMPFS_MAX_BYTES:
        raise CommandRefused(f"`{option}`: tmpfs size must be between 1 byte and 64m.",
                             option=option)
    return size


def parse_tmpfs_flag(spec: str) -> MountRequest:
    """Parse ``--tmpfs /path[:size=16m,...]``; only the size option is honoured."""
    target, _, options = spec.partition(":")
    size = TMPFS_DEFAULT_BYTES
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        if key == "size":
            size = _size(value, "--tmpfs")
        elif key not in ("rw", "ro", "noexec", "nosuid", "nodev", "exec", "mode"):
            raise CommandRefused(f"`--tmpfs`: option {one_line(key)!r} is not supported.", option="--tmpfs")
    return MountRequest("tmpfs", "", _target(target, "--tmpfs"), tmpfs_size=size)


def parse_mount_flag(spec: str) -> MountRequest:
    """Parse ``--mount type=volume|bind|tmpfs,source=...,target=...[,readonly]``."""
    fields: dict[str, str] = {}
    for item in spec.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq and key in ("readonly", "ro"):
            fields["readonly"] = "true"
            continue
        fields[key] = value
    kind = fields.pop("type", "volume")
    source = fields.pop("source", fields.pop("src", ""))
    target = fields.pop("target", fields.pop("destination", fields.pop("dst", "")))
    read_only = fields.pop("readonly", fields.pop("ro", "false")).lower() in ("", "1", "true")
    size_raw = fields.pop("tmpfs-size", "")
    if fields:
        unknown = ", ".join(sorted(fields))
        raise CommandRefused(f"`--mount`: option(s) {one_line(unknown)} are not supported here.",
                             option="--mount")
    if not target:
        raise CommandRefused("`--mount` needs `target=/path`.", option="--mount")
    target = _target(target, "--mount")
    if kind == "tmpfs":
        if source:
            raise CommandRefused("`--mount type=tmpfs` takes no source.", option="--mount")
        size = _size(size_raw, "--mount") if size_raw else TMPFS_DEFAULT_BYTES
        return MountRequest("tmpfs", "", target, tmpfs_size=size)
    if kind == "bind":
        return MountRequest("bind", _workspace_path(source, "--mount"), target, read_only)
    if kind == "volume":
        if not source:
            return MountRequest("anonymous", "", target, read_only)
        return MountRequest("volume", policy.check_name(source, "volume"), target, read_only)
    raise CommandRefused(f"`--mount type={one_line(kind)}` is not supported; use volume, bind or tmpfs.",
                         option="--mount")


def requested_mounts(
    volume_flags: list[str], mount_flags: list[str], tmpfs_flags: list[str]
) -> list[MountRequest]:
    """Parse every mount of a ``run`` and check them together.

    Raises:
        CommandRefused: For a malformed or forbidden mount, two mounts on one path,
            more than :data:`MAX_MOUNTS` mounts, or tmpfs larger than
            :data:`TMPFS_MAX_BYTES` in total.
    """
    if len(volume_flags) + len(mount_flags) + len(tmpfs_flags) > MAX_MOUNTS:
        raise CommandRefused(f"`-v`/`--mount`/`--tmpfs`: at most {MAX_MOUNTS} mounts per container.",
                             option="-v")
    wanted = [parse_volume_flag(v) for v in volume_flags]
    wanted += [parse_mount_flag(m) for m in mount_flags]
    wanted += [parse_tmpfs_flag(t) for t in tmpfs_flags]
    targets = [r.target for r in wanted]
    duplicate = next((t for t in targets if targets.count(t) > 1), None)
    if duplicate:
        raise CommandRefused(f"Two mounts target {duplicate}; each path may be mounted once.",
                             option="-v")
    check_nesting(wanted)
    tmpfs_total = sum(r.tmpfs_size for r in wanted if r.kind == "tmpfs")
    if tmpfs_total > TMPFS_MAX_BYTES:
        raise CommandRefused(
            f"`--tmpfs`: your tmpfs mounts add up to {tmpfs_total // 2**20} MiB; one container may have "
            f"at most {TMPFS_MAX_BYTES // 2**20} MiB of tmpfs.",
            option="--tmpfs",
        )
    return wanted


def _flag(request: MountRequest) -> str:
    """How the learner asked for a mount, for a message: ``--tmpfs /t``, ``-v NAME:/p``."""
    if request.kind == "tmpfs":
        return f"--tmpfs {request.target}"
    if request.kind == "bind":
        return f"-v $(pwd){'/' + request.source if request.source else ''}:{request.target}"
    if request.kind == "volume":
        return f"-v {request.source}:{request.target}"
    return f"-v {request.target}"


def inside(path: str, root: str) -> bool:
    """Whether the clean absolute ``path`` is ``root`` or under it (``/a/b`` is in ``/a``)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def check_nesting(requests: Sequence[MountRequest], declared: Iterable[str] = ()) -> None:
    """Refuse a mount whose target is at or under another mount's target.

    Every mount of a learner's container is a tree the learner can write: the
    workspace, a volume, an anonymous volume, a tmpfs (and ``declared``, the anonymous
    volumes the image declares, which the engine adds). A symbolic link planted in one
    (``ln -s /proc/sys /app/psys``) is followed by the runtime when it mounts another
    mount *inside* it (``--tmpfs /app/psys/kernel``), inside the container's root: the
    mount would land on ``/proc/sys``, ``/dev/shm`` or ``/sys/fs/cgroup``. With no mount
    inside another, every target's parent folders are the image's (trusted) and, after
    a first start, the container's own layer (checked at start by
    :func:`bot.sandbox.engine.targets.linked_targets`).

    Args:
        requests: The mounts the learner asked for (targets already clean).
        declared: Mount points the image declares as volumes, not covered by a request.

    Raises:
        CommandRefused: Naming the two mounts.
    """
    covered = {r.target for r in requests}
    pairs: list[tuple[str, str]] = [(r.target, _flag(r)) for r in requests]
    pairs += [(posixpath.normpath(d), f"the image's volume {posixpath.normpath(d)}")
              for d in declared if posixpath.normpath(d) not in covered]
    for target, flag in pairs:
        for other, other_flag in pairs:
            if other_flag != flag and inside(target, other):
                raise CommandRefused(
                    f"`{one_line(flag)}` would be inside `{one_line(other_flag)}`: the sandbox "
                    "does not mount one thing inside another (a link planted in the outer "
                    "one could move it elsewhere). Mount it beside it, like /cache.",
                    option="-v",
                )
