"""Primitives about containers and their mounts, read from the engine's real state."""

from __future__ import annotations

from typing import Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.history import bind_sources, events
from bot.checks.library import absolute, all_of, check, one_of
from bot.sandbox import ContainerView

MOUNT_KINDS = ("volume", "bind", "tmpfs")


def _names(views: list[ContainerView]) -> str:
    names = [f"`{v.name}`" for v in views]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def missing(name: str) -> CheckResult:
    """The failure for a container that does not exist."""
    return CheckResult(False, f"There is no container called `{name}` (see `docker ps -a`).",
                       state="container-missing")


def stopped(view: ContainerView) -> CheckResult:
    """The failure for a container that exists but is not running."""
    return CheckResult(
        False,
        f"`{view.name}` exists but is not running ({view.status}). Start it with "
        f"`docker start {view.name}`.",
        state="container-stopped",
    )


@check(
    "container_exists",
    ParamSpec("name"),
    ParamSpec("running", required=False, kind=bool),
    ParamSpec("image", required=False),
    states=("container-missing", "container-stopped", "container-wrong-image"),
)
def container_exists(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A container called ``name`` exists.

    Parameters: ``name``; optional ``running`` (``true``: it must be running) and
    ``image`` (it must have been started from that image, e.g. ``busybox``).
    """
    name = str(p["name"])
    view = ctx.sandbox.container(ctx.person, name)
    if view is None:
        return missing(name)
    image = p.get("image")
    if image is not None and view.image != image:
        return CheckResult(
            False,
            f"`{name}` runs the image `{view.image}`, not `{image}`. Remove it "
            f"(`docker rm -f {name}`) and start it again from `{image}`.",
            volunteer=True,
            state="container-wrong-image",
        )
    if p.get("running") and not view.running:
        return stopped(view)
    return CheckResult(True, "", evidence={f"container:{name}": view.id})


@check("container_absent", ParamSpec("name"), states=("container-present",))
def container_absent(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """No container called ``name`` exists (running or stopped).

    Parameters: ``name``.
    """
    name = str(p["name"])
    view = ctx.sandbox.container(ctx.person, name)
    if view is None:
        return CheckResult(True, f"`{name}` is gone.")
    how = f"`docker rm -f {name}`" if view.running else f"`docker rm {name}`"
    return CheckResult(False, f"`{name}` still exists ({view.status}); remove it with {how}.",
                       state="container-present")


@check("no_containers", states=("containers-left",))
def no_containers(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The learner has no containers at all, running or stopped.

    Parameters: none.
    """
    views = ctx.sandbox.containers(ctx.person)
    if not views:
        return CheckResult(True, "No containers are left.")
    names = " ".join(v.name for v in views)
    return CheckResult(
        False,
        f"{_names(views)} {'is' if len(views) == 1 else 'are'} still there (`docker ps -a` "
        f"lists stopped ones too). Remove {'it' if len(views) == 1 else 'them'}: "
        f"`docker rm -f {names}`.",
        state="containers-left",
    )


def _workspace_folder(source: str) -> str:
    """A bind ``source`` parameter as a folder inside the workspace (``""``: itself)."""
    parts = [part for part in source.replace("$(pwd)", "").split("/") if part not in ("", ".")]
    return "/".join(parts)


def _shown_source(folder: str) -> str:
    return "$(pwd)" + (f"/{folder}" if folder else "")


@check(
    "mount_at",
    ParamSpec("container"),
    ParamSpec("target"),
    ParamSpec("kind", required=False),
    ParamSpec("volume", required=False),
    ParamSpec("source", required=False),
    states=("container-missing", "mount-missing", "mount-wrong-kind", "mount-wrong-volume",
            "mount-wrong-source"),
    validate=all_of(one_of("kind", MOUNT_KINDS), absolute("target")),
)
def mount_at(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The container has a mount of a kind at ``target``.

    Parameters: ``container``, ``target`` (the path inside the container); optional
    ``kind`` (``volume``, the default, ``bind`` or ``tmpfs``), ``volume`` (for a volume:
    its name) and ``source`` (for a bind mount: the workspace folder, ``"."`` for the
    workspace itself, as ``$(pwd)``; read from the command that created the container).
    """
    name, target = str(p["container"]), str(p["target"])
    kind = str(p.get("kind", "volume"))
    volume = p.get("volume")
    view = ctx.sandbox.container(ctx.person, name)
    if view is None:
        return missing(name)
    flag = {"volume": f"-v {volume or 'NAME'}:{target}", "tmpfs": f"--tmpfs {target}",
            "bind": f"-v {_shown_source(_workspace_folder(str(p.get('source', '.'))))}:{target}"}
    mount = view.mount_at(target)
    if mount is None:
        return CheckResult(
            False,
            f"`{name}` has nothing mounted at `{target}`. Mounts are fixed when a container "
            f"is created: remove it (`docker rm -f {name}`) and run it again with "
            f"`{flag[kind]}`.",
            volunteer=True,
            state="mount-missing",
        )
    if mount.kind != kind:
        return CheckResult(
            False,
            f"`{name}` has a {mount.kind} mount at `{target}`, not a {kind} mount. Remove it "
            f"and run it again with `{flag[kind]}`.",
            volunteer=True,
            state="mount-wrong-kind",
        )
    if kind == "volume" and volume is not None and mount.name != volume:
        got = f"the volume `{mount.name}`" if mount.name else "an anonymous volume"
        return CheckResult(
            False,
            f"`{name}` has {got} at `{target}`, not `{volume}`. Remove it and run it again "
            f"with `{flag[kind]}`.",
            volunteer=True,
            state="mount-wrong-volume",
        )
    if kind == "bind" and p.get("source") is not None:
        wanted = _workspace_folder(str(p["source"]))
        runs = [e for e in events(ctx) if e.verb == "run" and e.container_id == view.id]
        source = bind_sources(runs[-1].text).get(target) if runs else None
        if source is not None and source != wanted:
            return CheckResult(
                False,
                f"`{name}` shows `{_shown_source(source)}` at `{target}`, not "
                f"`{_shown_source(wanted)}`. Remove it and run it again with `{flag[kind]}`.",
                volunteer=True,
                state="mount-wrong-source",
            )
    what = f"the volume `{mount.name}`" if kind == "volume" else f"a {kind} mount"
    return CheckResult(True, f"`{name}` has {what} at `{target}`.",
                       evidence={f"mount:{name}:{target}": mount.as_fact()})
