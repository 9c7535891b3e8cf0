"""The sandbox policy on the values a learner may give to a command.

Images, ``-e``, ``-u``, ``-w``, ``-h``, ``--entrypoint``, ``--restart``, ``-t``, ``--tail``, ``-s``, ``-n``,
and programs that would wait for typing at a terminal. The verbs, options and names a
learner may use are in :mod:`bot.sandbox.policy.rules`; each rule is documented in SECURITY.md
next to the test that proves it.
"""

from __future__ import annotations

import posixpath
import re

from bot.errors import CommandRefused
from bot.printable import one_line, unsafe_char
from bot.sandbox.policy import rules as policy

_IMAGE_NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_IMAGE_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$")
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

MAX_ENV = 64
"""How many ``-e`` variables one command may set."""

MAX_ENV_CHARS = 4096
"""The longest ``-e NAME=value`` the sandbox accepts."""

MAX_PATH_CHARS = 255
"""The longest path (``-w``, mount targets) the sandbox accepts."""

SYSTEM_PATHS = ("/proc", "/sys", "/dev")
"""Container folders the kernel and runtime own: no mount and no working directory there."""

MAX_SECONDS = 60
"""The longest ``-t`` a learner may give ``docker stop`` or ``docker restart``."""

MAX_RESTART_RETRIES = 10
"""The most retries ``--restart on-failure:N`` may ask for."""

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
"""The restart policies ``docker run --restart`` accepts (the engine's own four)."""


def image_hint(allowed: frozenset[str] | None) -> str:
    """Where to look for the images a learner may use."""
    if allowed is None:
        return "Type `docker images` to see the images you can use."
    return "Images you can use: " + ", ".join(sorted(allowed)) + "."


def check_image(ref: str, allowed: frozenset[str] | None) -> tuple[str, str]:
    """Check an image reference against the lesson's images.

    Args:
        ref: What the learner typed: ``redis``, ``redis:7``, ``docker.io/library/redis``.
        allowed: The image names the lesson uses; ``None`` allows any well-formed local
            name (for tests of the sandbox alone).

    Returns:
        The image name the learner knows (``redis``) and the local tag (``redis:7``).

    Raises:
        CommandRefused: For a digest, a registry or user path, a malformed reference, or
            an image the lesson does not use.
    """
    short = ref.removeprefix("docker.io/").removeprefix("index.docker.io/")
    short = short.removeprefix("library/")
    name, colon, tag = short.partition(":")
    if not _IMAGE_NAME_RE.match(name) or (colon and not _IMAGE_TAG_RE.match(tag)):
        raise CommandRefused(f"Image {one_line(ref)!r} is not available in this sandbox.", option=ref,
                             hint=image_hint(allowed))
    if allowed is not None and name not in allowed:
        raise CommandRefused(
            f"Image {one_line(ref)!r} is not used by this lesson, so the sandbox does not offer it.",
            option=ref,
            hint=image_hint(allowed),
        )
    return name, f"{name}:{tag or 'latest'}"


def check_env(values: list[str]) -> list[str]:
    """Check ``-e NAME=value`` items; the host environment is never copied."""
    if len(values) > MAX_ENV:
        raise CommandRefused(f"`-e`: at most {MAX_ENV} variables per command.", option="-e")
    for item in values:
        key, eq, _ = item.partition("=")
        if not eq or not _ENV_KEY_RE.match(key):
            raise CommandRefused(
                f"`-e {one_line(item)}`: write variables as NAME=value (the sandbox has no host "
                "environment to copy from).",
                option="-e",
            )
        if len(item) > MAX_ENV_CHARS:
            raise CommandRefused(f"`-e {one_line(key)}=...`: at most {MAX_ENV_CHARS} characters.",
                                 option="-e")
    return list(values)


def check_user(value: str | None) -> str | None:
    """Check ``-u/--user``: a user (and group) name or number inside the container.

    Any user is confined the same way (fixed capabilities, ``no-new-privileges``), so
    ``-u root`` is allowed; only the spelling is checked.
    """
    if value is None:
        return None
    if not _USER_RE.match(value):
        raise CommandRefused(
            f"`--user {one_line(value)}`: give a user name or number, optionally `:group` "
            "(for example `-u 1000:1000`).",
            option="--user",
        )
    return value


def check_workdir(value: str | None) -> str | None:
    """Check ``-w/--workdir``: an absolute path inside the container."""
    if value is None:
        return None
    if not value.startswith("/") or len(value) > MAX_PATH_CHARS:
        raise CommandRefused(
            f"`--workdir`: the working directory must be an absolute path inside the "
            f"container, like /app (got {one_line(value)!r}).",
            option="--workdir",
        )
    if any(unsafe_char(ch) or ch in "\n\t" for ch in value):
        raise CommandRefused("`--workdir`: the path holds a control character; use plain "
                             "text, like /app.", option="--workdir")
    clean = "/" + posixpath.normpath(value).lstrip("/")
    if any(clean == top or clean.startswith(top + "/") for top in SYSTEM_PATHS):
        raise CommandRefused(
            f"`--workdir`: {one_line(clean)} belongs to the kernel and the container runtime; "
            "work somewhere else, like /app.",
            option="--workdir",
        )
    return value


def check_hostname(value: str | None) -> str | None:
    """Check ``-h/--hostname``: one DNS label."""
    if value is None:
        return None
    if not _HOSTNAME_RE.match(value):
        raise CommandRefused(
            f"`--hostname {one_line(value)}`: use letters, digits and `-` (at most 63).",
            option="--hostname",
        )
    return value


NETWORK_MODES = {
    "host": "`--network host` is refused: the container would share the host's network.",
    "bridge": "`--network bridge` is refused: the engine's default bridge is shared by "
    "everyone. Create your own: `docker network create NAME`, then `--network NAME`.",
    "default": "`--network default` is refused: create your own network with "
    "`docker network create NAME`.",
}
"""Engine-wide network modes and why each is refused."""


def check_network(value: str | None) -> str | None:
    """Check ``--network``: ``none`` (the default) or one of the learner's own networks.

    Returns:
        The learner's network name, or ``None`` for no network.
    """
    if value is None or value == "none":
        return None
    reason = NETWORK_MODES.get(value)
    if reason is None and value.startswith("container:"):
        reason = ("`--network container:...` is refused: containers never share a network "
                  "namespace here. Put both on one of your networks instead.")
    if reason is not None:
        raise CommandRefused(reason, option="--network")
    return policy.check_name(value, "network")


def check_aliases(values: list[str], option: str = "--network-alias") -> list[str]:
    """Check network aliases: DNS labels, at most 8."""
    if len(values) > 8:
        raise CommandRefused(f"At most 8 `{option}` values, please.", option=option)
    for value in values:
        if not _HOSTNAME_RE.match(value):
            raise CommandRefused(f"`{option} {one_line(value)}`: use letters, digits and `-` "
                                 "(at most 63).", option=option)
    return values


def check_entrypoint(value: str | None) -> list[str] | None:
    """Check ``--entrypoint``: a program inside the container, split into words."""
    if value is None:
        return None
    words = value.split()
    if not words:
        raise CommandRefused("`--entrypoint` needs a program, like `--entrypoint sh`.",
                             option="--entrypoint")
    return words


def check_seconds(raw: str | None, default: int, option: str = "-t") -> int:
    """Check a number of seconds such as ``docker stop -t 5``."""
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CommandRefused(f"`{option}`: {raw[:20]!r} is not a whole number.",
                             option=option) from None
    if value < 0 or value > MAX_SECONDS:
        raise CommandRefused(f"`{option}`: use a number of seconds from 0 to {MAX_SECONDS}.",
                             option=option)
    return value


def check_tail(raw: str | None) -> int | str:
    """Check ``docker logs --tail N`` (a number of lines, or ``all``)."""
    if raw is None or raw == "all":
        return "all"
    try:
        value = int(raw)
    except ValueError:
        raise CommandRefused(f"`--tail`: {raw[:20]!r} is not a number of lines.",
                             option="--tail") from None
    if value < 0:
        return "all"
    return value


def check_restart(raw: str | None, *, remove: bool) -> dict[str, str | int] | None:
    """Check ``docker run --restart POLICY`` and return the engine's restart policy.

    Any of the engine's four policies is accepted: a restarting container stays under the
    sandbox's limits, the engine waits longer between restarts each time (up to a
    minute), ``docker stop``, ``kill`` and ``rm -f`` end it, and the reaper removes it
    with the learner's other containers. ``on-failure:N`` takes at most
    :data:`MAX_RESTART_RETRIES` retries. Like the docker CLI, ``--rm`` with a policy
    other than ``no`` is refused.

    Raises:
        CommandRefused: For an unknown policy, a bad or too large retry count, or ``--rm``.
    """
    if raw is None:
        return None
    name, colon, count = raw.partition(":")
    if name not in RESTART_POLICIES:
        raise CommandRefused(
            f"`--restart {one_line(raw)}`: the policies are {', '.join(RESTART_POLICIES)} "
            "(`on-failure:N` retries at most N times).", option="--restart")
    retries = 0
    if colon:
        if name != "on-failure" or not count.isdigit():
            raise CommandRefused(
                f"`--restart {one_line(raw)}`: only `on-failure` takes a retry count, as "
                "`on-failure:3`.", option="--restart")
        retries = int(count)
        if not 0 < retries <= MAX_RESTART_RETRIES:
            raise CommandRefused(
                f"`--restart {one_line(raw)}`: give 1 to {MAX_RESTART_RETRIES} retries here.",
                option="--restart")
    if remove and name != "no":
        raise CommandRefused("Conflicting options: `--restart` and `--rm` (a container that "
                             "removes itself when it stops cannot restart).", option="--restart")
    return {"Name": name, "MaximumRetryCount": retries}


SIGNALS = (
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
)
"""The signal names ``docker kill -s`` accepts (with or without ``SIG``), as on Linux."""


def check_signal(raw: str | None) -> str:
    """Check ``docker kill -s SIGNAL``: a Linux signal name or a number from 1 to 64.

    Returns:
        The signal as the engine takes it (``SIGKILL`` by default).
    """
    if raw is None:
        return "SIGKILL"
    name = raw.upper().removeprefix("SIG")
    if name in SIGNALS:
        return "SIG" + name
    if raw.isdigit() and 1 <= int(raw) <= 64:
        return raw
    raise CommandRefused(f"Invalid signal: {one_line(raw)}", option="--signal",
                         hint="For example `docker kill -s SIGTERM NAME`; the default is SIGKILL.")


def check_count(raw: str | None, option: str) -> int:
    """Check a count such as ``docker ps -n 3`` (0 to 1000)."""
    if raw is None:
        return 0
    if not raw.isdigit() or int(raw) > 1000:
        raise CommandRefused(f"`{option}`: {one_line(raw)!r} is not a count from 0 to 1000.",
                             option=option)
    return int(raw)


INTERACTIVE_PROGRAMS = frozenset({
    "sh", "bash", "ash", "dash", "zsh", "/bin/sh", "/bin/bash", "/bin/ash", "/usr/bin/bash",
    "redis-cli", "python", "python3", "node", "irb", "psql", "mysql", "sqlite3", "vi", "vim",
    "nano", "less", "more", "top", "htop", "cat", "busybox",
})
"""Programs that, with no arguments, wait for a person at a terminal."""


def check_not_interactive(container: str, argv: list[str], *, interactive: bool) -> None:
    """Refuse ``docker exec -it NAME sh`` (a program that waits for typing) at once.

    The sandbox has no terminal to type into: the program would wait for input until
    the time limit. The refusal says how to run the same thing one command at a time.
    """
    if not interactive or len(argv) != 1 or argv[0] not in INTERACTIVE_PROGRAMS:
        return
    program = argv[0].rsplit("/", 1)[-1]
    if program == "redis-cli":
        example = f"docker exec {container} redis-cli get mykey"
    elif program in ("python", "python3", "node"):
        example = f"docker exec {container} {program} -c '...'"
    else:
        example = f"docker exec {container} ls /data"
    raise CommandRefused(
        f"The sandbox has no interactive terminal, so `{program}` would wait for typing "
        f"forever; run one command at a time: `{one_line(example)}`.",
        option="-it",
    )


_OWN_PART_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")

MAX_TAGS = 4
"""The most ``-t`` one ``docker build`` may give."""

MAX_BUILD_ARGS = 16
"""The most ``--build-arg`` one ``docker build`` may give."""


def check_own_image(ref: str, allowed: frozenset[str] | None, *, option: str = "") -> tuple[str, str]:
    """Check a name for one of the learner's own images (``app``, ``app:v1``).

    One path part (no registry, no user path, no digest); the name of a lesson image is
    refused, so that ``busybox`` always means the lesson's.

    Returns:
        The repository and the tag (``latest`` by default).

    Raises:
        CommandRefused: For anything else.
    """
    name, colon, tag = ref.partition(":")
    if (not _OWN_PART_RE.match(name) or len(name) > 100 or re.match(r"^[0-9a-f]{12,64}$", name)
            or (colon and not _IMAGE_TAG_RE.match(tag))):
        raise CommandRefused(
            f"{option + ': ' if option else ''}invalid image name {one_line(ref)!r}: use "
            "lower-case letters, digits, `.`, `_` and `-`, then optionally `:TAG` (no "
            "registry, no user path, no digest).", option=option or ref)
    if (allowed is not None and name in allowed) or name == "scratch":
        raise CommandRefused(
            f"{option + ': ' if option else ''}{name!r} is the name of an image the lesson "
            "provides; give yours another name.", option=option or ref)
    return name, tag or "latest"


def check_build_args(values: list[str]) -> dict[str, str]:
    """Check ``--build-arg NAME=value`` items (the host environment is never copied)."""
    if len(values) > MAX_BUILD_ARGS:
        raise CommandRefused(f"`--build-arg`: at most {MAX_BUILD_ARGS}.", option="--build-arg")
    out: dict[str, str] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq or not _ENV_KEY_RE.match(key) or len(item) > MAX_ENV_CHARS:
            raise CommandRefused(f"`--build-arg {one_line(item)}`: write NAME=value (the "
                                 "sandbox has no host environment to copy from).",
                                 option="--build-arg")
        if any(unsafe_char(ch) for ch in value):
            raise CommandRefused("`--build-arg`: the value holds a control character.",
                                 option="--build-arg")
        out[key] = value
    return out


def check_run_image(ref: str, allowed: frozenset[str] | None) -> tuple[str, str, bool]:
    """Check ``docker run IMAGE``: a lesson image, or a name one of the learner's could have.

    Returns:
        The name, the tag (``redis:latest``, or the learner's ``app:v1``), and whether it
        is to be looked up among the learner's own images (by the engine side, which
        refuses it when there is none).

    Raises:
        CommandRefused: For a reference that can be neither.
    """
    try:
        name, tag = check_image(ref, allowed)
    except CommandRefused as refused:
        if allowed is None:
            raise
        try:
            name, version = check_own_image(ref, allowed)
        except CommandRefused:
            raise refused from None
        return name, f"{name}:{version}", True
    return name, tag, False


def not_built(ref: str, allowed: frozenset[str] | None) -> CommandRefused:
    """The refusal of ``docker run NAME`` when NAME is neither a lesson image nor the learner's."""
    return CommandRefused(
        f"Image {one_line(ref)!r} is neither one of this lesson's images nor one you built, "
        "so the sandbox does not offer it (it has no registry).", option=ref,
        hint=image_hint(allowed).rstrip(".") + ", and your own (`docker images`).")
