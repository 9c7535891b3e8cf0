"""What a command run in a container can do to Redis data: read it, save it, or write it.

The Immortal Database proof must not count a value that any container but the writer
could have put in the volume. So every command that runs in a container on that volume
is sorted here, from its argument vector alone:

* ``read``: a ``redis-cli`` call on the read-only allow-list (``get``, ``exists``,
  ``keys``, ``info``...), with only harmless options (``-n``, ``-h``, ``-p``, ``--raw``...),
  or a program that only reads files (``cat``, ``ls``...);
* ``persist``: ``save``, ``bgsave``, ``bgrewriteaof``, ``shutdown``: Redis writes its own
  data set to disk, adding nothing to it;
* ``config``: ``config set`` of a setting that changes how or whether Redis saves;
* ``write``: a ``redis-cli`` call that writes known keys (``set``, ``mset``, ``del``...),
  with the values when the command carries them;
* ``unknown``: anything else (``eval``, ``sh -c`` with a pipe, ``-x``, ``debug``,
  ``restore``-like tricks, any program not known to be read-only). It may write anything.

Nothing here runs anything; it is pure reading of argument lists.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

# -- redis-cli ----------------------------------------------------------------------------

_CLI_VALUE_OPTIONS = frozenset({
    "-h", "-p", "-s", "-a", "-u", "-n", "-r", "-i", "-d", "-D", "-t", "--user", "--pass",
    "--sni", "--cacert", "--cacertdir", "--cert", "--key", "--tls-ciphers",
    "--tls-ciphersuites", "--show-pushes", "--pattern", "--quoted-pattern", "--count",
    "--memkeys-samples",
})
"""Harmless ``redis-cli`` options that take a value."""

_CLI_FLAGS = frozenset({
    "--raw", "--no-raw", "--csv", "--json", "--quoted-json", "--quoted-input", "-2", "-3",
    "-e", "-c", "--verbose", "--no-auth-warning", "--tls", "--insecure", "--askpass",
})
"""Harmless ``redis-cli`` flags."""

_CLI_READ_MODES = frozenset({
    "--scan", "--bigkeys", "--memkeys", "--hotkeys", "--stat", "--latency",
    "--latency-history", "--latency-dist", "-v", "--version", "--help",
})
"""``redis-cli`` modes that only read (they need no command)."""

READ_OPS = frozenset({
    "get", "mget", "exists", "keys", "ttl", "pttl", "type", "dbsize", "ping", "info", "scan",
    "strlen", "getrange", "substr", "randomkey", "echo", "time", "lastsave", "expiretime",
    "pexpiretime", "hget", "hgetall", "hkeys", "hvals", "hlen", "hexists", "hmget", "hstrlen",
    "lrange", "llen", "lindex", "lpos", "smembers", "scard", "sismember", "smismember",
    "srandmember", "sscan", "hscan", "zscan", "zrange", "zrangebyscore", "zrevrange", "zcard",
    "zscore", "zrank", "zrevrank", "zcount", "zmscore", "dump", "role", "lolwut", "wait",
})
"""Commands that never change data."""

_READ_SUBCOMMANDS = {
    "config": frozenset({"get", "help"}),
    "object": frozenset({"encoding", "freq", "idletime", "refcount", "help"}),
    "memory": frozenset({"usage", "stats", "doctor", "help", "malloc-stats"}),
    "client": frozenset({"list", "info", "getname", "id", "help"}),
    "command": frozenset({"count", "info", "docs", "list", "getkeys", "help"}),
}
"""Commands that read with these subcommands only (``config get``, ``object encoding``)."""

SHOWS_VALUE = frozenset({"get", "mget", "getrange", "substr"})
"""Read commands that print a key's value (the learner *sees* it)."""

PERSIST_OPS = frozenset({"save", "bgsave", "bgrewriteaof", "shutdown"})
"""Commands that write Redis's own data set to disk."""

SAFE_CONFIG = frozenset({
    "appendonly", "appendfsync", "save", "loglevel", "maxmemory", "maxmemory-policy",
    "rdbcompression", "rdbchecksum", "hz", "stop-writes-on-bgsave-error",
})
"""Settings ``config set`` may change without touching data or where it is written."""

_KEY_WRITES: dict[str, str] = {
    "set": "first", "setnx": "first", "setex": "first", "psetex": "first", "getset": "first",
    "append": "first", "incr": "first", "incrby": "first", "incrbyfloat": "first",
    "decr": "first", "decrby": "first", "getdel": "first", "getex": "first",
    "setrange": "first", "del": "all", "unlink": "all", "expire": "first",
    "pexpire": "first", "expireat": "first", "pexpireat": "first", "persist": "first",
    "rename": "all", "renamenx": "all", "mset": "pairs", "msetnx": "pairs",
    "restore": "first", "lpush": "first", "rpush": "first", "lpushx": "first",
    "rpushx": "first", "lpop": "first", "rpop": "first", "lset": "first", "lrem": "first",
    "ltrim": "first", "linsert": "first", "hset": "first", "hsetnx": "first",
    "hmset": "first", "hdel": "first", "hincrby": "first", "sadd": "first", "srem": "first",
    "spop": "first", "zadd": "first", "zrem": "first", "zincrby": "first",
    "flushall": "everything", "flushdb": "everything",
}
"""Writes whose keys the arguments name: the first, all, every other, or every key."""

_VALUE_AT = {"set": 1, "setnx": 1, "getset": 1, "setex": 2, "psetex": 2}
"""Writes of one string key that carry its new value, and the value's position."""

EVERY_KEY = "*"
"""Stands for every key (``flushall``, or a write the tutor cannot follow)."""


@dataclass(frozen=True)
class RedisCall:
    """What one ``redis-cli`` (or other) command does to Redis data.

    Attributes:
        kind: ``read``, ``persist``, ``config``, ``write`` or ``unknown``.
        op: The Redis command in lower case (``""`` when there is none).
        db: The database number it works on (``-n``, or the path of ``-u``).
        writes: Keys it may write (``EVERY_KEY``: any key in any database).
        values: For writes that carry them, the new string value of each key.
        shows: Keys whose value a read prints.
        nosave: A ``shutdown nosave``: Redis quits without saving.
        config: For ``config set``: each setting and its new value.
    """

    kind: str
    op: str = ""
    db: int = 0
    writes: tuple[str, ...] = ()
    values: dict[str, str] = field(default_factory=dict)
    shows: tuple[str, ...] = ()
    nosave: bool = False
    config: dict[str, str] = field(default_factory=dict)

    def touches(self, key: str, db: int) -> bool:
        """Whether this call may have changed ``key`` in database ``db``."""
        if self.kind == "unknown":
            return True
        if self.kind != "write":
            return False
        return EVERY_KEY in self.writes or (self.db == db and key in self.writes)


UNKNOWN = RedisCall("unknown")
READ = RedisCall("read")


def _db_from_uri(uri: str) -> int | None:
    path = urlparse(uri).path.strip("/")
    return int(path) if path.isdigit() else None


def classify_redis_cli(argv: Sequence[str]) -> RedisCall:
    """Sort a ``redis-cli`` argument vector (``argv[0]`` is ``redis-cli``)."""
    db = 0
    i = 1
    read_mode = False
    while i < len(argv) and argv[i].startswith("-"):
        option = argv[i]
        if option in _CLI_VALUE_OPTIONS:
            if i + 1 >= len(argv):
                return UNKNOWN
            value = argv[i + 1]
            if option == "-n":
                if not value.lstrip("-").isdigit():
                    return UNKNOWN
                db = int(value)
            elif option == "-u":
                from_uri = _db_from_uri(value)
                db = db if from_uri is None else from_uri
            i += 2
        elif option in _CLI_FLAGS:
            i += 1
        elif option in _CLI_READ_MODES:
            read_mode = True
            i += 1
        else:
            return UNKNOWN  # -x, --eval, --pipe, --rdb, --lru-test, --cluster, ...
    args = list(argv[i + 1:])
    if i >= len(argv):
        # No command: a read mode, or an interactive session with nothing on its stdin.
        return RedisCall("read", db=db)
    if read_mode:
        return UNKNOWN  # a mode and a command at once: not a form the tutor knows
    op = argv[i].lower()
    if op in READ_OPS or (op in _READ_SUBCOMMANDS and args
                          and args[0].lower() in _READ_SUBCOMMANDS[op]):
        shows = tuple(args if op == "mget" else args[:1]) if op in SHOWS_VALUE else ()
        return RedisCall("read", op=op, db=db, shows=shows)
    if op == "getex" and len(args) == 1:
        return RedisCall("read", op=op, db=db, shows=(args[0],))
    if op in PERSIST_OPS:
        flags = {a.lower() for a in args}
        return RedisCall("persist", op=op, db=db, nosave=op == "shutdown" and "nosave" in flags)
    if op == "config" and args and args[0].lower() == "set":
        pairs = args[1:]
        if not pairs or len(pairs) % 2:
            return UNKNOWN
        settings = {pairs[k].lower(): pairs[k + 1] for k in range(0, len(pairs), 2)}
        if not set(settings) <= SAFE_CONFIG:
            return UNKNOWN
        return RedisCall("config", op="config set", db=db, config=settings)
    layout = _KEY_WRITES.get(op)
    if layout is None or not args:
        return UNKNOWN
    keys: tuple[str, ...]
    if layout == "first":
        keys = (args[0],)
    elif layout == "all":
        keys = tuple(args)
    elif layout == "pairs":
        if len(args) % 2:
            return UNKNOWN
        keys = tuple(args[0::2])
    else:
        keys = (EVERY_KEY,)
    values: dict[str, str] = {}
    if op in _VALUE_AT and len(args) > _VALUE_AT[op]:
        values[args[0]] = args[_VALUE_AT[op]]
    elif op in ("mset", "msetnx"):
        values = dict(zip(args[0::2], args[1::2], strict=True))
    return RedisCall("write", op=op, db=db, writes=keys, values=values)


# -- any command in a container -----------------------------------------------------------

_SHELLS = frozenset({"sh", "ash", "bash", "dash", "/bin/sh", "/bin/ash", "/bin/bash",
                     "/usr/bin/sh", "/bin/dash"})
_SHELL_SPECIAL = frozenset("$`;|&<>(){}\n\\")
"""Characters that make a ``sh -c`` script more than one plain command."""

READ_PROGRAMS = frozenset({
    "cat", "ls", "head", "tail", "wc", "stat", "md5sum", "sha1sum", "sha256sum", "sha512sum",
    "od", "hexdump", "xxd", "strings", "du", "df", "pwd", "id", "whoami", "true", "false",
    "sleep", "echo", "printenv", "uname", "ps", "test", "[", "basename", "dirname", "readlink",
    "realpath", "cmp", "grep", "nproc", "free", "uptime",
})
"""Programs that cannot change a file, run without a shell (no redirection)."""

_SYSTEM_DIRS = frozenset({"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin"})


def plain_words(argv: Sequence[str]) -> list[str] | None:
    """The words a container command runs, looking through a one-command ``sh -c``.

    Returns ``None`` for a ``sh -c`` script with pipes, redirections, substitutions or
    several commands: what it does cannot be read from its words.
    """
    words = list(argv)
    if len(words) >= 2 and words[0] in _SHELLS and words[1] == "-c":
        if len(words) != 3 or _SHELL_SPECIAL & set(words[2]):
            return None
        try:
            words = shlex.split(words[2])
        except ValueError:
            return None
        if words and "=" in words[0]:
            return None  # `NAME=value command`: an environment change first
    return words


def classify(argv: Sequence[str]) -> RedisCall:
    """Sort any command run in a container (``docker exec`` or a container's own command)."""
    words = plain_words(argv)
    if not words:
        return UNKNOWN if words is None else READ
    program = _program(words[0])
    if program == "redis-cli":
        return classify_redis_cli(["redis-cli", *words[1:]])
    return READ if program in READ_PROGRAMS else UNKNOWN


def _program(word: str) -> str | None:
    """The program a word runs: a bare name, or one in the image's system folders."""
    if "/" not in word:
        return word
    return posixpath.basename(word) if posixpath.dirname(word) in _SYSTEM_DIRS else None


# -- a container's own command ------------------------------------------------------------

REDIS_SERVER_OPTIONS = frozenset({
    "appendonly", "appendfsync", "appendfilename", "appenddirname", "save", "dbfilename",
    "dir", "loglevel", "maxmemory", "maxmemory-policy", "port", "databases", "protected-mode",
    "bind", "rdbcompression", "rdbchecksum", "hz", "tcp-keepalive", "timeout",
    "aof-use-rdb-preamble", "stop-writes-on-bgsave-error",
})
"""``redis-server`` options that only choose how and where Redis loads and saves its data."""

ENTRYPOINT = "docker-entrypoint.sh"
"""The ``redis`` image's entrypoint (it runs ``redis-server`` for ``--option`` arguments)."""


@dataclass(frozen=True)
class ServerCommand:
    """A container's own command, as far as Redis data goes.

    Attributes:
        kind: ``redis`` (a plain ``redis-server``, options from the allow-list only),
            ``read`` (a program that cannot write, such as ``sleep``), or ``other``.
        options: The ``redis-server`` options, by name (``{"appendonly": "yes"}``).
        refused: For ``other`` Redis servers, the option that makes it so.
    """

    kind: str
    options: dict[str, str] = field(default_factory=dict)
    refused: str = ""

    @property
    def aof(self) -> bool:
        """Whether the server starts with the append-only file on."""
        return self.options.get("appendonly", "no").lower() == "yes"

    @property
    def saves_off(self) -> bool:
        """Whether snapshots are turned off (``--save ""``)."""
        return "save" in self.options and not self.options["save"].strip()


def redis_server_options(args: Sequence[str]) -> tuple[dict[str, str], str]:
    """Parse ``redis-server`` arguments: (options, the first one not on the allow-list)."""
    options: dict[str, str] = {}
    name = ""
    for arg in args:
        if arg.startswith("--"):
            name = arg[2:].lower()
            if name not in REDIS_SERVER_OPTIONS:
                return options, arg
            options[name] = ""
        elif not name:
            return options, arg  # a config file or `-` (config on stdin)
        else:
            options[name] = (options[name] + " " + arg).strip() if options[name] else arg
    return options, ""


def classify_server(command: Sequence[str]) -> ServerCommand:
    """Sort a container's command (entrypoint and arguments, as the engine reports them)."""
    words = list(command)
    if words[:1] == [ENTRYPOINT]:
        words = words[1:]
        if not words or words[0].startswith("-") or words[0].endswith(".conf"):
            words = ["redis-server", *words]
    if words and _program(words[0]) == "redis-server":
        options, refused = redis_server_options(words[1:])
        return ServerCommand("other" if refused else "redis", options, refused)
    call = classify(words)
    return ServerCommand("read" if call.kind == "read" else "other")
