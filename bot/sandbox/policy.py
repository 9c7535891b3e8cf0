"""The sandbox policy: what a learner may ask the engine, and why not otherwise.

This module holds the rules as data. The parser consults it for every option it does
not know, and the engine consults it for images, mounts and names. Each rule is
documented in SECURITY.md next to the test that proves it.
"""

from __future__ import annotations

import re

from bot.errors import CommandRefused

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
"""Container and volume names a learner may use (docker's own rule, at most 63 chars)."""

VERBS_ALLOWED = (
    "run", "exec", "ps", "rm", "stop", "start", "restart", "logs", "inspect", "volume", "images",
)
"""Top-level verbs on the allow-list (``container X`` and ``image ls`` are aliases)."""

VOLUME_SUBCOMMANDS = ("create", "ls", "rm", "inspect", "prune")

NO_NETWORK = (
    "The sandbox has no network: containers run with --network none, so ports cannot be "
    "published. Use `docker exec NAME ...` to talk to a service inside its container."
)

_HOST_ACCESS = "it would give the container access to the host"

REFUSED_OPTIONS: dict[str, str] = {
    "--privileged": f"`--privileged` is refused: {_HOST_ACCESS}.",
    "--cap-add": f"`--cap-add` is refused: extra kernel capabilities could give {_HOST_ACCESS[8:]}.",
    "--device": f"`--device` is refused: {_HOST_ACCESS}'s devices.",
    "--device-cgroup-rule": f"`--device-cgroup-rule` is refused: {_HOST_ACCESS}'s devices.",
    "--security-opt": "`--security-opt` is refused: the sandbox's security profile is fixed.",
    "--pid": f"`--pid` is refused: sharing a process namespace could give {_HOST_ACCESS[8:]}.",
    "--ipc": "`--ipc` is refused: containers never share the host's or each other's IPC.",
    "--uts": "`--uts` is refused: containers never share the host's UTS namespace.",
    "--userns": "`--userns` is refused: the user namespace setting is fixed.",
    "--cgroupns": "`--cgroupns` is refused: the cgroup namespace setting is fixed.",
    "--cgroup-parent": "`--cgroup-parent` is refused: the sandbox places containers itself.",
    "--ulimit": "`--ulimit` is refused: the sandbox sets the limits.",
    "--volumes-from": "`--volumes-from` is refused: name the volume with `-v NAME:/path` instead.",
    "-p": f"`-p` is refused. {NO_NETWORK}",
    "--publish": f"`--publish` is refused. {NO_NETWORK}",
    "-P": f"`-P` is refused. {NO_NETWORK}",
    "--publish-all": f"`--publish-all` is refused. {NO_NETWORK}",
    "--network": f"`--network` accepts only `none` here. {NO_NETWORK}",
    "--net": f"`--net` accepts only `none` here. {NO_NETWORK}",
    "--add-host": f"`--add-host` is refused. {NO_NETWORK}",
    "--dns": f"`--dns` is refused. {NO_NETWORK}",
    "--link": f"`--link` is refused. {NO_NETWORK}",
    "--restart": "`--restart` is refused: containers that restart themselves outlive the lesson.",
    "--label": "`--label` is refused: the sandbox labels containers itself.",
    "-l": "`-l` is refused: the sandbox labels containers itself.",
    "--label-file": "`--label-file` is refused: the sandbox labels containers itself.",
    "--env-file": "`--env-file` is refused: it reads a file on the host. Use `-e NAME=value`.",
    "--cidfile": "`--cidfile` is refused: it writes a file on the host.",
    "--runtime": "`--runtime` is refused: the runtime is fixed.",
    "--isolation": "`--isolation` is refused: the isolation is fixed.",
    "--oom-kill-disable": "`--oom-kill-disable` is refused: the memory limit must hold.",
    "--memory-swap": "`--memory-swap` is refused: the sandbox sets memory limits.",
    "--pids-limit": "`--pids-limit` is refused: the sandbox sets the process limit.",
    "--cpus": "`--cpus` is refused: the sandbox sets the CPU limit.",
    "--sysctl": "`--sysctl` is refused: kernel settings are fixed.",
    "--group-add": "`--group-add` is refused: group membership is fixed.",
    "--init": "`--init` is not needed here: the sandbox handles signals for you.",
}

VERB_REASONS: dict[str, str] = {
    "build": "`docker build` is not part of this course's sandbox: images are provided.",
    "pull": "`docker pull` is not available: the sandbox has no network; the lesson's images "
    "are already there (see `docker images`).",
    "push": "`docker push` is not available: the sandbox has no network.",
    "login": "`docker login` is not available: the sandbox has no registry.",
    "logout": "`docker logout` is not available: the sandbox has no registry.",
    "system": "`docker system` is not available: it acts on the whole engine, not your sandbox.",
    "network": "`docker network` is not available: sandbox containers have no network.",
    "swarm": "`docker swarm` is not available in the sandbox.",
    "service": "`docker service` is not available in the sandbox.",
    "node": "`docker node` is not available in the sandbox.",
    "plugin": "`docker plugin` is not available: plugins run on the host.",
    "cp": "`docker cp` is not available: it copies to and from the host. Use a bind mount "
    "(`-v $(pwd):/app`) or `docker exec`.",
    "commit": "`docker commit` is not available: images are provided by the lesson.",
    "save": "`docker save` is not available: it writes image files on the host.",
    "load": "`docker load` is not available: images are provided by the lesson.",
    "export": "`docker export` is not available: it writes files on the host.",
    "import": "`docker import` is not available: images are provided by the lesson.",
    "tag": "`docker tag` is not available: images are provided by the lesson.",
    "rmi": "`docker rmi` is not available: images are shared by the whole class.",
    "kill": "`docker kill` is not on the allow-list; use `docker stop` or `docker rm -f`.",
    "attach": "`docker attach` is not available: use `docker logs` or `docker exec`.",
    "compose": "`docker compose` is not available in the sandbox.",
    "context": "`docker context` is not available in the sandbox.",
    "events": "`docker events` is not available: it watches the whole engine.",
    "info": "`docker info` is not available: it describes the whole engine.",
    "update": "`docker update` is not available: the sandbox sets the limits.",
    "create": "`docker create` is not on the allow-list; use `docker run -d`.",
    "rename": "`docker rename` is not on the allow-list; remove and run again.",
    "top": "`docker top` is not on the allow-list; use `docker exec NAME ps`.",
    "stats": "`docker stats` is not on the allow-list.",
    "pause": "`docker pause` is not on the allow-list.",
    "unpause": "`docker unpause` is not on the allow-list.",
    "wait": "`docker wait` is not on the allow-list.",
    "diff": "`docker diff` is not on the allow-list.",
    "port": f"`docker port` is not available. {NO_NETWORK}",
    "secret": "`docker secret` is not available in the sandbox.",
    "config": "`docker config` is not available in the sandbox.",
    "trust": "`docker trust` is not available in the sandbox.",
    "manifest": "`docker manifest` is not available in the sandbox.",
    "buildx": "`docker buildx` is not available in the sandbox.",
    "builder": "`docker builder` is not available in the sandbox.",
    "search": "`docker search` is not available: the sandbox has no network.",
    "history": "`docker history` is not on the allow-list.",
    "version": "`docker version` is not on the allow-list.",
}


def refuse_option(verb: str, option: str) -> CommandRefused:
    """The refusal for an option the sandbox does not accept on ``verb``."""
    reason = REFUSED_OPTIONS.get(option)
    if reason is not None:
        return CommandRefused(reason, option=option)
    return CommandRefused(
        f"`{option}` is not supported by `docker {verb}` in this sandbox.",
        option=option,
        hint=f"Type `docker {verb} --help` to see the options the sandbox supports.",
    )


def refuse_verb(verb: str) -> CommandRefused:
    """The refusal for a verb that is not on the allow-list."""
    reason = VERB_REASONS.get(verb)
    if reason is not None:
        return CommandRefused(reason, option=verb)
    allowed = ", ".join(VERBS_ALLOWED)
    return CommandRefused(f"`docker {verb}` is not available here. You can use: {allowed}.",
                          option=verb)


def check_name(name: str, what: str) -> str:
    """Validate a learner-chosen container or volume name and return it."""
    if not NAME_RE.match(name):
        raise CommandRefused(
            f"Invalid {what} name {name!r}: use letters, digits, `_`, `.` or `-` "
            "(starting with a letter or digit, at most 63 characters).",
            option=name,
        )
    return name
