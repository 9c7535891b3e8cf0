"""Primitives about a container's life, read from the engine: exit codes, environment, restarts.

The engine keeps what these need on the container itself (``State.ExitCode``,
``Config.Env``, ``RestartCount`` and ``HostConfig.RestartPolicy``, in
:class:`~bot.sandbox.views.ContainerView`), so each check is one container lookup. The
restart count only grows when the engine restarts a container by its policy; a
``docker start`` or ``docker restart`` by hand sets it back to 0, so a count above 0 is
the engine's own word that the container came back by itself.
"""

from __future__ import annotations

from typing import Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.history import Event, events, on_current_step
from bot.checks.library import ParamValidator, check, one_of
from bot.checks.primitives.containers import missing, stopped
from bot.sandbox import ContainerView

POLICIES = ("on-failure", "always", "unless-stopped")
"""The restart policies that bring a container back (``no`` never does)."""

SIGNALS = {130: "SIGINT", 137: "SIGKILL", 143: "SIGTERM"}
"""Exit statuses a shell reports for a process ended by a signal (128 + its number)."""


def exit_meaning(code: int) -> str:
    """A few words on what an exit status says (``143``: killed by SIGTERM)."""
    if code == 0:
        return "success"
    if code in SIGNALS:
        return f"128 + {code - 128}: ended by {SIGNALS[code]}"
    if code > 128:
        return f"128 + {code - 128}: ended by signal {code - 128}"
    return "a failure the program reported itself"


def _non_negative(name: str) -> ParamValidator:
    def validate(params: dict[str, Any]) -> list[str]:
        value = params.get(name)
        if isinstance(value, int) and not 0 <= value <= 255:
            return [f"{name!r} must be an exit status from 0 to 255 (got {value})"]
        return []

    return validate


def _made_here(ctx: CheckContext) -> list[str]:
    """Ids of the containers the learner created with ``docker run`` on this step."""
    return [e.container_id for e in on_current_step(ctx, events(ctx))
            if e.verb == "run" and e.container_id]


@check(
    "container_exited",
    ParamSpec("name", required=False),
    ParamSpec("exit_code", required=False, kind=int),
    states=("container-missing", "container-running", "wrong-exit-code"),
    validate=_non_negative("exit_code"),
)
def container_exited(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A container has stopped (exited), with that exit status.

    Parameters: optional ``name`` (without it: any container the learner created on this
    step) and ``exit_code`` (the status its main process ended with, as
    ``docker inspect -f '{{.State.ExitCode}}'`` shows it).
    """
    want = p.get("exit_code")
    name = p.get("name")
    if name is not None:
        view = ctx.sandbox.container(ctx.person, str(name))
        if view is None:
            return missing(str(name))
        candidates = [view]
    else:
        made = _made_here(ctx)
        candidates = [v for v in ctx.sandbox.containers(ctx.person) if v.id in made]
        if not candidates:
            return CheckResult(False, "Run a container for this step first.",
                               state="container-missing")
    done = [v for v in candidates if not v.running and v.status in ("exited", "dead")]
    right = [v for v in done if want is None or v.exit_code == want]
    if right:
        view = right[-1]
        return CheckResult(True, f"`{view.name}` exited with status {view.exit_code} "
                                 f"({exit_meaning(view.exit_code)}).",
                           evidence={f"exit:{view.name}": view.exit_code})
    if done:
        view = done[-1]
        return CheckResult(
            False,
            f"`{view.name}` exited with status {view.exit_code} "
            f"({exit_meaning(view.exit_code)}), not {want}.",
            volunteer=name is not None, state="wrong-exit-code")
    view = candidates[-1]
    return CheckResult(False, f"`{view.name}` is still {view.status}: it has no exit status "
                              "until its main process ends.", state="container-running")


@check(
    "container_env",
    ParamSpec("container"),
    ParamSpec("variable"),
    ParamSpec("value", required=False),
    states=("container-missing", "env-missing", "env-wrong-value"),
)
def container_env(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The container was created with an environment variable (``-e NAME=value``).

    Parameters: ``container``, ``variable`` (its name); optional ``value``. Read from the
    engine's record of the container (``Config.Env``), which is fixed when it is created.
    """
    name, variable = str(p["container"]), str(p["variable"])
    view = ctx.sandbox.container(ctx.person, name)
    if view is None:
        return missing(name)
    found = {k: v for k, _, v in (item.partition("=") for item in view.env)}
    wanted = p.get("value")
    example = f"-e {variable}={wanted if wanted is not None else 'VALUE'}"
    if variable not in found:
        return CheckResult(
            False,
            f"`{name}` has no `{variable}` in its environment. The environment is fixed when "
            f"a container is created: remove it (`docker rm -f {name}`) and run it again "
            f"with `{example}`.",
            volunteer=bool(on_current_step(ctx, events(ctx))), state="env-missing")
    if wanted is not None and found[variable] != str(wanted):
        return CheckResult(
            False,
            f"`{name}` has `{variable}={found[variable]}`, not `{variable}={wanted}`. Remove it "
            f"and run it again with `{example}`.",
            volunteer=True, state="env-wrong-value")
    return CheckResult(True, f"`{name}` was created with `{variable}={found[variable]}` in "
                             "its environment.",
                       evidence={f"env:{name}:{variable}": found[variable]})


def _last_hand(history: list[Event], view: ContainerView) -> Event | None:
    """The learner's ``stop`` or ``kill`` of the container, unless they started it since."""
    for event in reversed(history):
        if view.id in event.ids("started") | event.ids("restarted"):
            return None
        if event.verb in ("stop", "kill") and view.id in event.ids("stopped") | event.ids("killed"):
            return event
    return None


def _not_back(ctx: CheckContext, view: ContainerView, policy: str) -> CheckResult:
    """Why a container with a restart policy is not running now."""
    if view.status == "restarting":
        return CheckResult(
            False,
            f"`{view.name}` is restarting right now (restart {view.restart_count}). If it stays "
            "that way, its command ends by itself each time: give it one that keeps running, "
            "such as `sleep 3600`.", state="restarting")
    hand = _last_hand(events(ctx), view)
    if hand is not None and hand.ok:
        return CheckResult(
            False,
            f"`{view.name}` is {view.status} after your `{hand.text}`. The engine doesn't "
            "restart a container you stopped or killed yourself: a restart policy answers "
            "crashes from inside. Start it again (`docker start "
            f"{view.name}`) and crash it from inside instead.",
            volunteer=True, state="stopped-by-hand")
    if view.exit_code == 0 and policy == "on-failure":
        return CheckResult(
            False,
            f"`{view.name}` exited with status 0, and `on-failure` restarts only after a "
            "failure (a status other than 0). Its main process ended cleanly (Redis saves and "
            "exits 0 on SIGTERM). Use `always` or `unless-stopped`, or crash it so it fails.",
            volunteer=True, state="clean-exit")
    if view.restart_count:
        return CheckResult(
            False,
            f"`{view.name}` came back {view.restart_count} time(s), then stopped for good "
            f"(exit status {view.exit_code}): `on-failure:N` gives up after N restarts.",
            volunteer=True, state="gave-up")
    return stopped(view)


@check(
    "restarted_by_policy",
    ParamSpec("container"),
    ParamSpec("policy", required=False),
    ParamSpec("restarts", required=False, kind=int),
    ParamSpec("running", required=False, kind=bool),
    states=("container-missing", "container-stopped", "no-policy", "wrong-policy",
            "not-restarted", "restarting", "stopped-by-hand", "clean-exit", "gave-up"),
    validate=one_of("policy", POLICIES),
)
def restarted_by_policy(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The engine restarted the container by itself, by its restart policy.

    Parameters: ``container``; optional ``policy`` (``on-failure``, ``always`` or
    ``unless-stopped``; default: any of them), ``restarts`` (at least that many restarts
    by the engine, default 1) and ``running`` (default ``true``: it must be running now,
    back from its crash; ``false``: the restarts alone count, as for a container that
    gives up after ``on-failure:N``). The count is the engine's ``RestartCount``, which
    a ``docker start`` or ``docker restart`` by hand sets back to 0.
    """
    name = str(p["container"])
    view = ctx.sandbox.container(ctx.person, name)
    if view is None:
        return missing(name)
    wanted = p.get("policy")
    least = int(p.get("restarts", 1))
    policy = view.restart_policy
    if policy not in POLICIES:
        return CheckResult(
            False,
            f"`{name}` has no restart policy, so the engine leaves it stopped when it "
            "ends. A policy is fixed when the container is created: remove it "
            f"(`docker rm -f {name}`) and run it again with `--restart "
            f"{wanted or 'on-failure'}`.",
            volunteer=bool(on_current_step(ctx, events(ctx))), state="no-policy")
    if wanted is not None and policy != wanted:
        return CheckResult(
            False,
            f"`{name}` has the restart policy `{policy}`, not `{wanted}`. Remove it and run "
            f"it again with `--restart {wanted}`.", volunteer=True, state="wrong-policy")
    must_run = bool(p.get("running", True))
    if must_run and not view.running:
        return _not_back(ctx, view, policy)
    if view.restart_count < least:
        if view.restart_count == 0 and view.running:
            how = (f"Make it crash from inside, for example `docker exec {name} kill 1`: the "
                   "engine should bring it back by itself.")
        else:
            how = f"It has come back {view.restart_count} time(s) so far."
        return CheckResult(False, f"`{name}` (restart policy `{policy}`) has not been "
                                  f"restarted by the engine yet. {how}",
                           state="not-restarted")
    back = " and is running again" if view.running else f"; it is {view.status} now"
    return CheckResult(
        True,
        f"The engine restarted `{name}` by itself {view.restart_count} time(s) (restart "
        f"policy `{policy}`, its RestartCount){back}.",
        evidence={f"restarts:{name}": view.restart_count, f"policy:{name}": policy,
                  f"container:{name}": view.id})
