"""Parse a learner's ``docker ...`` line into a checked :class:`Command`.

The text is split with :mod:`shlex` (never given to a shell) and every option is
matched against its verb's table (:mod:`bot.sandbox.policy.verbs`). Unknown options, unknown
verbs and shell operators are refused with a one-line reason before anything reaches
the engine.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from bot.errors import CommandRefused
from bot.printable import describe_char, first_unsafe
from bot.sandbox.policy import rules as policy
from bot.sandbox.policy import values as option_values
from bot.sandbox.policy.verbs import (
    ALIASES,
    MAX_NAMES,
    POSITIONALS,
    STOP_AT,
    TOP_ALIASES,
    USAGE,
    VERB_OPTIONS,
    Opt,
)

WORKSPACE = "\x00workspace\x00"
"""Marker that replaces the workspace shorthand (``$(pwd)``, ``$PWD``, ``${PWD}``)."""

_PWD_FORMS = ("$(pwd)", "${PWD}", "$PWD", "`pwd`")
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
_OPERATORS = {";", "&&", "||", "|", "&", ">", ">>", "<", "<<", "2>", "2>&1", "|&", ";;"}

MAX_COMMAND_CHARS = 4000
"""The longest command line the sandbox reads."""

MAX_ARGS = 64
"""The most words (after ``docker``) one command line may have."""

MAX_FORMAT_CHARS = 256
"""The longest ``-f/--format`` template of ``inspect`` and ``volume inspect``."""

MAX_FORMAT_ACTIONS = 8
"""The most ``{{...}}`` actions one ``--format`` template may hold."""

_MANY_NAMES = ("rm", "stop", "start", "restart", "inspect", "kill", "network rm", "network inspect",
               "volume rm", "volume inspect", "image rm", "image inspect")
"""Verbs that act on a list of names, capped at :data:`MAX_NAMES`."""

CONTAINER_SUBCOMMANDS = ("run", "exec", "ps", "rm", "stop", "start", "restart", "logs",
                         "inspect", "kill", "rename", "diff", "top")
"""What ``docker container X`` accepts as ``X`` (besides the aliases ``ls``, ``list``,
``remove``)."""

IMAGE_SUBCOMMANDS = ("rm", "prune", "inspect")
"""What ``docker image X`` accepts as ``X`` besides the aliases (``ls``, ``build``, ``tag``...)."""

_MOUNT_KEYS = ("volume", "mount")
"""Option keys whose values may name the workspace (``-v $(pwd):/app``)."""


@dataclass
class Command:
    """A parsed learner command, syntactically valid and on the allow-list.

    Attributes:
        verb: ``run``, ``exec``, ..., or ``volume create`` and friends.
        opts: Option values by key: ``True`` for flags, a string, or a list for repeats.
        args: Positional arguments (for ``run``: image then command; for ``exec``:
            container then command).
        text: The learner's text as typed (after quote normalisation).
        notes: Things the learner should know (``-it`` is not interactive here, ...).
    """

    verb: str
    opts: dict[str, object] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    text: str = ""
    notes: list[str] = field(default_factory=list)

    def flag(self, key: str) -> bool:
        """Whether a flag option was given."""
        return bool(self.opts.get(key))

    def value(self, key: str) -> str | None:
        """The value of a single-valued option, or ``None``."""
        raw = self.opts.get(key)
        return raw if isinstance(raw, str) else None

    def values(self, key: str) -> list[str]:
        """The values of a repeatable option, in order."""
        raw = self.opts.get(key)
        return [str(v) for v in raw] if isinstance(raw, list) else []


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _pwd_form_at(text: str, i: int) -> str | None:
    """The workspace shorthand that starts at ``text[i]``, if one does."""
    for form in _PWD_FORMS:
        if text.startswith(form, i):
            end = i + len(form)
            if form == "$PWD" and end < len(text) and _is_name_char(text[end]):
                return None  # $PWDX is another variable
            return form
    return None


def _prepare(text: str) -> str:
    """Check learner text for what a host shell would act on, and mark the workspace.

    Scans the text as a POSIX shell would see its quotes: outside single quotes the
    workspace shorthand becomes :data:`WORKSPACE`, while any other command
    substitution (``$(...)``, backticks) is refused, since on a real machine the host
    shell would run it. A newline outside quotes would start a second command and is
    refused too; a backslash before a newline continues the line, as in a shell.

    Raises:
        CommandRefused: For control characters, command substitution or several lines.
    """
    bad = first_unsafe(text)
    if bad is not None:
        raise CommandRefused(
            f"The command contains a control character ({describe_char(bad)}); type it as "
            "plain text.",
            option="control-character",
        )
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote == "'":
            out.append(ch)
            quote = "" if ch == "'" else quote
            i += 1
            continue
        if ch == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":
                out.append(text[i : i + 2])
            i += 2
            continue
        if ch == "'" and not quote:
            quote = "'"
        elif ch == '"':
            quote = "" if quote else '"'
        elif ch == "\n" and not quote:
            raise CommandRefused(
                "That is several lines: the tutor runs one docker command at a time. "
                "Send the commands one by one.",
                option="newline",
            )
        elif ch in "$`":
            form = _pwd_form_at(text, i)
            if form is not None:
                out.append(WORKSPACE)
                i += len(form)
                continue
            if ch == "`" or text.startswith("$(", i):
                shown = "`...`" if ch == "`" else "$(...)"
                raise CommandRefused(
                    f"`{shown}` is shell syntax that your own shell would run on the host: "
                    "the tutor never runs a host shell. Only `$(pwd)` (your workspace) is "
                    "understood. To run it inside a container, put it in single quotes: "
                    "`docker exec NAME sh -c '...'`.",
                    option=shown,
                )
        out.append(ch)
        i += 1
    return "".join(out)


def tokenize(text: str) -> list[str]:
    """Split learner text like a POSIX shell would split words, without running anything.

    Raises:
        CommandRefused: For unbalanced quotes, unquoted shell operators, command
            substitution, control characters, several lines, or an overlong line.
    """
    if len(text) > 2 * MAX_COMMAND_CHARS:  # cheap refusal before any copy of a huge line
        raise CommandRefused(
            f"That command is {len(text)} characters long; the sandbox takes at most "
            f"{MAX_COMMAND_CHARS}.",
            option="length",
        )
    text = text.translate(_SMART_QUOTES).replace("\r\n", "\n").strip()
    if len(text) > MAX_COMMAND_CHARS:
        raise CommandRefused(
            f"That command is {len(text)} characters long; the sandbox takes at most "
            f"{MAX_COMMAND_CHARS}.",
            option="length",
        )
    text = _prepare(text)
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError as exc:
        raise CommandRefused(f"Could not read that command: {exc} (check your quotes).",
                             option="quotes") from None
    for token in tokens:
        if token in _OPERATORS or (token and set(token) <= set(";&|<>")):
            raise CommandRefused(
                f"`{token}` is shell syntax: the tutor runs one docker command at a time and "
                "never through a shell. Send the commands one by one.",
                option=token,
            )
    words = len(tokens) - (tokens[:1] == ["docker"])
    if words > MAX_ARGS:
        raise CommandRefused(
            f"That command has {words} words; the sandbox takes at most {MAX_ARGS}.",
            option="arguments",
        )
    return tokens


def parse(text: str) -> Command:
    """Parse a line such as ``docker run -d --name redis-1 redis``.

    The leading ``docker`` is optional (``/docker run ...`` in Slack sends only the rest).

    Raises:
        CommandRefused: With a one-line reason for anything the sandbox does not accept.
    """
    tokens = tokenize(text)
    if tokens and tokens[0] == "docker":
        tokens = tokens[1:]
    if tokens and tokens[0] == "sudo":
        raise CommandRefused("No `sudo` needed (or possible): just type `docker ...`.", option="sudo")
    if not tokens:
        raise CommandRefused(
            "Type a docker command, for example `docker ps -a`.",
            hint="Verbs available: " + ", ".join(policy.VERBS_ALLOWED) + ".",
        )
    verb, rest = _verb(tokens)
    command = Command(verb=verb, text=" ".join(shlex.quote(t) for t in tokens).replace(
        shlex.quote(WORKSPACE), "$(pwd)").replace(WORKSPACE, "$(pwd)"))
    if rest[:1] in (["--help"], ["-h"]) and not (verb == "run" and rest[:1] == ["-h"]):
        raise CommandRefused(f"Usage: {USAGE[verb]}", option="--help")
    _parse_options(command, rest)
    _literal_workspace(command)
    low, high = POSITIONALS[verb]
    if verb in _MANY_NAMES and len(command.args) > MAX_NAMES:
        raise CommandRefused(
            f"`docker {verb}` takes at most {MAX_NAMES} names at a time here; "
            "send the rest in another command.",
            option="names",
        )
    _check_format(command)
    if len(command.args) < low or (high is not None and len(command.args) > high):
        raise CommandRefused(
            f"`docker {verb}` expects different arguments. Usage: {USAGE[verb]}", option=verb
        )
    if verb == "run":  # a value only the policy can judge, refused before any engine call
        option_values.check_restart(command.value("restart"), remove=command.flag("rm"))
    if verb == "exec":
        option_values.check_not_interactive(command.args[0], command.args[1:],
                                     interactive=command.flag("interactive"))
    if command.flag("interactive"):
        command.notes.append(
            "Note: `-i` is accepted, but the sandbox is not an interactive terminal: "
            "each command runs to completion and you see its output."
        )
    return command


def _check_format(command: Command) -> None:
    """Refuse a ``--format`` template long enough to multiply the output of one line."""
    fmt = command.value("format")
    if fmt is None:
        return
    if len(fmt) > MAX_FORMAT_CHARS or fmt.count("{{") > MAX_FORMAT_ACTIONS:
        raise CommandRefused(
            f"`--format`: at most {MAX_FORMAT_CHARS} characters and {MAX_FORMAT_ACTIONS} "
            "`{{...}}` in a template.",
            option="--format",
        )


_COMPOSE_GLOBALS = ("-p", "--project-name", "-f", "--file")


def _compose_verb(tokens: list[str]) -> tuple[str, list[str]]:
    """``compose [-p NAME] [-f FILE] VERB ...``: the verb, with the global options moved after it."""
    globals_: list[str] = []
    i = 1
    while i < len(tokens) and tokens[i].startswith("-"):
        name = tokens[i].partition("=")[0]
        if name not in _COMPOSE_GLOBALS:
            raise policy.refuse_option("compose", name)
        globals_.append(tokens[i])
        if "=" not in tokens[i] and i + 1 < len(tokens):
            i += 1
            globals_.append(tokens[i])
        i += 1
    if i >= len(tokens):
        raise CommandRefused("`docker compose` needs a subcommand, for example "
                             "`docker compose up -d`.", option="compose")
    sub = tokens[i]
    if sub not in policy.SUBCOMMANDS["compose"]:
        raise policy.refuse_verb(f"compose {sub}", tokens[i + 1:])
    return f"compose {sub}", [*globals_, *tokens[i + 1:]]


def _verb(tokens: list[str]) -> tuple[str, list[str]]:
    head = tokens[0]
    if head.startswith("-"):
        raise policy.refuse_option("", head)
    if head == "compose":
        return _compose_verb(tokens)
    if head in {"container", "image", "volume", "network"}:
        if len(tokens) < 2:
            raise CommandRefused(
                f"`docker {head}` needs a subcommand, for example `docker {head} ls`.", option=head
            )
        sub = tokens[1]
        alias = ALIASES.get((head, sub))
        if alias is not None:
            return alias, tokens[2:]
        if head == "volume" and sub in policy.VOLUME_SUBCOMMANDS:
            return f"volume {sub}", tokens[2:]
        if head == "network" and sub in policy.NETWORK_SUBCOMMANDS:
            return f"network {sub}", tokens[2:]
        if head == "container" and sub in CONTAINER_SUBCOMMANDS:
            return sub, tokens[2:]
        if head == "image" and sub in IMAGE_SUBCOMMANDS:
            return f"image {sub}", tokens[2:]
        raise policy.refuse_verb(f"{head} {sub}", tokens[2:])
    if head not in policy.VERBS_ALLOWED or head in ("volume", "network", "compose"):
        raise policy.refuse_verb(head, tokens[1:])
    return TOP_ALIASES.get(head, head), tokens[1:]


def _parse_options(command: Command, rest: list[str]) -> None:
    table = VERB_OPTIONS[command.verb]
    by_name = {name: opt for opt in table for name in opt.names}
    stop_after = STOP_AT.get(command.verb)
    i = 0
    while i < len(rest):
        word = rest[i]
        if stop_after is not None and len(command.args) >= stop_after:
            command.args.extend(rest[i:])
            return
        if word == "--":
            command.args.extend(rest[i + 1 :])
            return
        if word.startswith("--"):
            name, eq, inline = word.partition("=")
            opt = by_name.get(name)
            if opt is None:
                raise policy.refuse_option(command.verb, name)
            if opt.value:
                if eq:
                    value = inline
                elif i + 1 < len(rest):
                    i += 1
                    value = rest[i]
                else:
                    raise CommandRefused(f"`{name}` needs a value.", option=name)
                _store(command, opt, value)
            elif eq:
                raise CommandRefused(f"`{name}` does not take a value.", option=name)
            else:
                _store(command, opt, True)
        elif word.startswith("-") and len(word) > 1:
            # Short flags, possibly combined (-dit) or with an attached value (-ePATH=x).
            j = 1
            while j < len(word):
                name = "-" + word[j]
                opt = by_name.get(name)
                if opt is None:
                    raise policy.refuse_option(command.verb, name)
                if opt.value:
                    value = word[j + 1 :]
                    if not value:
                        if i + 1 >= len(rest):
                            raise CommandRefused(f"`{name}` needs a value.", option=name)
                        i += 1
                        value = rest[i]
                    _store(command, opt, value)
                    break
                _store(command, opt, True)
                j += 1
        else:
            command.args.append(word)
        i += 1


def _literal_workspace(command: Command) -> None:
    """Turn the workspace marker back into the text ``$(pwd)`` outside mount options.

    Only ``-v`` and ``--mount`` sources name a host folder; anywhere else (a container
    command, ``-e``, ``-w``) the shorthand is plain text for the container.
    """
    def plain(value: str) -> str:
        return value.replace(WORKSPACE, "$(pwd)")

    command.args = [plain(a) for a in command.args]
    for key, value in command.opts.items():
        if key in _MOUNT_KEYS:
            continue
        if isinstance(value, str):
            command.opts[key] = plain(value)
        elif isinstance(value, list):
            command.opts[key] = [plain(v) if isinstance(v, str) else v for v in value]


def _store(command: Command, opt: Opt, value: str | bool) -> None:
    if opt.key == "network" and isinstance(value, str):
        option_values.check_network(value)  # host, bridge, container:...: refused here
    if opt.repeat:
        bucket = command.opts.setdefault(opt.key, [])
        assert isinstance(bucket, list)  # noqa: S101 - internal invariant
        bucket.append(value)
    else:
        command.opts[opt.key] = value
