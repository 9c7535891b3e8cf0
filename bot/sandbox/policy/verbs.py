"""The allowed verbs as data: each one's options, aliases, arguments and usage line.

:mod:`bot.sandbox.policy.parser` reads a learner's line against these tables, and
:data:`bot.sandbox.engine.sandbox.VERBS` gives each verb of :data:`VERB_OPTIONS` its handler.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_NAMES = 8
"""The most containers or volumes one ``rm``, ``stop``, ``start``, ``restart``,
``inspect``, ``kill``, ``volume rm`` or ``volume inspect`` may name: each name costs engine
requests (and ``stop -t 60`` a minute), so one line's cost stays bounded."""


@dataclass(frozen=True)
class Opt:
    """One option a verb accepts.

    Attributes:
        names: Every spelling, e.g. ``("-d", "--detach")``.
        key: Where its value goes in :attr:`Command.opts`.
        value: Whether it takes a value.
        repeat: Whether it may be given several times (values are collected in a list).
    """

    names: tuple[str, ...]
    key: str
    value: bool = False
    repeat: bool = False


def _o(*names: str, key: str, value: bool = False, repeat: bool = False) -> Opt:
    return Opt(names, key, value, repeat)


_TTY = (_o("-i", "--interactive", key="interactive"), _o("-t", "--tty", key="tty"))
_ENV = _o("-e", "--env", key="env", value=True, repeat=True)
_COMPOSE_GLOBAL = (_o("-p", "--project-name", key="project", value=True),
                   _o("-f", "--file", key="file", value=True))
"""Options of every ``docker compose`` verb (given before or after the verb)."""

COMPOSE_VERBS = ("up", "down", "ps", "logs", "config", "exec", "restart", "stop", "start",
                 "build")
"""The ``docker compose`` subcommands the sandbox knows (``compose build`` refuses itself)."""

MAX_SERVICES = 8
"""The most services one ``compose.yaml`` may declare (each costs a container)."""

VERB_OPTIONS: dict[str, tuple[Opt, ...]] = {
    "run": (
        _o("-d", "--detach", key="detach"),
        _o("--name", key="name", value=True),
        _o("-v", "--volume", key="volume", value=True, repeat=True),
        _o("--mount", key="mount", value=True, repeat=True),
        _o("--tmpfs", key="tmpfs", value=True, repeat=True),
        _ENV,
        _o("--rm", key="rm"),
        *_TTY,
        _o("-w", "--workdir", key="workdir", value=True),
        _o("--entrypoint", key="entrypoint", value=True),
        _o("-h", "--hostname", key="hostname", value=True),
        _o("--network", "--net", key="network", value=True),
        _o("--network-alias", "--net-alias", key="network_alias", value=True, repeat=True),
        _o("-u", "--user", key="user", value=True),
        _o("--restart", key="restart", value=True),
    ),
    "exec": (
        _o("-d", "--detach", key="detach"),
        *_TTY,
        _ENV,
        _o("-w", "--workdir", key="workdir", value=True),
        _o("-u", "--user", key="user", value=True),
    ),
    "ps": (
        _o("-a", "--all", key="all"),
        _o("-q", "--quiet", key="quiet"),
        _o("--no-trunc", key="no_trunc"),
        _o("--format", key="format", value=True),
        _o("-f", "--filter", key="filter", value=True, repeat=True),
        _o("-n", "--last", key="last", value=True),
        _o("-l", "--latest", key="latest"),
    ),
    "kill": (_o("-s", "--signal", key="signal", value=True),),
    "rename": (),
    "diff": (),
    "top": (),
    "container prune": (_o("-f", "--force", key="force"),),
    "rm": (_o("-f", "--force", key="force"), _o("-v", "--volumes", key="volumes")),
    "stop": (_o("-t", "--time", key="time", value=True),),
    "restart": (_o("-t", "--time", key="time", value=True),),
    "start": (_o("-a", "--attach", key="attach"), _o("-i", "--interactive", key="interactive")),
    "logs": (
        _o("-n", "--tail", key="tail", value=True),
        _o("-t", "--timestamps", key="timestamps"),
    ),
    "inspect": (_o("-f", "--format", key="format", value=True),),
    "images": (_o("-q", "--quiet", key="quiet"), _o("-a", "--all", key="all")),
    "build": (
        _o("-t", "--tag", key="tag", value=True, repeat=True),
        _o("-f", "--file", key="file", value=True),
        _o("--build-arg", key="build_arg", value=True, repeat=True),
        _o("--target", key="target", value=True),
        _o("--no-cache", key="no_cache"),
        _o("-q", "--quiet", key="quiet"),
    ),
    "tag": (),
    "image rm": (_o("-f", "--force", key="force"), _o("--no-prune", key="no_prune")),
    "image prune": (_o("-f", "--force", key="force"), _o("-a", "--all", key="all")),
    "history": (
        _o("-q", "--quiet", key="quiet"),
        _o("--no-trunc", key="no_trunc"),
        _o("-H", "--human", key="human", value=True),
    ),
    "image inspect": (_o("-f", "--format", key="format", value=True),),
    "volume create": (),
    "volume ls": (_o("-q", "--quiet", key="quiet"),),
    "volume rm": (_o("-f", "--force", key="force"),),
    "volume inspect": (_o("-f", "--format", key="format", value=True),),
    "volume prune": (_o("-f", "--force", key="force"), _o("-a", "--all", key="all")),
    "network create": (
        _o("-d", "--driver", key="driver", value=True),
        _o("--internal", key="internal"),
        _o("--attachable", key="attachable"),
    ),
    "network ls": (
        _o("-q", "--quiet", key="quiet"),
        _o("--no-trunc", key="no_trunc"),
        _o("--format", key="format", value=True),
    ),
    "network inspect": (_o("-f", "--format", key="format", value=True),),
    "network rm": (_o("-f", "--force", key="force"),),
    "network connect": (_o("--alias", key="alias", value=True, repeat=True),),
    "network disconnect": (_o("-f", "--force", key="force"),),
    "network prune": (_o("-f", "--force", key="force"),),
    **{f"compose {sub}": (*_COMPOSE_GLOBAL, *opts) for sub, opts in {
        "up": (_o("-d", "--detach", key="detach"),),
        "down": (_o("-v", "--volumes", key="volumes"),),
        "ps": (_o("-a", "--all", key="all"), _o("-q", "--quiet", key="quiet")),
        "logs": (_o("-n", "--tail", key="tail", value=True),),
        "config": (_o("-q", "--quiet", key="quiet"),),
        "exec": (_o("-T", "--no-TTY", key="no_tty"), _ENV,
                 _o("-w", "--workdir", key="workdir", value=True),
                 _o("-u", "--user", key="user", value=True)),
        "restart": (_o("-t", "--timeout", key="time", value=True),),
        "stop": (_o("-t", "--timeout", key="time", value=True),),
        "start": (),
        "build": (),
    }.items()},
}
"""The options each verb accepts (``volume create`` and friends are verbs of their own)."""

ALIASES: dict[tuple[str, str], str] = {
    ("container", "ls"): "ps",
    ("container", "list"): "ps",
    ("container", "ps"): "ps",
    ("container", "run"): "run",
    ("container", "exec"): "exec",
    ("container", "rm"): "rm",
    ("container", "remove"): "rm",
    ("container", "stop"): "stop",
    ("container", "start"): "start",
    ("container", "restart"): "restart",
    ("container", "logs"): "logs",
    ("container", "inspect"): "inspect",
    ("container", "kill"): "kill",
    ("container", "rename"): "rename",
    ("container", "diff"): "diff",
    ("container", "top"): "top",
    ("container", "prune"): "container prune",
    ("image", "ls"): "images",
    ("image", "list"): "images",
    ("image", "build"): "build",
    ("image", "tag"): "tag",
    ("image", "remove"): "image rm",
    ("image", "history"): "history",
    ("volume", "list"): "volume ls",
    ("volume", "remove"): "volume rm",
    ("network", "list"): "network ls",
    ("network", "remove"): "network rm",
}
"""Other spellings of allowed verbs (``docker container ls`` is ``docker ps``)."""

TOP_ALIASES: dict[str, str] = {"rmi": "image rm"}
"""One-word spellings of two-word verbs (``docker rmi`` is ``docker image rm``)."""

POSITIONALS: dict[str, tuple[int, int | None]] = {
    "run": (1, None),
    "exec": (2, None),
    "ps": (0, 0),
    "rm": (1, MAX_NAMES),
    "stop": (1, MAX_NAMES),
    "start": (1, MAX_NAMES),
    "restart": (1, MAX_NAMES),
    "logs": (1, 1),
    "inspect": (1, MAX_NAMES),
    "images": (0, 1),
    "kill": (1, MAX_NAMES),
    "rename": (2, 2),
    "diff": (1, 1),
    "top": (1, 1),
    "container prune": (0, 0),
    "build": (1, 1),
    "tag": (2, 2),
    "image rm": (1, MAX_NAMES),
    "image prune": (0, 0),
    "history": (1, 1),
    "image inspect": (1, MAX_NAMES),
    "volume create": (0, 1),
    "volume ls": (0, 0),
    "volume rm": (1, MAX_NAMES),
    "volume inspect": (1, MAX_NAMES),
    "volume prune": (0, 0),
    "network create": (1, 1),
    "network ls": (0, 0),
    "network inspect": (1, MAX_NAMES),
    "network rm": (1, MAX_NAMES),
    "network connect": (2, 2),
    "network disconnect": (2, 2),
    "network prune": (0, 0),
    "compose up": (0, MAX_SERVICES),
    "compose down": (0, 0),
    "compose ps": (0, MAX_SERVICES),
    "compose logs": (0, MAX_SERVICES),
    "compose config": (0, 0),
    "compose exec": (2, None),
    "compose restart": (0, MAX_SERVICES),
    "compose stop": (0, MAX_SERVICES),
    "compose start": (0, MAX_SERVICES),
    "compose build": (0, MAX_SERVICES),
}
"""How many positional arguments a verb takes: (minimum, maximum or ``None`` for the rest)."""

STOP_AT = {"run": 1, "exec": 2, "compose exec": 2}
"""Verbs whose n-th positional starts the container's own command line: options after
it belong to that command, not to docker."""

USAGE: dict[str, str] = {
    "run": "docker run [-d] [--name NAME] [-v VOLUME:/path] [--tmpfs /path] [-e K=V] [--rm] "
    "[--restart POLICY] [--network NET [--network-alias ALIAS]] IMAGE [COMMAND...]",
    "exec": "docker exec [-it] [-e K=V] [-w DIR] CONTAINER COMMAND [ARG...]",
    "ps": "docker ps [-a] [-q] [--format TEMPLATE] [-f status=...|name=...] [-n N] [-l]",
    "kill": "docker kill [-s SIGNAL] CONTAINER...",
    "rename": "docker rename CONTAINER NEW_NAME",
    "diff": "docker diff CONTAINER",
    "top": "docker top CONTAINER",
    "container prune": "docker container prune -f",
    "rm": "docker rm [-f] CONTAINER...",
    "stop": "docker stop CONTAINER...",
    "start": "docker start CONTAINER...",
    "restart": "docker restart CONTAINER...",
    "logs": "docker logs [--tail N] CONTAINER",
    "inspect": "docker inspect [-f '{{.State.Status}}'] NAME...",
    "images": "docker images [-q] [REPOSITORY]",
    "build": "docker build [-t NAME[:TAG]] [-f Dockerfile] [--build-arg K=V] [--target STAGE] "
    "[--no-cache] [-q] .",
    "tag": "docker tag IMAGE[:TAG] NAME[:TAG]",
    "image rm": "docker image rm [-f] IMAGE...",
    "image prune": "docker image prune -f [-a]",
    "history": "docker history [-q] [--no-trunc] IMAGE",
    "image inspect": "docker image inspect [-f '{{.Config.Cmd}}'] IMAGE...",
    "volume create": "docker volume create [NAME]",
    "volume ls": "docker volume ls [-q]",
    "volume rm": "docker volume rm VOLUME...",
    "volume inspect": "docker volume inspect VOLUME...",
    "volume prune": "docker volume prune [-a]",
    "network create": "docker network create NAME",
    "network ls": "docker network ls [-q]",
    "network inspect": "docker network inspect [-f TEMPLATE] NETWORK...",
    "network rm": "docker network rm NETWORK...",
    "network connect": "docker network connect [--alias ALIAS] NETWORK CONTAINER",
    "network disconnect": "docker network disconnect [-f] NETWORK CONTAINER",
    "network prune": "docker network prune [-f]",
    "compose up": "docker compose [-p PROJECT] up [-d] [SERVICE...]",
    "compose down": "docker compose down [-v]",
    "compose ps": "docker compose ps [-a] [-q] [SERVICE...]",
    "compose logs": "docker compose logs [--tail N] [SERVICE...]",
    "compose config": "docker compose config [-q]",
    "compose exec": "docker compose exec [-T] [-e K=V] SERVICE COMMAND [ARG...]",
    "compose restart": "docker compose restart [SERVICE...]",
    "compose stop": "docker compose stop [SERVICE...]",
    "compose start": "docker compose start [SERVICE...]",
    "compose build": "docker compose build [SERVICE...]",
}
"""The usage line shown for each verb's ``--help`` and for wrong arguments."""
