"""Understanding ``redis-cli`` command lines and answers, and reading a key as the tutor.

The tutor records what a learner's ``redis-cli`` call did (which key it wrote, whether
it saved) so that checks can reason about history, not only about current state. Nothing
here talks to the engine: :mod:`bot.sandbox.redis.hooks` runs the commands.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

_VALUE_OPTIONS = {"-h", "-p", "-s", "-a", "-u", "-n", "-r", "-i", "-d", "--user", "--pass"}

# Commands that write a key, and which argument positions are keys ("all" = every one;
# "pairs" = every other one, starting with the first).
WRITE_COMMANDS: dict[str, str] = {
    "set": "first", "setnx": "first", "setex": "first", "psetex": "first", "getset": "first",
    "append": "first", "incr": "first", "incrby": "first", "incrbyfloat": "first",
    "decr": "first", "decrby": "first", "getdel": "first", "getex": "first", "setrange": "first",
    "del": "all", "unlink": "all", "expire": "first", "pexpire": "first", "persist": "first",
    "rename": "all", "renamenx": "all", "mset": "pairs", "msetnx": "pairs", "restore": "first",
    "copy": "all", "lpush": "first", "rpush": "first", "hset": "first", "sadd": "first",
    "zadd": "first", "flushall": "everything", "flushdb": "everything",
}

SAVE_COMMANDS = {"save", "bgsave", "shutdown"}

_NOT_READY = re.compile(r"Could not connect to Redis|Connection refused|^LOADING", re.M)


def not_ready(output: str) -> bool:
    """Whether ``redis-cli`` printed that the server is not (yet) accepting commands."""
    return _NOT_READY.search(output) is not None


def inner_argv(argv: list[str]) -> list[str]:
    """The command a ``sh -c '...'`` wrapper runs, split into words (else ``argv``)."""
    if len(argv) >= 3 and argv[0] in ("sh", "bash", "/bin/sh") and argv[1] == "-c":
        try:
            return shlex.split(argv[2])
        except ValueError:
            return argv
    return argv


def parse_redis_cli(argv: list[str]) -> dict[str, Any] | None:
    """Describe a ``redis-cli`` argv: its command, the keys it writes, whether it saves.

    Returns ``None`` when ``argv`` is not a ``redis-cli`` call with a command.
    """
    if not argv or argv[0] != "redis-cli":
        return None
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in _VALUE_OPTIONS else 1
    if i >= len(argv):
        return None
    op = argv[i].lower()
    args = argv[i + 1 :]
    if op == "config" and len(args) >= 3 and args[0].lower() == "set":
        return {"op": "config set", "param": args[1].lower(), "value": args[2], "writes": [],
                "saves": False}
    layout = WRITE_COMMANDS.get(op)
    writes: list[str] = []
    if layout == "first" and args:
        writes = [args[0]]
    elif layout == "all":
        writes = list(args)
    elif layout == "pairs":
        writes = args[0::2]
    elif layout == "everything":
        writes = ["*"]
    fact: dict[str, Any] = {"op": op, "writes": writes, "saves": op in SAVE_COMMANDS}
    if op == "set" and len(args) >= 2:
        fact["key"], fact["value"] = args[0], args[1]
    elif op == "get" and args:
        fact["key"] = args[0]
    return fact


def appendonly_from_args(argv: list[str]) -> bool:
    """Whether a ``redis-server`` command line turns on the append-only file."""
    for i, arg in enumerate(argv):
        if arg == "--appendonly" and i + 1 < len(argv):
            return argv[i + 1].lower() == "yes"
        if arg.startswith("--appendonly=") or arg == "--appendonly=yes":
            return arg.split("=", 1)[1].lower() == "yes"
    return False
