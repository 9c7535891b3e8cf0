"""Primitives about files in containers, and where each kind of storage keeps them.

``file_contains`` and ``file_absent`` look inside a running container. The three
composite primitives pair the command history with the engine's real state to prove a
storage lesson was *done*: the writable layer dies with its container
(``writable_layer_lost``), a bind mount shows host edits at once (``bind_edit_seen``),
and a tmpfs mount is emptied by a restart (``tmpfs_cleared``).
"""

from __future__ import annotations

from typing import Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.history import (
    Event,
    bind_sources,
    events,
    mount_covering,
    on_current_step,
    paths_read,
    paths_written,
    relative,
    removed_at,
    under,
)
from bot.checks.library import absolute, check
from bot.checks.primitives.containers import missing, stopped
from bot.sandbox import ContainerView
from bot.wording import front_end, tutor_word

NOT_FOUND_EXITS = (1, 2)
"""Exit statuses of ``cat``/``ls``/``test`` when a file is missing (not "no such command")."""


def _running(ctx: CheckContext, name: str) -> ContainerView | CheckResult:
    view = ctx.sandbox.container(ctx.person, name)
    if view is None:
        return missing(name)
    if not view.running:
        return stopped(view)
    return view


def _exists_in(ctx: CheckContext, name: str, path: str) -> bool | None:
    """Whether ``path`` exists in the running container (``None``: cannot tell)."""
    return ctx.sandbox.container_file(ctx.person, name, path)[0]  # nothing runs inside


def _named(event: Event) -> str:
    return str(event.container.get("name", "")) or event.container_id[:12]


@check(
    "file_contains",
    ParamSpec("container"), ParamSpec("path"), ParamSpec("text"),
    states=("container-missing", "container-stopped", "file-missing", "text-missing"),
    validate=absolute("path"),
)
def file_contains(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A file in a running container holds a text.

    Parameters: ``container``, ``path`` (absolute, inside the container) and ``text``
    (must appear in the file).
    """
    name, path, text = str(p["container"]), str(p["path"]), str(p["text"])
    view = _running(ctx, name)
    if isinstance(view, CheckResult):
        return view
    _, seen = ctx.sandbox.container_file(ctx.person, name, path)  # nothing runs inside
    if seen is None:
        return CheckResult(False, f"`{name}` has no file `{path}`.", state="file-missing")
    if text not in seen:
        return CheckResult(False, f"`{path}` in `{name}` does not contain \u201c{text}\u201d.",
                           state="text-missing")
    return CheckResult(True, f"`{path}` in `{name}` holds \u201c{text}\u201d.",
                       evidence={f"file:{name}:{path}": text})


@check(
    "file_absent",
    ParamSpec("container"), ParamSpec("path"),
    states=("container-missing", "container-stopped", "file-present"),
    validate=absolute("path"),
)
def file_absent(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A path does not exist in a running container.

    Parameters: ``container`` and ``path`` (absolute, inside the container).
    """
    name, path = str(p["container"]), str(p["path"])
    view = _running(ctx, name)
    if isinstance(view, CheckResult):
        return view
    if _exists_in(ctx, name, path) is not False:
        return CheckResult(False, f"`{path}` still exists in `{name}`.", state="file-present")
    return CheckResult(True, f"`{name}` has no `{path}`.")


# -- the writable layer --------------------------------------------------------------------


@check(
    "writable_layer_lost",
    ParamSpec("path", required=False),
    states=("no-write", "writer-alive", "no-fresh-look", "fresh-has-file"),
    validate=absolute("path"),
)
def writable_layer_lost(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A file written in a container's writable layer is gone with the container.

    Passes when: a command in container X wrote a file outside every mount of X (so in
    its writable layer); X was then removed; and afterwards a *different* container from
    the same image looked for that path (``cat``, ``ls``, ``test -e``...) and did not find
    it. If that new container still runs, the tutor also checks it lacks the file.

    Parameters: optional ``path`` (the file that must be used; any path if left out).
    """
    want = p.get("path")
    history = events(ctx)
    writes = [(e, path) for e in history if e.in_container and e.ok
              for path in paths_written(e.argv)
              if mount_covering(e.container, path) is None and (want is None or path == want)]
    example = want or "/note.txt"
    if not writes:
        return CheckResult(
            False,
            "First write a file inside a running container, outside any volume: "
            f"`docker exec scratchpad sh -c 'echo remember me > {example}'`.",
            state="no-write",
        )
    failures: list[tuple[int, int, CheckResult]] = []
    for write, path in writes:
        name, image = _named(write), str(write.container.get("image", ""))
        gone = removed_at(history, write.container_id)
        looks = [e for e in history
                 if e.index > write.index and e.in_container
                 and e.container_id != write.container_id
                 and e.container.get("image") == image and path in paths_read(e.argv)
                 and mount_covering(e.container, path) is None]
        if gone is None:
            early = [e for e in looks if not e.ok]
            failures.append((1 + bool(early), write.index, CheckResult(
                False,
                (f"`{_named(early[-1])}` did not find `{path}`: every container has its own "
                 f"writable layer. But `{name}` still exists, with the file in it. Remove "
                 f"`{name}` (`docker rm -f {name}`), then look again from a new container."
                 if early else
                 f"`{name}` wrote `{path}` in its writable layer. Now remove the container "
                 f"(`docker rm -f {name}`): its writable layer goes with it."),
                volunteer=bool(early),
                state="writer-alive",
            )))
            continue
        fresh = [e for e in looks if e.index > gone]
        if not fresh:
            failures.append((3, write.index, CheckResult(
                False,
                f"`{name}` is gone, and its writable layer with it. Now look for `{path}` in a "
                f"brand-new container from the same image: `docker run --rm {image or 'busybox'} "
                f"cat {path}`.",
                state="no-fresh-look",
            )))
            continue
        look = fresh[-1]
        other = _named(look)
        found = look.ok or look.exit not in NOT_FOUND_EXITS
        if not found:
            now = ctx.sandbox.container(ctx.person, other)
            if now is not None and now.id == look.container_id and now.running:
                found = _exists_in(ctx, other, path) is True
        if found:
            failures.append((4, write.index, CheckResult(
                False,
                f"`{other}` {'found' if look.ok else 'could not look for'} `{path}`, so this "
                f"doesn't show the file was lost. Use a path that only `{name}` wrote (like "
                f"`/note.txt`) and look for it with `cat`.",
                volunteer=True,
                state="fresh-has-file",
            )))
            continue
        return CheckResult(
            True,
            f"`{path}` lived in `{name}`'s writable layer; after `docker rm` the new container "
            f"`{other}` had no such file. The writable layer died with its container.",
            evidence={"path": path, "writer_id": write.container_id,
                      "fresh_id": look.container_id},
        )
    return max(failures, key=lambda f: (f[1], f[0]))[2]  # the latest attempt speaks


# -- bind mounts ---------------------------------------------------------------------------


def _container_path(binds: dict[str, str], file: str) -> str | None:
    """Where a workspace file appears in the container, given its bind mounts."""
    for target, source in sorted(binds.items(), key=lambda b: -len(b[1])):
        if not source or file == source or file.startswith(source + "/"):
            rest = relative("/" + file, "/" + source) if source else file
            return target.rstrip("/") + ("/" + rest if rest else "")
    return None


BIND_PROGRESS = ("no-bind", "no-edit", "edit-outside-mount", "no-read", "read-missed",
                 "out-of-sync")
"""How far a container got in the bind-mount experiment, for choosing what to say."""


@check(
    "bind_edit_seen",
    ParamSpec("container", required=False),
    ParamSpec("target", required=False),
    states=("container-missing", "container-stopped", "no-bind", "no-edit",
            "edit-outside-mount", "no-read", "read-missed", "out-of-sync"),
    validate=absolute("target"),
)
def bind_edit_seen(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A file changed "on the host" with ``edit`` was seen at once in a running container.

    Passes when: a running container has a bind mount of the learner's workspace (read
    from the ``docker run`` that created it); after it started, the learner changed a
    workspace file with the tutor word ``edit``; then read that file inside the *same*
    container (no restart, no copy) and the output showed the new text; and right now
    the file inside the container is identical to the one on the host.

    Parameters: optional ``container`` (its name; any running container if left out) and
    ``target`` (the bind mount's path inside the container, e.g. ``/app``; any bind
    mount if left out).
    """
    target = p.get("target")
    history = events(ctx)
    if p.get("container") is not None:
        view = _running(ctx, str(p["container"]))
        if isinstance(view, CheckResult):
            return view
        return _bind_verdict(ctx, view, target, history)
    running = [v for v in ctx.sandbox.containers(ctx.person) if v.running]
    verdicts = [(v, _bind_verdict(ctx, v, target, history)) for v in running]
    passed = [r for _, r in verdicts if r.passed]
    if passed:
        return passed[0]
    # A container with no bind is an attempt only if it has something at the target, or
    # the learner made it on this step (not one left over from an earlier step).
    fresh = {e.container_id for e in on_current_step(ctx, history) if e.verb == "run"}
    tried = [r for v, r in verdicts if r.state != "no-bind" or v.id in fresh
             or (target is not None and v.mount_at(str(target)))]
    if not tried:
        where = target or "/app"
        return CheckResult(
            False,
            f"No running container has your workspace mounted{f' at `{where}`' if target else ''}"
            f". Start one: `docker run -d --name devbox -v $(pwd):{where} busybox sleep 3600` "
            "(any name will do).",
            state="container-missing",
        )
    return max(tried, key=lambda v: BIND_PROGRESS.index(v.state)
               if v.state in BIND_PROGRESS else -1)


def _bind_verdict(ctx: CheckContext, view: ContainerView, target: object,
                  history: list[Event]) -> CheckResult:
    """The bind-mount experiment as one running container saw it."""
    name = view.name
    runs = [e for e in history if e.verb == "run" and e.container_id == view.id]
    binds = bind_sources(runs[-1].text) if runs else {}
    if target is not None:
        binds = {t: s for t, s in binds.items() if t == target}
    binds = {t: s for t, s in binds.items() if (m := view.mount_at(t)) and m.kind == "bind"}
    if not binds:
        where = target or "/app"
        what = f"no bind mount of your workspace{f' at `{target}`' if target else ''}"
        if target is not None and view.mount_at(str(target)) is None:
            what = f"nothing mounted at `{target}`"
        return CheckResult(
            False,
            f"`{name}` has {what}. Mounts are fixed when a container is created: remove it "
            f"(`docker rm -f {name}`) and run it again with `-v $(pwd):{where}`.",
            volunteer=True,
            state="no-bind",
        )
    edits = [e for e in history if e.verb == "edit" and e.index > runs[-1].index]
    if not edits:
        return CheckResult(
            False,
            "Now change a file on the host while the container runs: "
            f"{tutor_word('edit notes.txt hello from the host', front_end(ctx.person))}.",
            state="no-edit",
        )
    edit = edits[-1]
    info = edit.facts.get("edit") or {}
    file, text = str(info.get("path", "")), str(info.get("text", ""))
    inside = _container_path(binds, file)
    if inside is None:
        shown = ", ".join(f"`$(pwd)/{s}` at `{t}`" for t, s in binds.items())
        return CheckResult(
            False,
            f"You edited `{file}`, but `{name}` only shows {shown}, and that file is not in it.",
            state="edit-outside-mount",
        )
    reads = [e for e in history if e.index > edit.index and e.container_id == view.id
             and inside in paths_read(e.argv)]
    if not reads:
        return CheckResult(False, f"Now look at it from inside the container: `docker exec "
                           f"{name} cat {inside}`.", state="no-read")
    snippet = text.strip()[:200]
    if not any(r.ok and snippet in r.output for r in reads):
        return CheckResult(
            False,
            f"`{name}` did not show the new text of `{inside}`. Read the whole file with "
            f"`docker exec {name} cat {inside}`.",
            volunteer=True,
            state="read-missed",
        )
    _, seen = ctx.sandbox.container_file(ctx.person, name, inside)  # nothing runs inside
    host = ctx.sandbox.read_workspace_file(ctx.person, file)  # through the engine
    if seen is None or host is None or seen != host:
        return CheckResult(
            False,
            f"`{inside}` in `{name}` and `{file}` in your workspace differ now.",
            state="out-of-sync",
        )
    return CheckResult(
        True,
        f"You changed `{file}` on the host and `{name}` saw it at once at `{inside}`: a bind "
        "mount is the same folder, seen from both sides.",
        evidence={"file": file, "container_path": inside, "container_id": view.id},
    )


# -- tmpfs ---------------------------------------------------------------------------------


@check(
    "tmpfs_cleared",
    ParamSpec("container", required=False),
    ParamSpec("target", required=False),
    states=("container-missing", "container-stopped", "no-tmpfs", "no-write", "not-restarted",
            "no-read", "file-survived"),
    validate=absolute("target"),
)
def tmpfs_cleared(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A file written to a tmpfs mount is gone after the container restarts.

    Passes when: a command wrote a file inside a tmpfs mount of container C; C was then
    stopped or restarted (same container, same id); a later read of the file in C failed;
    and the tutor confirms C, running again, still lacks it.

    Parameters: optional ``container`` (its name; any container if left out) and
    ``target`` (the tmpfs mount's path inside the container).
    """
    name, target = p.get("container"), p.get("target")
    history = events(ctx)
    writes = []
    for event in history:
        if not (event.in_container and event.ok):
            continue
        if name is not None and event.container.get("name") != name:
            continue
        for path in paths_written(event.argv):
            mount = mount_covering(event.container, path)
            if mount and mount.get("kind") == "tmpfs" and target in (None, mount.get("target")):
                writes.append((event, path))
    if not writes:
        if name is not None:
            view = ctx.sandbox.container(ctx.person, str(name))
            if view is None:
                return missing(str(name))
            if not any(m.kind == "tmpfs" and target in (None, m.target) for m in view.mounts):
                return CheckResult(
                    False,
                    f"`{name}` has no tmpfs mount{f' at `{target}`' if target else ''}. Remove it "
                    f"(`docker rm -f {name}`) and run it again with `--tmpfs {target or '/cache'}`.",
                    volunteer=True,
                    state="no-tmpfs",
                )
        misplaced = _misplaced_tmpfs_write(ctx, history, target) if name is None else None
        if misplaced is not None:
            return CheckResult(
                False,
                f"`{misplaced}` has no tmpfs mount at `{target}`, so a file written there goes "
                f"to its writable layer. Mounts are fixed when a container is created: remove "
                f"it (`docker rm -f {misplaced}`) and run it again with `--tmpfs {target}`.",
                volunteer=True,
                state="no-tmpfs",
            )
        where = target or "/cache"
        if name is None and not any(
            v.running and any(m.kind == "tmpfs" and target in (None, m.target) for m in v.mounts)
            for v in ctx.sandbox.containers(ctx.person)
        ):
            return CheckResult(
                False,
                f"Start a container with a memory-only folder at `{where}`: `docker run -d "
                f"--name cachebox --tmpfs {where} busybox sleep 3600` (any name will do).",
                state="container-missing",
            )
        return CheckResult(
            False,
            f"Write a file into the tmpfs mount, e.g. `docker exec {name or 'cachebox'} sh -c "
            f"'echo temp > {where}/x.txt'`.",
            state="no-write",
        )
    write, path = writes[-1]
    cname = _named(write)
    stops = [e for e in history if e.index > write.index and write.container_id in e.ids("stopped")]
    if not stops:
        return CheckResult(False, f"`{path}` is in `{cname}`'s tmpfs mount. Now restart the "
                           f"container: `docker restart {cname}`.", state="not-restarted")
    reads = [e for e in history if e.index > stops[0].index
             and e.container_id == write.container_id and path in paths_read(e.argv)]
    if not reads:
        return CheckResult(False, f"`{cname}` was restarted. Look for `{path}` again: "
                           f"`docker exec {cname} cat {path}`.", state="no-read")
    view = ctx.sandbox.container(ctx.person, cname)
    if view is None or view.id != write.container_id:
        return CheckResult(False, f"`{cname}` is gone; start over with a new container.",
                           state="container-missing")
    if not view.running:
        return stopped(view)
    if reads[-1].ok or _exists_in(ctx, cname, path) is not False:
        return CheckResult(
            False,
            f"`{path}` is still in `{cname}` after the restart, so it is not on a tmpfs mount "
            "(or it was written again). Check where the tmpfs is with `docker inspect`.",
            volunteer=True,
            state="file-survived",
        )
    return CheckResult(
        True,
        f"`{path}` was in `{cname}`'s tmpfs mount, and after the restart it was gone, in the "
        "very same container. tmpfs lives in memory only.",
        evidence={"path": path, "container_id": write.container_id},
    )


def _misplaced_tmpfs_write(ctx: CheckContext, history: list[Event],
                           target: object) -> str | None:
    """A container without a tmpfs mount at ``target`` that the learner used for one.

    That is: it wrote under ``target``, or the learner made it on this step and it runs.
    """
    if target is None:
        return None
    for event in reversed(history):
        if not (event.in_container and event.ok):
            continue
        for path in paths_written(event.argv):
            mount = mount_covering(event.container, path)
            if under(path, str(target)) and (mount is None or mount.get("kind") != "tmpfs"):
                return _named(event)
    for event in reversed(on_current_step(ctx, history)):
        if event.verb != "run" or not event.container_id or not event.facts.get("detach"):
            continue
        view = ctx.sandbox.container(ctx.person, _named(event))
        there = view.mount_at(str(target)) if view is not None else None
        if view is not None and view.id == event.container_id and view.running and (
                there is None or there.kind != "tmpfs"):
            return view.name
    return None
