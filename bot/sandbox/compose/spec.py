"""Read and check a learner's ``compose.yaml``: a bounded subset of the Compose Specification.

No engine and no ``docker`` here (``tests/import_graph.py``): a file is refused before
anything reaches the engine. The YAML is read with PyYAML's safe loader, after its events
are counted (document size, nesting depth, aliases: no "billion laughs"), and the loaded
document is walked within a node budget. Each service becomes the ``docker run``
:class:`~bot.sandbox.policy.parser.Command` the learner could have typed, which the engine
then vets and runs exactly as a typed one. Any key the sandbox cannot honour is refused
with a one-line reason that names it (:mod:`bot.sandbox.compose.keys`).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.errors import CommandRefused
from bot.printable import one_line
from bot.sandbox.compose import keys
from bot.sandbox.compose.reading import load
from bot.sandbox.policy.parser import WORKSPACE, Command
from bot.sandbox.policy.verbs import MAX_SERVICES

MAX_NAMED = 8
"""The most networks, or volumes, one file may declare."""

FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
"""The files ``docker compose`` looks for in the workspace, in this order."""

DEFAULT_PROJECT = "app"
"""The project name when neither ``-p`` nor ``name:`` gives one: the workspace's own name."""

PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
"""Project names (Compose's rule, shortened so that every object name stays short)."""

SERVICE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,29}$")
"""Service, network and volume names of the file."""

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_NETWORK = "com.docker.compose.network"
LABEL_VOLUME = "com.docker.compose.volume"
LABEL_HASH = "com.docker.compose.config-hash"


def _refuse(message: str, key: str) -> CommandRefused:
    return CommandRefused(one_line(message, 400), option=f"compose:{key}")


@dataclass
class Service:
    """One service of the file, checked.

    Attributes:
        name: Its name in the file (``web``).
        image: The image it runs.
        run: The ``docker run`` command that creates its container.
        networks: Every project network it joins (the file's names), first one at creation.
        aliases: Extra names on each network (the service name is always one).
        depends_on: Services started before it.
    """

    name: str
    image: str
    run: Command
    networks: list[str] = field(default_factory=list)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Project:
    """A checked ``compose.yaml`` under its project name.

    Attributes:
        name: The project name (``app``).
        services: Services in start order (each after those it depends on).
        networks: The file's network names the services use (``default`` included when used).
        volumes: The file's declared volume names.
        document: The file as read, normalised (for ``docker compose config``).
    """

    name: str
    services: list[Service]
    networks: list[str]
    volumes: list[str]
    document: dict[str, Any]

    def container(self, service: str) -> str:
        """The container's name for ``service``: ``<project>-<service>-1``."""
        return f"{self.name}-{service}-1"

    def network(self, name: str) -> str:
        """The engine-side (learner) name of the file's network: ``<project>_<name>``."""
        return f"{self.name}_{name}"

    def volume(self, name: str) -> str:
        """The learner's name of the file's volume: ``<project>_<name>``."""
        return f"{self.name}_{name}"

    def service(self, name: str) -> Service | None:
        """The service called ``name``, or ``None``."""
        return next((s for s in self.services if s.name == name), None)

    def labels(self, service: str) -> dict[str, str]:
        """The labels real Compose puts on a service's container (with its config's hash)."""
        found = self.service(service)
        shape = "" if found is None else found.run.text + repr(found.aliases)
        digest = hashlib.sha256(shape.encode()).hexdigest()
        return {LABEL_PROJECT: self.name, LABEL_SERVICE: service, LABEL_NUMBER: "1",
                LABEL_ONEOFF: "False", LABEL_HASH: digest}

    def config(self) -> str:
        """``docker compose config``: the file as the sandbox will run it, in YAML."""
        return yaml.safe_dump(self.document, sort_keys=False, default_flow_style=False)


# -- the Compose subset --------------------------------------------------------------------

def _mapping(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _refuse(f"`{path}` must be a mapping.", path)
    return value


def _strings(value: Any, path: str) -> list[str]:
    """A list of strings, or one string (a list of one)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise _refuse(f"`{path}` must be a list of strings.", path)
    return [str(v) for v in value]


def _words(value: Any, path: str) -> list[str]:
    """``command``/``entrypoint``: a string (split as a shell would) or a list of words."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise _refuse(f"`{path}`: {exc}.", path) from None
    return _strings(value, path)


def _name(value: str, path: str, what: str) -> str:
    if not SERVICE_RE.match(value):
        raise _refuse(f"`{path}`: {what} name {one_line(value)!r} must be letters, digits, "
                      "`_`, `.` and `-` (at most 30).", path)
    return value


def _check_keys(mapping: dict[str, Any], allowed: tuple[str, ...], path: str,
                reasons: dict[str, str]) -> None:
    for key in mapping:
        if key in allowed or key.startswith("x-"):
            continue
        where = f"{path}.{key}" if path else key
        reason = reasons.get(key)
        raise _refuse(keys.refused(where, reason) if reason else keys.unsupported(where), where)


def _environment(value: Any, path: str) -> list[str]:
    if isinstance(value, dict):
        items = []
        for key, raw in value.items():
            item = raw
            if item is None:
                raise _refuse(f"`{path}.{key}` has no value: the sandbox has no host "
                              "environment to take it from; write `KEY: value`.", path)
            if isinstance(item, bool):
                item = "true" if item else "false"
            if not isinstance(item, str | int | float):
                raise _refuse(f"`{path}.{key}` must be a string.", path)
            items.append(f"{key}={item}")
        return items
    items = _strings(value, path)
    for item in items:
        if "=" not in item:
            raise _refuse(f"`{path}`: {one_line(item)!r} has no value: the sandbox has no host "
                          "environment to take it from; write `KEY=value`.", path)
    return items


def _volume(value: Any, path: str, project: str, declared: list[str]) -> tuple[str, str]:
    """One service volume as a ``run`` option: (``volume`` or ``tmpfs``, its value)."""
    if isinstance(value, dict):
        _check_keys(value, ("type", "source", "target", "read_only"), path, {})
        kind, source, target = value.get("type", "volume"), value.get("source", ""), value.get("target")
        if not isinstance(target, str) or not isinstance(source, str):
            raise _refuse(f"`{path}` needs a `target` path.", path)
        if kind == "tmpfs":
            return "tmpfs", target
        if kind not in ("volume", "bind"):
            raise _refuse(f"`{path}.type: {one_line(str(kind))}` is refused: use volume, bind "
                          "or tmpfs.", path)
        short = f"{source}:{target}" if source else target
        if value.get("read_only") is True:
            short += ":ro"
        value = short
    if not isinstance(value, str):
        raise _refuse(f"`{path}` must be a string like `data:/data`.", path)
    source, colon, rest = value.partition(":")
    if not colon:
        return "volume", value  # an anonymous volume
    if source == "." or source.startswith("./"):
        return "volume", WORKSPACE + source[1:] + ":" + rest
    if source.startswith(("/", "~", "$")) or "/" in source:
        raise _refuse(f"`{path}`: bind mounts may only use the workspace (`.`), not "
                      f"{one_line(source)!r}.", path)
    if source not in declared:
        raise _refuse(f"`{path}`: service refers to undefined volume {one_line(source)}: "
                      "declare it under the top-level `volumes:`.", path)
    return "volume", f"{project}_{source}:{rest}"


def _networks(value: Any, path: str, declared: list[str]) -> dict[str, list[str]]:
    """A service's networks: each name to its extra aliases."""
    if isinstance(value, list):
        value = {str(n): None for n in _strings(value, path)}
    joined: dict[str, list[str]] = {}
    for name, raw in _mapping(value, path).items():
        where = f"{path}.{name}"
        if name not in declared and name != "default":
            raise _refuse(f"`{where}`: service refers to undefined network {one_line(name)}: "
                          "declare it under the top-level `networks:`.", where)
        options = _mapping(raw, where)
        _check_keys(options, ("aliases",), where, {
            "ipv4_address": "addresses are the engine's to give",
            "ipv6_address": "addresses are the engine's to give"})
        joined[name] = _strings(options.get("aliases", []), f"{where}.aliases")
    return joined


def _depends_on(value: Any, path: str) -> list[str]:
    if isinstance(value, list):
        return _strings(value, path)
    names = []
    for name, options in _mapping(value, path).items():
        condition = _mapping(options, f"{path}.{name}").get("condition", "service_started")
        if condition != "service_started":
            raise _refuse(f"`{path}.{name}.condition: {one_line(str(condition))}` is refused: "
                          "only `service_started` (health checks are not run here).", path)
        names.append(name)
    return names


def _service(name: str, raw: Any, project: str, networks: list[str],
             volumes: list[str]) -> Service:
    path = f"services.{name}"
    spec = _mapping(raw, path)
    _check_keys(spec, keys.SERVICE_KEYS, path, keys.REFUSED_SERVICE_KEYS)
    image = spec.get("image")
    if not isinstance(image, str) or not image:
        raise _refuse(f"`{path}` has no `image:`: every service here runs one of the "
                      "lesson's images (there is no `build`).", f"{path}.image")
    restart = spec.get("restart", "no")
    if restart not in ("no", False):
        raise _refuse(f"`{path}.restart: {one_line(str(restart))}` is refused: containers "
                      "that restart themselves outlive the lesson; only `\"no\"`.",
                      f"{path}.restart")
    opts: dict[str, object] = {"detach": True, "name": f"{project}-{name}-1"}
    if "environment" in spec:
        opts["env"] = _environment(spec["environment"], f"{path}.environment")
    mounts = [_volume(v, f"{path}.volumes[{i}]", project, volumes)
              for i, v in enumerate(_strings_or_items(spec.get("volumes", []), f"{path}.volumes"))]
    mounts += [("tmpfs", t) for t in _strings(spec.get("tmpfs", []), f"{path}.tmpfs")]
    for kind in ("volume", "tmpfs"):
        if any(k == kind for k, _ in mounts):
            opts[kind] = [v for k, v in mounts if k == kind]
    for key, option in (("working_dir", "workdir"), ("user", "user"), ("hostname", "hostname")):
        if key in spec:
            if not isinstance(spec[key], str | int):
                raise _refuse(f"`{path}.{key}` must be a string.", f"{path}.{key}")
            opts[option] = str(spec[key])
    if "entrypoint" in spec:
        opts["entrypoint"] = shlex.join(_words(spec["entrypoint"], f"{path}.entrypoint"))
    joined = _networks(spec.get("networks", ["default"]), f"{path}.networks", networks)
    if not joined:
        joined = {"default": []}
    first = next(iter(joined))
    opts["network"] = f"{project}_{first}"
    opts["network_alias"] = list(dict.fromkeys([name, *joined[first]]))
    command = _words(spec["command"], f"{path}.command") if "command" in spec else []
    run = Command(verb="run", opts=opts, args=[image, *command])
    run.text = _run_text(run)
    return Service(name, image, run, list(joined), joined,
                   _depends_on(spec.get("depends_on", []), f"{path}.depends_on"))


def _strings_or_items(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _refuse(f"`{path}` must be a list.", path)
    return value


def _run_text(command: Command) -> str:
    """The ``docker run`` line a learner would type for this service (for the history)."""
    words = ["docker", "run"]
    for key, value in command.opts.items():
        flag = {"detach": "-d", "name": "--name", "env": "-e", "volume": "-v", "tmpfs": "--tmpfs",
                "workdir": "-w", "user": "-u", "hostname": "-h", "entrypoint": "--entrypoint",
                "network": "--network", "network_alias": "--network-alias"}[key]
        for item in value if isinstance(value, list) else [value]:
            words += [flag] if item is True else [flag, str(item)]
    return shlex.join([*words, *command.args]).replace(WORKSPACE, "$(pwd)")


def _order(services: dict[str, Service]) -> list[Service]:
    """Services so that each comes after those it depends on."""
    ordered: list[Service] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*chain[chain.index(name):], name])
            raise _refuse(f"`depends_on` goes round in a circle: {cycle}.", "depends_on")
        state[name] = 1
        for needed in services[name].depends_on:
            if needed not in services:
                raise _refuse(f"`services.{name}.depends_on`: service {one_line(needed)!r} is "
                              "not in the file.", "depends_on")
            visit(needed, [*chain, name])
        state[name] = 2
        ordered.append(services[name])

    for name in services:
        visit(name, [])
    return ordered


def check_project_name(value: str, source: str) -> str:
    """A project name from ``-p`` or ``name:``, checked.

    Raises:
        CommandRefused: It is not lower-case letters, digits, ``_`` and ``-`` (at most 30).
    """
    if not PROJECT_RE.match(value):
        raise _refuse(f"`{source} {one_line(value)}`: a project name is lower-case letters, "
                      "digits, `_` and `-`, starting with a letter or digit (at most 30).",
                      "project")
    return value


def project(text: str, name: str | None = None) -> Project:
    """Read ``compose.yaml``'s text into a checked :class:`Project`.

    Args:
        text: The file's text.
        name: The project name given with ``-p`` (else the file's ``name:``, else ``app``).

    Raises:
        CommandRefused: With a one-line reason naming what the sandbox cannot honour.
    """
    document = _mapping(load(text), "(top level)")
    _check_keys(document, keys.TOP_KEYS, "", keys.REFUSED_TOP_KEYS)
    if name is None and isinstance(document.get("name"), str):
        name = check_project_name(document["name"], "name:")
    name = check_project_name(name or DEFAULT_PROJECT, "-p")
    networks = _declared(document, "networks", keys.NETWORK_KEYS)
    volumes = _declared(document, "volumes", keys.VOLUME_KEYS)
    raw_services = _mapping(document.get("services"), "services")
    if not raw_services:
        raise _refuse("no service selected: the file needs a `services:` mapping with at "
                      "least one service.", "services")
    if len(raw_services) > MAX_SERVICES:
        raise _refuse(f"The file declares {len(raw_services)} services; the sandbox runs at "
                      f"most {MAX_SERVICES}.", "services")
    services = {_name(s, f"services.{s}", "service"): _service(s, raw, name, networks, volumes)
                for s, raw in raw_services.items()}
    used = list(dict.fromkeys(n for s in services.values() for n in s.networks))
    normalised = {
        "name": name,
        "services": {s: {k: v for k, v in _mapping(raw, s).items() if not k.startswith("x-")}
                     for s, raw in raw_services.items()},
        "networks": {n: {"name": f"{name}_{n}", "internal": True} for n in used},
        "volumes": {v: {"name": f"{name}_{v}"} for v in volumes},
    }
    if not volumes:
        del normalised["volumes"]
    return Project(name, _order(services), used, volumes, normalised)


def _declared(document: dict[str, Any], key: str, allowed: tuple[str, ...]) -> list[str]:
    """The names declared under a top-level ``networks:`` or ``volumes:``, their keys checked."""
    declared = _mapping(document.get(key), key)
    if len(declared) > MAX_NAMED:
        raise _refuse(f"The file declares {len(declared)} {key}; at most {MAX_NAMED}.", key)
    for item, raw in declared.items():
        where = f"{key}.{item}"
        _name(item, where, key[:-1])
        options = _mapping(raw, where)
        _check_keys(options, allowed, where, {
            "external": "the project's objects are its own", "name": "names are "
            "`<project>_<name>` here", "driver_opts": "the sandbox sets the driver's options",
            "ipam": "addresses are the engine's to give", "enable_ipv6": "IPv6 is off",
            "labels": "the sandbox labels objects itself"})
        if options.get("driver", "bridge") != "bridge":
            raise _refuse(f"`{where}.driver: {one_line(str(options['driver']))}` is refused: "
                          "networks here use the `bridge` driver.", where)
    return list(declared)


__all__ = ["DEFAULT_PROJECT", "FILES", "LABEL_HASH", "LABEL_NETWORK", "LABEL_NUMBER", "LABEL_ONEOFF",
           "LABEL_PROJECT", "LABEL_SERVICE", "LABEL_VOLUME", "Project", "Service",
           "check_project_name", "project"]
