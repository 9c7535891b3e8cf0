"""Mount requests (``-v``, ``--mount``, ``--tmpfs``) parsed and checked against the policy."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from bot.errors import CommandRefused
from bot.sandbox import policy
from bot.sandbox.parser import WORKSPACE

TMPFS_MAX_BYTES = 64 * 1024 * 1024
"""The largest tmpfs a learner may mount; the default size is 16 MiB."""


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
    tmpfs_size: int = 16 * 1024 * 1024


def _target(path: str, option: str) -> str:
    if not path.startswith("/"):
        raise CommandRefused(
            f"`{option}`: the path inside the container must be absolute, like /data "
            f"(got {path!r}).",
            option=option,
        )
    clean = posixpath.normpath(path)
    if clean == "/":
        raise CommandRefused(f"`{option}`: cannot mount over the container's root `/`.",
                             option=option)
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
            f"not {shown!r}: other host paths are off limits in the sandbox.",
            option=option,
        )
    if WORKSPACE in rest:
        raise CommandRefused(f"`{option}`: use `$(pwd)` once, at the start of the path.",
                             option=option)
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
        raise CommandRefused(f"`-v {spec}` is not a volume spec; use `-v NAME:/path`.", option="-v")
    if mode not in ("", "ro", "rw"):
        raise CommandRefused(f"`-v`: mode must be `ro` or `rw`, not {mode!r}.", option="-v")
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
        if raw and raw[-1] in units:
            size = int(raw[:-1]) * units[raw[-1]]
        else:
            size = int(raw)
    except ValueError:
        raise CommandRefused(f"`{option}`: size {raw!r} is not a size like 16m.",
                             option=option) from None
    if size <= 0 or size > TMPFS_MAX_BYTES:
        raise CommandRefused(f"`{option}`: tmpfs size must be between 1 byte and 64m.",
                             option=option)
    return size


def parse_tmpfs_flag(spec: str) -> MountRequest:
    """Parse ``--tmpfs /path[:size=16m,...]``; only the size option is honoured."""
    target, _, options = spec.partition(":")
    size = 16 * 1024 * 1024
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        if key == "size":
            size = _size(value, "--tmpfs")
        elif key not in ("rw", "ro", "noexec", "nosuid", "nodev", "exec", "mode"):
            raise CommandRefused(f"`--tmpfs`: option {key!r} is not supported.", option="--tmpfs")
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
        raise CommandRefused(f"`--mount`: option(s) {unknown} are not supported here.",
                             option="--mount")
    if not target:
        raise CommandRefused("`--mount` needs `target=/path`.", option="--mount")
    target = _target(target, "--mount")
    if kind == "tmpfs":
        if source:
            raise CommandRefused("`--mount type=tmpfs` takes no source.", option="--mount")
        size = _size(size_raw, "--mount") if size_raw else 16 * 1024 * 1024
        return MountRequest("tmpfs", "", target, tmpfs_size=size)
    if kind == "bind":
        return MountRequest("bind", _workspace_path(source, "--mount"), target, read_only)
    if kind == "volume":
        if not source:
            return MountRequest("anonymous", "", target, read_only)
        return MountRequest("volume", policy.check_name(source, "volume"), target, read_only)
    raise CommandRefused(f"`--mount type={kind}` is not supported; use volume, bind or tmpfs.",
                         option="--mount")
