"""Primitives about a learner's images, read from the image's real config and layers.

The image is the engine's (its id, ``Config``, ``history``, files); a build's own record
(the stages and cache hits the tutor saw) is matched to the image by its id, so an image
tagged from another, or rebuilt since, is not mistaken for the one the learner built.
"""

from __future__ import annotations

import shlex
from typing import Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.history import events
from bot.checks.library import absolute, check


def _missing(name: str) -> CheckResult:
    return CheckResult(False, f"You have no image called `{name}` yet (see `docker images`); "
                              f"build it with `docker build -t {name} .`.",
                       state="image-missing")


def _builds(ctx: CheckContext) -> list[dict[str, Any]]:
    """The facts of every successful ``docker build``, oldest first."""
    return [e.facts["build"] for e in events(ctx)
            if e.verb == "build" and e.ok and isinstance(e.facts.get("build"), dict)
            and e.facts["build"].get("ok")]


@check("image_exists", ParamSpec("name"), ParamSpec("stages", required=False, kind=int),
       states=("image-missing", "not-built", "too-few-stages"))
def image_exists(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The learner has an image called ``name`` (``app`` or ``app:v1``).

    Parameters: ``name``; optional ``stages``: the build that made this very image (same
    id) had at least that many ``FROM`` stages.
    """
    name = str(p["name"])
    view = ctx.sandbox.image(ctx.person, name)
    if view is None:
        return _missing(name)
    stages = p.get("stages")
    if stages is not None:
        made = [b for b in _builds(ctx) if b.get("image") == view.id]
        if not made:
            return CheckResult(False, f"`{name}` was not built during this lesson: build it "
                                      f"with `docker build -t {name} .`.", state="not-built")
        if max(int(b.get("stages") or 0) for b in made) < int(stages):
            return CheckResult(False, f"`{name}` was built in one stage; use at least "
                                      f"{stages} `FROM` stages (a builder stage, then a "
                                      "small final one).", volunteer=True,
                               state="too-few-stages")
    return CheckResult(True, f"`{name}` exists ({view.id[7:19]}).",
                       evidence={f"image:{name}": view.id})


@check("image_absent", ParamSpec("name"), states=("image-present",))
def image_absent(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The learner has no image called ``name``.

    Parameters: ``name``.
    """
    name = str(p["name"])
    if ctx.sandbox.image(ctx.person, name) is None:
        return CheckResult(True, f"`{name}` is gone.")
    return CheckResult(False, f"`{name}` still exists: `docker image rm {name}`.",
                       state="image-present")


def _words(value: tuple[str, ...]) -> str:
    return " ".join(value)


@check("image_config", ParamSpec("name"), ParamSpec("cmd", required=False),
       ParamSpec("entrypoint", required=False), ParamSpec("workdir", required=False),
       ParamSpec("env", required=False),
       states=("image-missing", "wrong-cmd", "wrong-entrypoint", "wrong-workdir",
               "env-missing"),
       validate=absolute("workdir"))
def image_config(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The image's ``Config`` holds what the Dockerfile should have set.

    Parameters: ``name``; optional ``cmd`` and ``entrypoint`` (the words, space
    separated, as ``docker image inspect`` lists them), ``workdir`` and ``env``
    (``NAME=value``).
    """
    name = str(p["name"])
    view = ctx.sandbox.image(ctx.person, name)
    if view is None:
        return _missing(name)
    checks = (("cmd", view.cmd, "CMD", "wrong-cmd"),
              ("entrypoint", view.entrypoint, "ENTRYPOINT", "wrong-entrypoint"))
    for key, seen, keyword, state in checks:
        want = p.get(key)
        if want is not None and _words(seen) != " ".join(shlex.split(str(want))):
            return CheckResult(False, f"`{name}`'s {keyword} is `{_words(seen) or '(none)'}`, "
                                      f"not `{want}`: change the Dockerfile and build again.",
                               volunteer=True, state=state)
    if p.get("workdir") is not None and view.workdir != p["workdir"]:
        return CheckResult(False, f"`{name}`'s working directory is `{view.workdir or '/'}`, "
                                  f"not `{p['workdir']}` (`WORKDIR`).", volunteer=True,
                           state="wrong-workdir")
    if p.get("env") is not None and str(p["env"]) not in view.env:
        return CheckResult(False, f"`{name}` does not set `{p['env']}` (`ENV`).",
                           volunteer=True, state="env-missing")
    return CheckResult(True, f"`{name}`'s configuration is as asked.")


@check("image_size_below", ParamSpec("name"), ParamSpec("mb", kind=int),
       states=("image-missing", "too-big"))
def image_size_below(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The image is smaller than ``mb`` megabytes (10^6 bytes), as the engine sizes it.

    Parameters: ``name``, ``mb``.
    """
    name = str(p["name"])
    view = ctx.sandbox.image(ctx.person, name)
    if view is None:
        return _missing(name)
    limit = int(p["mb"]) * 1_000_000
    if view.size >= limit:
        return CheckResult(False, f"`{name}` is {view.size / 1e6:.2f} MB; it must stay below "
                                  f"{p['mb']} MB: leave the build's leftovers in an earlier "
                                  "stage.", volunteer=True, state="too-big")
    return CheckResult(True, f"`{name}` is {view.size / 1e6:.2f} MB.")


@check("image_prints", ParamSpec("name"), ParamSpec("text"), ParamSpec("args", required=False),
       states=("image-missing", "witness-failed", "wrong-output"))
def image_prints(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """Run by the tutor as a witness, the image prints ``text``.

    The witness is the tutor's own container (no network, fixed options).
    Parameters: ``name``, ``text``; optional ``args`` (words given after the image, which
    replace its ``CMD``).
    """
    name = str(p["name"])
    argv = shlex.split(str(p["args"])) if p.get("args") else None
    result = ctx.sandbox.image_run(ctx.person, name, argv)
    if result is None:
        return _missing(name)
    code, output = result
    if str(p["text"]) in output:
        return CheckResult(True, f"Run by the tutor, `{name}` printed `{p['text']}`.")
    if code != 0:
        return CheckResult(False, f"Run by the tutor, `{name}` failed (exit status {code}): "
                                  f"{output.strip()[-200:] or 'no output'}.", volunteer=True,
                           state="witness-failed")
    return CheckResult(False, f"Run by the tutor, `{name}` printed "
                              f"`{output.strip()[-200:] or '(nothing)'}`, not "
                              f"`{p['text']}`.", state="wrong-output")


@check("image_path", ParamSpec("name"), ParamSpec("path"),
       ParamSpec("present", required=False, kind=bool),
       states=("image-missing", "path-missing", "path-present"), validate=absolute("path"))
def image_path(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """``path`` is in the image's files (``present = false``: it is not).

    Parameters: ``name``, ``path``; optional ``present`` (default ``true``).
    """
    name, path = str(p["name"]), str(p["path"])
    found = ctx.sandbox.image_path(ctx.person, name, path)
    if found is None:
        return _missing(name)
    if found == p.get("present", True):
        return CheckResult(True, f"`{path}` is {'in' if found else 'not in'} `{name}`.")
    if found:
        return CheckResult(False, f"`{path}` is still in `{name}`: leave it out of the build "
                                  "context (`.dockerignore`) or of the final stage.",
                           state="path-present")
    return CheckResult(False, f"`{path}` is not in `{name}`.", state="path-missing")


@check("build_cached", states=("no-cached-build",))
def build_cached(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A successful ``docker build`` reused at least one step from the build cache.

    Parameters: none.
    """
    hits = [b for b in _builds(ctx) if int(b.get("cached") or 0) > 0]
    if hits:
        return CheckResult(True, f"Your last cached build reused {hits[-1]['cached']} "
                                 "step(s) from the cache.")
    return CheckResult(False, "Build the same Dockerfile again (change only a file it "
                              "copies): the steps before the change come from the cache.",
                       state="no-cached-build")

