"""The sandbox policy: what a learner may ask the engine, and why not otherwise.

This module holds the rules as data. The parser consults it for every option it does
not know, and the engine consults it for images, mounts and names. Each rule is
documented in SECURITY.md next to the test that proves it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import get_close_matches

from bot.errors import CommandRefused
from bot.printable import one_line

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
"""Container and volume names a learner may use (docker's own rule, at most 63 chars)."""

VERBS_ALLOWED = (
    "run", "exec", "ps", "rm", "stop", "start", "restart", "logs", "inspect", "volume", "images",
    "kill", "rename", "diff", "top", "network", "build", "tag", "rmi", "history", "compose",
)
"""Top-level verbs on the allow-list (``container X`` and ``image ls`` are aliases)."""

VOLUME_SUBCOMMANDS = ("create", "ls", "rm", "inspect", "prune")

NETWORK_SUBCOMMANDS = ("create", "ls", "rm", "inspect", "connect", "disconnect", "prune")

NO_NETWORK = (
    "The sandbox has no network to the outside: ports cannot be published. Containers reach "
    "each other only on networks you create (`docker network create`). Use "
    "`docker exec NAME ...` to talk to a service inside its container."
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
    "--add-host": f"`--add-host` is refused. {NO_NETWORK}",
    "--dns": f"`--dns` is refused. {NO_NETWORK}",
    "--link": f"`--link` is refused. {NO_NETWORK}",
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
    "--memory": "`--memory` is refused: the sandbox sets the memory limit.",
    "-m": "`-m` is refused: the sandbox sets the memory limit.",
    "--memory-reservation": "`--memory-reservation` is refused: the sandbox sets the limits.",
    "--memory-swappiness": "`--memory-swappiness` is refused: the sandbox sets the limits.",
    "--kernel-memory": "`--kernel-memory` is refused: the sandbox sets the limits.",
    "--cpu-shares": "`--cpu-shares` is refused: the sandbox sets the CPU limit.",
    "-c": "`-c` is refused: the sandbox sets the CPU limit.",
    "--cpu-period": "`--cpu-period` is refused: the sandbox sets the CPU limit.",
    "--cpu-quota": "`--cpu-quota` is refused: the sandbox sets the CPU limit.",
    "--cpuset-cpus": "`--cpuset-cpus` is refused: the sandbox sets the CPU limit.",
    "--cpuset-mems": "`--cpuset-mems` is refused: the sandbox sets the limits.",
    "--cpu-rt-period": "`--cpu-rt-period` is refused: the sandbox sets the CPU limit.",
    "--cpu-rt-runtime": "`--cpu-rt-runtime` is refused: the sandbox sets the CPU limit.",
    "--blkio-weight": "`--blkio-weight` is refused: the sandbox sets the limits.",
    "--device-read-bps": f"`--device-read-bps` is refused: {_HOST_ACCESS}'s devices.",
    "--device-write-bps": f"`--device-write-bps` is refused: {_HOST_ACCESS}'s devices.",
    "--device-read-iops": f"`--device-read-iops` is refused: {_HOST_ACCESS}'s devices.",
    "--device-write-iops": f"`--device-write-iops` is refused: {_HOST_ACCESS}'s devices.",
    "--gpus": f"`--gpus` is refused: {_HOST_ACCESS}'s devices.",
    "--oom-score-adj": "`--oom-score-adj` is refused: the sandbox sets it.",
    "--shm-size": "`--shm-size` is refused: the sandbox sets the limits.",
    "--storage-opt": "`--storage-opt` is refused: the storage settings are fixed.",
    "--volume-driver": "`--volume-driver` is refused: volumes use the local driver.",
    "--log-driver": "`--log-driver` is refused: the sandbox keeps the logs itself.",
    "--log-opt": "`--log-opt` is refused: the sandbox keeps the logs itself.",
    "--expose": f"`--expose` is refused. {NO_NETWORK}",
    "--ip": f"`--ip` is refused. {NO_NETWORK}",
    "--ip6": f"`--ip6` is refused. {NO_NETWORK}",
    "--mac-address": f"`--mac-address` is refused. {NO_NETWORK}",
    "--dns-search": f"`--dns-search` is refused. {NO_NETWORK}",
    "--dns-option": f"`--dns-option` is refused. {NO_NETWORK}",
    "--dns-opt": f"`--dns-opt` is refused. {NO_NETWORK}",
    "--link-local-ip": f"`--link-local-ip` is refused. {NO_NETWORK}",
    "--platform": "`--platform` is refused: the lesson's images are fixed.",
    "--pull": "`--pull` is refused: the sandbox has no network; images are already there.",
    "--disable-content-trust": "`--disable-content-trust` is refused: images are fixed.",
    "--auto-remove": "`--auto-remove` is not supported; use `--rm`.",
}

VERB_REASONS: dict[str, str] = {
    "pull": "`docker pull` is not available: the sandbox has no network; the lesson's images "
    "are already there (see `docker images`).",
    "push": "`docker push` is not available: the sandbox has no network.",
    "login": "`docker login` is not available: the sandbox has no registry.",
    "logout": "`docker logout` is not available: the sandbox has no registry.",
    "system": "`docker system` is not available: it acts on the whole engine, not your sandbox.",
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
    "attach": "`docker attach` is not available: use `docker logs` or `docker exec`.",
    "context": "`docker context` is not available in the sandbox.",
    "events": "`docker events` is not available: it watches the whole engine.",
    "info": "`docker info` is not available: it describes the whole engine.",
    "update": "`docker update` is not available: the sandbox sets the limits.",
    "create": "`docker create` is not on the allow-list; use `docker run -d`.",
    "stats": "`docker stats` is not on the allow-list.",
    "pause": "`docker pause` is not on the allow-list.",
    "unpause": "`docker unpause` is not on the allow-list.",
    "wait": "`docker wait` is not on the allow-list.",
    "port": f"`docker port` is not available. {NO_NETWORK}",
    "secret": "`docker secret` is not available in the sandbox.",
    "config": "`docker config` is not available in the sandbox.",
    "trust": "`docker trust` is not available in the sandbox.",
    "manifest": "`docker manifest` is not available in the sandbox.",
    "buildx": "`docker buildx` is not available in the sandbox.",
    "builder": "`docker builder` is not available in the sandbox.",
    "search": "`docker search` is not available: the sandbox has no network.",
    "version": "`docker version` is not on the allow-list.",
    "prune": "`prune` is not available here except `docker volume prune`, "
    "`docker container prune` and `docker image prune`: it acts on the whole engine.",
    "image": "`docker image` offers `ls`, `build`, `tag`, `rm`, `prune`, `history` and "
    "`inspect` here, on your own images.",
    "checkpoint": "`docker checkpoint` is not available in the sandbox.",
    "stack": "`docker stack` is not available in the sandbox.",
    "scan": "`docker scan` is not available: the sandbox has no network.",
}


def refuse_option(verb: str, option: str) -> CommandRefused:
    """The refusal for an option the sandbox does not accept on ``verb``."""
    reason = REFUSED_OPTIONS.get(option)
    if reason is not None:
        return CommandRefused(reason, option=option)
    return CommandRefused(
        f"`{one_line(option)}` is not supported by `docker {verb}` in this sandbox.",
        option=option,
        hint=f"Type `docker {verb} --help` to see the options the sandbox supports.",
    )


SUBCOMMANDS: dict[str, tuple[str, ...]] = {
    "volume": (*VOLUME_SUBCOMMANDS, "list", "remove"),
    "network": (*NETWORK_SUBCOMMANDS, "list", "remove"),
    "container": ("run", "exec", "ps", "ls", "list", "rm", "remove", "stop", "start", "restart",
                  "logs", "inspect", "kill", "rename", "diff", "top", "prune"),
    "image": ("ls", "list", "build", "tag", "rm", "remove", "prune", "history", "inspect"),
    "compose": ("up", "down", "ps", "logs", "config", "exec", "restart", "stop", "start",
                "build"),
}
"""What each management command (``docker volume X``) accepts as ``X``."""


def refuse_verb(verb: str, rest: Sequence[str] = ()) -> CommandRefused:
    """The refusal for a verb that is not on the allow-list.

    ``container cp`` is refused for the reason ``cp`` is; ``system df`` for the
    reason ``system`` is. A misspelling of an allowed verb (``docker sp``,
    ``dcoker ps``, ``docker volumes ls``) gets a "did you mean" with the whole line.

    Args:
        verb: The verb as typed (``sp``, ``volume lss``).
        rest: The words after it, to repeat in the suggestion.
    """
    words = verb.split()
    for candidate in (verb, words[-1] if words else "", words[0] if words else ""):
        reason = VERB_REASONS.get(candidate)
        if reason is not None:
            return CommandRefused(reason, option=verb)
    guess = _correct(words, list(rest))
    if guess is not None:
        return CommandRefused(
            f"docker: '{one_line(verb)}' is not a docker command. Did you mean "
            f"`{one_line(guess)}`?", option=verb)
    allowed = ", ".join(VERBS_ALLOWED)
    return CommandRefused(f"`docker {one_line(verb)}` is not available here. You can use: "
                          f"{allowed}.",
                          option=verb)


def _correct(words: list[str], rest: list[str]) -> str | None:
    """The line the learner probably meant, with the misspelt word put right."""
    if not words:
        return None
    head = words[0]
    if len(words) == 2 and head in SUBCOMMANDS:
        sub = suggest(words[1], list(SUBCOMMANDS[head]))
        return None if sub is None else " ".join(["docker", head, sub, *rest])
    tail = words[1:] + rest
    fixed = suggest(head, [*VERBS_ALLOWED, "container", "image", "docker"])
    if fixed is None:
        return None
    if fixed == "docker":
        return " ".join(["docker", *tail]) if tail else None
    if fixed in SUBCOMMANDS and tail and tail[0] not in SUBCOMMANDS[fixed]:
        sub = suggest(tail[0], list(SUBCOMMANDS[fixed]))
        if sub is not None:
            tail = [sub, *tail[1:]]
    return " ".join(["docker", fixed, *tail])


def check_name(name: str, what: str) -> str:
    """Validate a learner-chosen container or volume name and return it."""
    if not NAME_RE.match(name):
        raise CommandRefused(
            f"Invalid {what} name {one_line(name)!r}: use letters, digits, `_`, `.` or `-` "
            "(starting with a letter or digit, at most 63 characters).",
            option=name,
        )
    return name


def suggest(word: str, choices: list[str]) -> str | None:
    """The allowed spelling closest to a misspelt ``word`` (``sp`` -> ``ps``), if one is close.

    Two neighbouring letters swapped (``sp``, ``dcoker``, ``exce``) is the likeliest slip
    and wins; otherwise :func:`difflib.get_close_matches` picks the closest word.
    """
    for choice in choices:
        if len(choice) == len(word) and sorted(choice) == sorted(word):
            diffs = [i for i, (a, b) in enumerate(zip(choice, word, strict=True)) if a != b]
            if len(diffs) == 2 and diffs[1] == diffs[0] + 1:
                return choice
    best = get_close_matches(word, choices, n=1, cutoff=0.6)
    return best[0] if best else None
