"""Primitives about named volumes: whether they exist, and data handed over through them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.history import (
    Event,
    events,
    mount_covering,
    paths_read,
    paths_written,
    relative,
    removed_at,
)
from bot.checks.library import check


@check("volume_exists", ParamSpec("name"), states=("volume-missing",))
def volume_exists(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A named volume called ``name`` exists.

    Parameters: ``name``.
    """
    name = str(p["name"])
    volume = ctx.sandbox.volume(ctx.person, name)
    if volume is None:
        return CheckResult(
            False,
            f"There is no volume called `{name}` yet. Create it with `docker volume create "
            f"{name}` (or let `-v {name}:/path` create it).",
            state="volume-missing",
        )
    return CheckResult(True, "", evidence={f"volume:{name}": volume.uid})


@check("volume_absent", ParamSpec("name"), states=("volume-present",))
def volume_absent(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """No volume called ``name`` exists.

    Parameters: ``name``.
    """
    name = str(p["name"])
    if ctx.sandbox.volume(ctx.person, name) is None:
        return CheckResult(True, f"The volume `{name}` is gone.")
    users = [c.name for c in ctx.sandbox.containers(ctx.person)
             if any(m.kind == "volume" and m.name == name for m in c.mounts)]
    if users:
        names = " ".join(users)
        return CheckResult(
            False,
            f"The volume `{name}` still exists, and {', '.join(f'`{u}`' for u in users)} "
            f"still use{'s' if len(users) == 1 else ''} it, so Docker won't remove it yet. "
            f"Remove the container{'s' if len(users) > 1 else ''} first (`docker rm -f "
            f"{names}`), then `docker volume rm {name}`.",
            state="volume-present",
        )
    return CheckResult(False, f"The volume `{name}` still exists; remove it with "
                       f"`docker volume rm {name}`.", state="volume-present")


@check("no_volumes", states=("volumes-left",))
def no_volumes(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The learner has no volumes at all.

    Parameters: none.
    """
    left = [v.name for v in ctx.sandbox.volumes(ctx.person)]
    if not left:
        return CheckResult(True, "No volumes are left.")
    shown = ", ".join(f"`{n}`" for n in left)
    return CheckResult(
        False,
        f"Still there: {shown}. Volumes are only removed when you ask: `docker volume rm "
        f"{' '.join(left)}` (after removing the containers that use them).",
        state="volumes-left",
    )


@dataclass(frozen=True)
class _Access:
    """A file in a volume, written or read through a container."""

    event: Event
    volume: str
    uid: str
    file: str  # path inside the volume
    path: str  # path inside the container
    target: str  # where the container mounts the volume


def _accesses(history: list[Event], volume: str | None, *, writes: bool) -> list[_Access]:
    found = []
    for event in history:
        if not event.in_container:
            continue
        paths = paths_written(event.argv) if writes else paths_read(event.argv)
        for path in paths:
            mount = mount_covering(event.container, path)
            if mount is None or mount.get("kind") != "volume" or mount.get("anonymous"):
                continue
            if volume is not None and mount.get("name") != volume:
                continue
            found.append(_Access(event, str(mount.get("name", "")), str(mount.get("uid", "")),
                                 relative(path, str(mount.get("target", ""))), path,
                                 str(mount.get("target", ""))))
    return found


@check(
    "volume_handoff",
    ParamSpec("volume", required=False),
    ParamSpec("after_removal", required=False, kind=bool),
    ParamSpec("at_once", required=False, kind=bool),
    states=("no-write", "no-read", "read-failed", "reader-not-on-volume", "writer-alive",
            "not-at-once", "volume-recreated", "file-missing"),
)
def volume_handoff(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A file written through one container on a volume was read through another.

    The learner wrote a file into the volume from container A (``exec`` or ``run``), and
    later read the same file (same volume, by its unique id, so not a re-created volume
    of the same name) from a different container B, successfully.

    Parameters: optional ``volume`` (its name; any named volume if left out),
    ``after_removal`` (``true``: A was removed before B read the file, so the data
    outlived its writer; the tutor checks the volume still exists) and ``at_once``
    (``true``: A and B both still run now, sharing the volume; the tutor reads the file
    through B itself).
    """
    volume = p.get("volume")
    after_removal = bool(p.get("after_removal", False))
    at_once = bool(p.get("at_once", False))
    vol = f"`{volume}`" if volume else "a named volume"
    history = events(ctx)
    writes = [w for w in _accesses(history, volume, writes=True) if w.event.ok]
    if not writes:
        return CheckResult(
            False,
            f"I haven't seen a container write a file into {vol} yet, e.g. `docker run --rm "
            f"-v {volume or 'NAME'}:/notes busybox sh -c 'echo kept > /notes/a.txt'`.",
            state="no-write",
        )
    reads = _accesses(history, volume, writes=False)
    failures: list[tuple[int, int, CheckResult]] = []

    def keep(rank: int, result: CheckResult) -> None:
        failures.append((rank, len(failures), result))

    present = {c.id: c for c in ctx.sandbox.containers(ctx.person)} if at_once else {}
    for write in writes:
        writer = str(write.event.container.get("name", ""))
        later = [r for r in reads if r.event.index > write.event.index and r.uid == write.uid
                 and r.file == write.file and r.event.container_id != write.event.container_id]
        if not later:
            elsewhere = _read_off_volume(history, write)
            if elsewhere is not None and elsewhere[1]:
                keep(2, CheckResult(
                    False,
                    f"`{elsewhere[0]}` mounts a volume called `{write.volume}`, but not the one "
                    f"that holds `{write.file}`: that one was removed, and a new, empty volume "
                    "with the same name was created. A volume's data goes when the volume goes.",
                    volunteer=True, state="volume-recreated",
                ))
                continue
            if elsewhere is not None:
                keep(2, CheckResult(
                    False,
                    f"`{elsewhere[0]}` looked for `{write.path}`, but it does not mount "
                    f"`{write.volume}` there, so it sees its own empty folder. Run the reader "
                    f"with `-v {write.volume}:{write.target}`.",
                    volunteer=True, state="reader-not-on-volume",
                ))
                continue
            keep(1, CheckResult(
                False,
                f"`{writer}` wrote `{write.path}` into `{write.volume}`. Now read it through "
                f"another container that mounts `{write.volume}`.",
                state="no-read",
            ))
            continue
        good = [r for r in later if r.event.ok]
        if not good:
            keep(2, CheckResult(
                False,
                f"Reading `{write.file}` from `{write.volume}` failed: check the path, relative "
                f"to where each container mounts the volume.",
                volunteer=True, state="read-failed",
            ))
            continue
        read = good[-1]
        reader = str(read.event.container.get("name", ""))
        gone = removed_at(history, write.event.container_id)
        if after_removal and (gone is None or gone > read.event.index):
            keep(3, CheckResult(
                False,
                f"`{reader}` read `{write.file}` while `{writer}`, which wrote it, still "
                "existed. To see the data outlive its container, remove the writer first "
                "(or use `--rm`), then read the file from a new container.",
                state="writer-alive",
            ))
            continue
        if at_once:
            a, b = present.get(write.event.container_id), present.get(read.event.container_id)
            if a is None or b is None or not (a.running and b.running):
                keep(3, CheckResult(
                    False,
                    f"To share `{write.volume}` at once, both containers must be running: "
                    f"start two with `-d` on the same volume (e.g. `writer` and `reader`, "
                    f"`busybox sleep 3600`), write through one, read through the other.",
                    state="not-at-once",
                ))
                continue
            _, seen = ctx.sandbox.container_file(ctx.person, b.name, read.path)
            if seen is None:
                keep(4, CheckResult(
                    False, f"`{b.name}` can no longer read `{read.path}`.", state="file-missing",
                ))
                continue
        elif after_removal:
            now = ctx.sandbox.volume(ctx.person, write.volume)
            if now is None or now.uid != write.uid:
                keep(4, CheckResult(
                    False,
                    f"The volume `{write.volume}` that held `{write.file}` has been removed since, "
                    "so its data is gone. Write the file again.",
                    state="volume-recreated",
                ))
                continue
        how = ("while both were running" if at_once
               else f"after `{writer}` was gone" if after_removal else "")
        message = (f"`{reader}` read `{write.file}` that `{writer}` wrote into "
                   f"`{write.volume}`{' ' + how if how else ''}.")
        return CheckResult(True, message, evidence={
            "volume": write.volume, "volume_uid": write.uid, "file": write.file,
            "writer_id": write.event.container_id, "reader_id": read.event.container_id,
        })
    return max(failures, key=lambda f: (f[1], f[0]))[2]  # the latest attempt speaks


def _read_off_volume(history: list[Event], write: _Access) -> tuple[str, bool] | None:
    """A later container that looked for the written file without the same volume there.

    Returns:
        Its name, and whether it mounts a *re-created* volume of the same name; ``None``
        when no other container looked.
    """
    for event in history:
        if event.index <= write.event.index or not event.in_container or (
                event.container_id == write.event.container_id):
            continue
        for path in paths_read(event.argv):
            mount = mount_covering(event.container, path)
            same_name = bool(mount and mount.get("kind") == "volume"
                             and mount.get("name") == write.volume)
            if mount is not None and mount.get("uid") == write.uid:
                continue
            if path == write.path or (same_name and mount is not None and relative(
                    path, str(mount.get("target", ""))) == write.file):
                return str(event.container.get("name", "")), same_name
    return None
