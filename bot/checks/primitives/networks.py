"""Primitives about networks and Compose projects, read from the engine and from a witness.

The engine's state says who is on which network under which names; the *witness* (a
container of the tutor's own that joins the learner's network) says whether the service
really answers a client: ``witness_fetch`` asks a web server for a page,
``witness_redis`` asks a Redis for a key. Neither a typed command nor a lucky state
passes those.
"""

from __future__ import annotations

import re
from typing import Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.history import events
from bot.checks.library import check
from bot.checks.primitives.containers import missing, stopped
from bot.sandbox import NetworkView

COMPOSE_PROJECT = "com.docker.compose.project"
"""The label real Compose (and the sandbox's) puts on a project's objects."""

_DOWN_VOLUMES = re.compile(r"(^|\s)(-v|--volumes)(\s|$)")


def _network_missing(name: str) -> CheckResult:
    return CheckResult(False, f"There is no network called `{name}` (see `docker network ls`).",
                       state="network-missing")


def _view(ctx: CheckContext, name: str) -> NetworkView | CheckResult:
    view = ctx.sandbox.network(ctx.person, name)
    return _network_missing(name) if view is None else view


@check("network_exists", ParamSpec("name"), states=("network-missing",))
def network_exists(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A network called ``name`` of the learner's exists.

    Parameters: ``name``.
    """
    found = _view(ctx, str(p["name"]))
    if isinstance(found, CheckResult):
        return found
    return CheckResult(True, f"The network `{found.name}` exists.")


@check("on_network", ParamSpec("container"), ParamSpec("network"),
       ParamSpec("alias", required=False),
       states=("container-missing", "network-missing", "not-on-network", "alias-missing"))
def on_network(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The container is on the network now (answering there to ``alias``, if given).

    Parameters: ``container``, ``network``; optional ``alias`` (a name it must answer to
    on that network besides its own).
    """
    name, network = str(p["container"]), str(p["network"])
    if ctx.sandbox.container(ctx.person, name) is None:
        return missing(name)
    found = _view(ctx, network)
    if isinstance(found, CheckResult):
        return found
    names = found.members.get(name)
    if names is None:
        return CheckResult(
            False, f"`{name}` is not on `{network}`. Join it: `docker network connect "
                   f"{network} {name}` (or start it with `--network {network}`).",
            state="not-on-network")
    alias = p.get("alias")
    if alias is not None and alias not in names:
        return CheckResult(
            False, f"On `{network}`, `{name}` answers to {', '.join(f'`{n}`' for n in names)} "
                   f"but not `{alias}`. An alias is given when a container joins: "
                   f"`--network-alias {alias}` on `docker run`, or `--alias {alias}` on "
                   "`docker network connect`.", volunteer=True, state="alias-missing")
    return CheckResult(True, f"`{name}` is on `{network}`.",
                       evidence={f"network:{network}:{name}": list(names)})


@check("off_network", ParamSpec("container"), ParamSpec("network"),
       states=("container-missing", "on-network"))
def off_network(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The container exists and is *not* on the network now.

    Parameters: ``container``, ``network``.
    """
    name, network = str(p["container"]), str(p["network"])
    if ctx.sandbox.container(ctx.person, name) is None:
        return missing(name)
    found = ctx.sandbox.network(ctx.person, network)
    if found is not None and name in found.members:
        return CheckResult(False, f"`{name}` is still on `{network}`: `docker network "
                                  f"disconnect {network} {name}`.", state="on-network")
    return CheckResult(True, f"`{name}` is not on `{network}`.")


@check("witness_fetch", ParamSpec("network"), ParamSpec("host"), ParamSpec("port", kind=int),
       ParamSpec("text"), ParamSpec("path", required=False),
       states=("network-missing", "unreachable", "text-missing"))
def witness_fetch(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The tutor's own container on ``network`` fetches ``path`` from ``host:port`` and sees ``text``.

    Parameters: ``network``, ``host`` (the name the page is served under there), ``port``,
    ``text`` (it must appear in the answer); optional ``path`` (default ``/``).
    """
    network, host, port = str(p["network"]), str(p["host"]), int(p["port"])
    path = str(p.get("path", "/"))
    report = ctx.sandbox.witness_http(ctx.person, network, host, port, path)
    if report is None:
        return _network_missing(network)
    head, _, body = report.output.partition("\n\n")
    if report.exit_code != 0 or not report.output.startswith("HTTP/"):
        return CheckResult(
            False, f"I joined `{network}` myself and asked `http://{host}:{port}{path}`, but "
                   f"nothing answered there. Is a server listening on port {port} in the "
                   f"container that answers to `{host}` on `{network}`?", state="unreachable")
    if str(p["text"]) not in body:
        status = head.splitlines()[0] if head else ""
        return CheckResult(
            False, f"I joined `{network}` and fetched `http://{host}:{port}{path}`: it answered "
                   f"`{status}`, but the page does not say `{p['text']}`.",
            state="text-missing")
    return CheckResult(True, f"I joined `{network}` myself and fetched "
                             f"`http://{host}:{port}{path}`: it says `{p['text']}`.",
                       evidence={"witness": {"url": f"http://{host}:{port}{path}",
                                             "network": network}})


@check("witness_redis", ParamSpec("network"), ParamSpec("host"), ParamSpec("key"),
       ParamSpec("value", required=False),
       states=("network-missing", "unreachable", "key-missing", "wrong-value"))
def witness_redis(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """The tutor's own container on ``network`` reads ``key`` from the Redis at ``host``.

    Parameters: ``network``, ``host`` (the name the Redis answers to there), ``key``;
    optional ``value`` (what the key must hold).
    """
    network, host, key = str(p["network"]), str(p["host"]), str(p["key"])
    report = ctx.sandbox.witness_redis(ctx.person, network, host, key)
    if report is None:
        return _network_missing(network)
    if report.exit_code != 0:
        return CheckResult(
            False, f"I joined `{network}` myself and asked the Redis at `{host}`, but it did "
                   "not answer. Is it running, on that network, under that name?",
            state="unreachable")
    value = report.output.rstrip("\n")
    if not value:
        return CheckResult(False, f"I asked the Redis at `{host}` on `{network}` for `{key}`: "
                                  "it has no such key.", state="key-missing")
    wanted = p.get("value")
    if wanted is not None and value != str(wanted):
        return CheckResult(False, f"I asked the Redis at `{host}` for `{key}`: it holds "
                                  f"`{value}`, not `{wanted}`.", state="wrong-value")
    return CheckResult(True, f"I joined `{network}` myself and asked the Redis at `{host}`: "
                             f"`{key}` is `{value}`.",
                       evidence={"witness": {"redis": host, "key": key, "value": value}})


@check("compose_running", ParamSpec("project"), ParamSpec("services", kind=list),
       states=("project-missing", "service-missing", "service-stopped", "not-on-network"))
def compose_running(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """Compose runs the project: its default network and each service's container, on it.

    Parameters: ``project`` (``app``), ``services`` (their names in the file).
    """
    project = str(p["project"])
    network = ctx.sandbox.network(ctx.person, f"{project}_default")
    if network is None or network.labels.get(COMPOSE_PROJECT) != project:
        return CheckResult(False, f"Compose has not started the project `{project}`: its "
                                  f"network `{project}_default` is not there. Run "
                                  "`docker compose up -d`.", state="project-missing")
    for service in [str(s) for s in p["services"]]:
        name = f"{project}-{service}-1"
        view = ctx.sandbox.container(ctx.person, name)
        if view is None:
            return CheckResult(False, f"There is no container `{name}`: is `{service}` a "
                                      "service of your `compose.yaml`? Then `docker compose "
                                      "up -d` again.", state="service-missing")
        if not view.running:
            return CheckResult(stopped(view).passed, stopped(view).message,
                               state="service-stopped")
        if name not in network.members:
            return CheckResult(False, f"`{name}` is not on `{project}_default`: give "
                                      f"`{service}` no `networks:` (or list `default`).",
                               state="not-on-network")
    return CheckResult(True, f"Compose runs `{project}`: "
                             + ", ".join(f"`{project}-{s}-1`" for s in p["services"]) + ".")


@check("compose_survived", ParamSpec("project"), ParamSpec("key"),
       states=("no-write", "no-down", "down-volumes", "no-up"))
def compose_survived(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """``key`` was written through Compose, then ``compose down`` (no ``-v``), then ``up``.

    Parameters: ``project`` (the project's name), ``key``.
    Pair it with ``witness_redis`` to prove the value is there now.
    """
    key = str(p["key"])
    history = events(ctx)
    writes = [e for e in history if e.ok and e.verb in ("compose exec", "exec")
              and key in e.text and " set " in f" {e.text.lower()} "]
    if not writes:
        return CheckResult(False, f"First store `{key}` in the project's Redis: `docker compose "
                                  f"exec cache redis-cli set {key} ...`.", state="no-write")
    after = [e for e in history if e.index > writes[-1].index and e.ok]
    downs = [e for e in after if e.verb == "compose down"]
    if not downs:
        return CheckResult(False, "Now take the whole project down: `docker compose down`.",
                           state="no-down")
    if any(_DOWN_VOLUMES.search(e.text) for e in downs):
        return CheckResult(False, "`docker compose down -v` removed the project's volumes, and "
                                  f"`{key}` with them. Store it again, then `docker compose "
                                  "down` without `-v`.", volunteer=True, state="down-volumes")
    if not any(e.verb == "compose up" and e.index > downs[-1].index for e in after):
        return CheckResult(False, "The project is down. Bring it back: `docker compose up -d`.",
                           state="no-up")
    return CheckResult(True, f"`{key}` was stored, the project went down and came back up.")


@check("network_absent", ParamSpec("name"), states=("network-present",))
def network_absent(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """No network of the learner's is called ``name``.

    Parameters: ``name``.
    """
    name = str(p["name"])
    found = ctx.sandbox.network(ctx.person, name)
    if found is None:
        return CheckResult(True, f"The network `{name}` is gone.")
    users = ", ".join(f"`{m}`" for m in found.members)
    extra = f" (still used by {users}: remove them first)" if users else ""
    return CheckResult(False, f"The network `{name}` still exists{extra}: "
                              f"`docker network rm {name}`.", state="network-present")
