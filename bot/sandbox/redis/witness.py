"""The tutor's own witness of what a Redis container on a volume loads (issue 19, F4).

The Immortal Database proof needs *which* value of a key a new Redis container found on
a volume as it started. The tutor used to ask inside that container (``sh -c`` and
``redis-cli`` with the container's own ``PATH``): a learner controls that container's
environment, binaries, files and entrypoint, and a fake ``redis-cli`` planted in the
volume (``-e PATH=/data/fk:...``) confirmed a key that never reached disk.

The witness is a container of the tutor's own, never the learner's:

* made from the image the learner's container runs (a lesson image: learners cannot
  build, commit or tag images), with a fixed entrypoint, command, environment
  (``PATH`` of the image's system folders), user (``redis``), working folder, and no
  learner option at all;
* ``network_mode: none``, a read-only root, every capability dropped, a small tmpfs;
* the learner's volume mounted **read-only**, never written: Redis' files are copied
  into the tmpfs and loaded there by the image's own ``redis-server``, with only the
  options that choose *which* files it loads and how (``--appendonly``,
  ``--dbfilename``...) taken over from the learner's container;
* hidden like the workspace helpers: named ``<prefix>-<learner>-.witness-<random>`` (no
  learner name starts with a dot) and labelled with :data:`LABEL_HELPER`, not the
  learner label, so no ``docker ps``, ``kill``, ``rename`` or ``rm`` of the learner can
  see or reach it; removed as soon as it has answered (and by the janitor after a crash).

What it prints (``frame`` lines, as the exec look printed them) is parsed here into the
record the check logs: ``{"reachable", "values", "others", "aof"}``.

Most looks need no process at all. A Redis started without ``--appendonly yes`` loads
only its snapshot file, and a plain snapshot is read from its bytes
(:mod:`bot.sandbox.redis.rdb`), taken with the engine's archive of the volume's folder in
the learner's container (``"read": "file"`` in the record): one request, nothing runs,
nothing is created, and the engine resolves the path within the container's files. The
file look answers only what the started witness would (the image's Redis release loads
that format; the witness's ``redis`` user may surely read the file). Anything it cannot
vouch for (an append-only setup, an unknown Redis release, a link, a large or unusual
file) goes to the started witness above, which costs the engine about what the learner's
own container did.
"""

from __future__ import annotations

import posixpath
import re
import secrets
import tarfile
import threading
import time
from collections.abc import Mapping
from typing import Any

import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.types import Mount

from bot.identity import Person
from bot.sandbox.engine.logs import container_logs
from bot.sandbox.engine.oneshot import run_once
from bot.sandbox.engine.targets import mount_targets
from bot.sandbox.engine.translate import boundary, engine_calls
from bot.sandbox.policy.naming import LABEL_MANAGED, LABEL_NAMESPACE
from bot.sandbox.redis.answers import NO_ANSWER, parse_answer, parse_key
from bot.sandbox.redis.rdb import FILE_LIMIT, highest_rdb_version, read_key
from bot.sandbox.resources.execs import ExecMixin
from bot.sandbox.workspace.archives import first_file, folder_file
from bot.sandbox.workspace.names import LABEL_HELPER
from bot.sandbox.workspace.tar_ids import remap_base
from bot.sandbox.workspace.volume import MODE_TYPE

LABEL_WITNESS = "docker-tutor.witness"
"""On a witness container: ``1`` (with :data:`LABEL_HELPER` naming the learner)."""

WITNESS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The witness's only ``PATH``: the image's system folders, nothing of the learner's."""

LOADED_OPTIONS = frozenset({
    "appendonly", "appendfilename", "appenddirname", "dbfilename", "databases",
    "aof-use-rdb-preamble", "rdbchecksum", "rdbcompression",
})
"""The learner's ``redis-server`` options the witness takes over: they choose which files
Redis loads and how it reads them. Everything else (port, dir, save...) is the witness's."""

SOURCE = "/src"
"""Where the witness mounts the learner's volume (read-only)."""

READ_LIMIT = 256 * 1024
"""The most bytes of the witness's answer the tutor reads."""

_SCRIPT = r"""
frame() { ( "$@"; echo "@@rc=$?" ) | base64 | tr -d '\n'; echo; }
src=$1; key=$2; tries=$3; db=$4; aofdir=$5; shift 5
command -v redis-server >/dev/null 2>&1 || { echo "@@absent"; exit 0; }
cd /w && mkdir -p /w/d || exit 0
if [ -n "$src" ]; then
  for f in "$db" "$aofdir"; do
    [ -e "$src/$f" ] || continue
    cp -R "$src/$f" /w/d/ 2>/dev/null || { echo "@@copyfailed"; exit 0; }
  done
fi
redis-server --dir /w/d --port 0 --unixsocket /w/redis.sock --save "" \
  --protected-mode no "$@" >/w/server.log 2>&1 &
server=$!
cli() { redis-cli -s /w/redis.sock --raw "$@"; }
n=0
until [ "$(cli ping 2>/dev/null)" = PONG ]; do
  n=$((n + 1))
  if [ "$n" -ge "$tries" ] || ! kill -0 "$server" 2>/dev/null; then
    echo "@@noanswer"; tail -n 5 /w/server.log | sed 's/^/@@log /'; exit 0
  fi
  sleep 0.05
done
echo "@@pong"
frame cli info persistence
frame cli info keyspace
for d in $(cli info keyspace | sed -n 's/^db\([0-9][0-9]*\):.*/\1/p'); do
  echo "@@db $d"
  frame cli -n "$d" type "$key"
  frame cli -n "$d" get "$key"
done
echo "@@end"
cli shutdown nosave >/dev/null 2>&1
"""
"""The witness's fixed command: copy Redis' files from the read-only volume into its tmpfs,
load them with the image's ``redis-server`` (unix socket only), then print every answer as
one base64 line ending ``@@rc=<status>`` (a value can forge no frame). The key and options
are arguments (``$2``, ``$@``), never spliced into the script."""

_ASK_SCRIPT = r"""
frame() { ( "$@"; echo "@@rc=$?" ) | base64 | tr -d '\n'; echo; }
cli() { redis-cli -h 127.0.0.1 --raw "$@"; }
command -v redis-cli >/dev/null 2>&1 || { echo "@@absent"; exit 0; }
n=0
until [ "$(cli ping 2>/dev/null)" = PONG ]; do
  n=$((n + 1))
  [ "$n" -ge "$2" ] && { echo "@@noanswer"; exit 0; }
  sleep 0.05
done
echo "@@pong"
frame cli exists "$1"
frame cli get "$1"
echo "@@end"
"""
"""The witness's question to a running Redis, from inside the learner container's network
namespace (its loopback only): ``exists`` then ``get`` of the key ``$1``."""

_POLL_SECONDS = 0.05

MAX_DATABASES = 1_000_000
"""The most ``databases`` a learner's Redis may ask for and still be read from its file."""

_IMAGE_FACTS: dict[tuple[str, str], tuple[int, int, int] | None] = {}
"""(image id, engine address) -> the highest RDB version the image's Redis loads and its
``redis`` user's uid and gid in the engine's archives (``None``: not read from files). An
image id names its bytes: this never goes stale."""

_PROBES: dict[tuple[str, str], threading.Lock] = {}
_PROBES_LOCK = threading.Lock()
_PROBE_FAILED: dict[tuple[str, str], float] = {}

PROBE_RETRY_SECONDS = 30.0
"""How long after a failed probe of an image's Redis release the file look is not tried."""

LOAD_SECONDS = 10.0
"""How long the witness's Redis may take to load the volume's files and answer. A few
milliseconds on a quiet engine; on two cores starting a class of 50 (and within the
learner containers' CPU share) a witness once took longer than the 5 s this was, and a look
that could not be taken is no proof. A server that exits (files it cannot load) is seen
at once: the witness stops waiting when its ``redis-server`` is gone."""


class RedisWitnessMixin(ExecMixin):
    """The tutor's witness container (see the module docstring)."""

    @boundary
    def redis_witness(self, person: Person, name: str, key: str, target: str,
                      options: Mapping[str, str], *, wait: float = LOAD_SECONDS) -> dict[str, Any]:
        """What the Redis in the person's container ``name`` finds of ``key`` on its volume.

        The volume is the one ``name`` mounts at ``target``; ``options`` are the
        container's own ``redis-server`` options (only :data:`LOADED_OPTIONS` count, and
        ``dir``, to find Redis' files inside the volume). Nothing runs in the learner's
        container: the tutor's witness reads the volume (see the module docstring).

        Returns:
            ``{"reachable": False, "why": ...}`` when there is no such container or
            volume, or the witness could not load the files; else ``{"reachable": True,
            "values": {db: value}, "others": {db: type}, "aof": bool, "witness": True}``.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        container = self._looked_up(ns, name)  # the line's read: `run` read it as it started
        if container is None:
            return {"reachable": False, "why": "no container"}
        attrs = container.attrs
        mount = next((m for m in attrs.get("Mounts") or []
                      if m.get("Destination") == target and m.get("Type") == "volume"), None)
        if mount is None:
            return {"reachable": False, "why": "no volume"}
        volume = str(mount.get("Name", ""))
        # The learner's volumes this container mounts, as the tutor recorded them on the
        # container it created after vetting them (a mounted volume cannot be removed, and
        # its labels never change): no request. An older container: one list of the
        # learner's own volumes.
        if volume not in self._volume_labels(ns, container):
            return {"reachable": False, "why": "not the learner's volume"}
        source = _source(target, str((attrs.get("Config") or {}).get("WorkingDir") or "/"),
                         options.get("dir", ""))
        owner = (ns.prefix, ns.learner)
        image = str(attrs.get("Image", ""))
        if options.get("appendonly", "no").lower() == "yes":
            # Only an append-only Redis writes Redis' files as it starts (its new
            # append-only file): wait for it to have done so before copying them.
            self._await_ready(container, wait)
        else:  # a snapshot only: read from the file itself when it is a plain one
            read = self._file_look(owner, container, target=target, source=source, key=key,
                                   options=options)
            if read is not None:
                return {"reachable": True, **read, "aof": False, "witness": True,
                        "read": "file"}
        args = [source, key, str(max(1, round(wait / _POLL_SECONDS))),
                options.get("dbfilename") or "dump.rdb",
                options.get("appenddirname") or "appendonlydir"]
        for option, value in sorted(options.items()):
            if option in LOADED_OPTIONS:
                args += [f"--{option}", *value.split()]
        output = self._run_redis_witness(owner, image, args, wait=wait, volume=volume)
        return {**parse_answer(output), "witness": True} if output is not None \
            else dict(NO_ANSWER)

    @boundary
    def ending(self, person: Person, name: str) -> dict[str, Any] | None:
        """How the person's container ``name`` ended (:func:`ending_of`); ``None``: no such one.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        container = self._looked_up(self.namespace(person), name)  # `stop` read it stopped
        if container is None:
            return None
        with engine_calls():
            return ending_of(container)

    @boundary
    def redis_get(self, person: Person, name: str, key: str) -> tuple[bool, str | None]:
        """Read ``key`` from the Redis running in the person's container, as the tutor.

        Asked by a witness that joins the container's network namespace and runs the
        image's own ``redis-cli`` against its loopback: no program of the container runs.
        (What the server answers is the learner's server's memory: the state checked.)

        Returns:
            ``(reachable, value)``: ``reachable`` is ``False`` when Redis did not answer
            (no container, not running, still loading); ``value`` is ``None`` for a
            missing key.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        container = self._running(person, name)
        if container is None:
            return False, None
        ns = self.namespace(person)
        output = self._run_redis_witness((ns.prefix, ns.learner), str(container.attrs.get("Image", "")),
                               [key, str(round(3.0 / _POLL_SECONDS))], wait=3.0,
                               network=f"container:{container.id}", script=_ASK_SCRIPT)
        return parse_key(output or "")

    @boundary
    def container_file(self, person: Person, name: str, path: str) -> tuple[bool, str | None]:
        """Whether ``path`` exists in the person's container ``name``, and its text.

        Read through the engine's archive endpoint: nothing runs inside the container, so
        no ``PATH``, binary or entrypoint of the learner's takes part. The text is ``None``
        for anything but a regular file (a folder, a link) and is cut at
        :data:`READ_LIMIT` bytes.

        Returns:
            ``(False, None)`` when there is no such container or path.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        container = self._find_container(self.namespace(person), name, by_id=False)
        if container is None:
            return False, None
        with engine_calls():
            try:
                chunks, stat = self.client.api.get_archive(container.id, path)
            except docker.errors.NotFound:
                return False, None
            if int(stat.get("mode", 0)) & MODE_TYPE or stat.get("linkTarget"):
                return True, None
            raw = first_file(chunks, READ_LIMIT)
        return True, None if raw is None else raw.decode("utf-8", "replace")

    def _file_look(self, owner: tuple[str, str], container: Container, *, target: str,
                   source: str, key: str, options: Mapping[str, str]) -> dict[str, dict[str, str]] | None:
        """``{"values", "others"}`` of ``key`` read from the volume's RDB file, or ``None``.

        The volume's top folder is read as the engine's archive of ``target`` in the
        learner's container, which mounts the volume there and nothing below it: one
        request, no process (nothing of the container runs; the engine resolves the path
        within the container's files, and a link is not followed). The snapshot in it is
        walked by :func:`~bot.sandbox.redis.rdb.read_key`, and the started witness's
        ``redis`` user must surely be able to enter the folder and read the file, as it
        must to copy it. ``None`` whenever the look cannot vouch for what that witness
        would find (an unknown Redis release, Redis' folder below the volume's top, a
        mount inside the volume, a link, a large or unusual file, a mode that depends on
        groups...): the caller starts the witness.
        """
        dbfilename = options.get("dbfilename") or "dump.rdb"
        databases = options.get("databases", "16")
        if "/" in dbfilename or not databases.isdigit() \
                or not 1 <= int(databases) <= MAX_DATABASES:
            return None
        if not source:  # Redis' folder is not in the volume: it loads nothing from it
            return {"values": {}, "others": {}}
        inside = target.rstrip("/") + "/"
        if source != SOURCE or any(t.startswith(inside) for t in mount_targets(container.attrs)):
            return None
        facts = self._redis_release(owner, str(container.attrs.get("Image", "")))
        if facts is None:
            return None
        highest, uid, gid = facts
        with engine_calls():
            try:
                chunks, _ = self.client.api.get_archive(container.id, target)
            except docker.errors.NotFound:
                return None  # removed meanwhile (`--rm`)
            found = folder_file(chunks, dbfilename, FILE_LIMIT)
        if found is None or not surely_may(found.folder, uid, gid, 0o1):
            return None
        if found.file is None:
            return {"values": {}, "others": {}}  # no snapshot: Redis starts empty
        if found.data is None or not surely_may(found.file, uid, gid, 0o4):
            return None
        look = read_key(found.data, key.encode("utf-8"), highest_version=highest,
                        databases=int(databases), now_ms=int(time.time() * 1000))
        return None if look is None else {"values": look.values, "others": look.others}

    def _redis_release(self, owner: tuple[str, str], image: str) -> tuple[int, int, int] | None:
        """The highest RDB version ``image``'s Redis loads, and its ``redis`` user's ids.

        The ids are as this engine's archives show them: an engine that remaps user
        namespaces hands archives out with the host's ids (:func:`~bot.sandbox.workspace.
        tar_ids.remap_base`). Asked once per image id and engine by a started witness
        (``None``: not read from files). A class reaching the challenge together asks
        once: the others wait for that answer (a failed probe is not asked again for
        :data:`PROBE_RETRY_SECONDS`; meanwhile the started witness answers).
        """
        cached = (image, str(self.client.api.base_url))
        with _PROBES_LOCK:
            probe = _PROBES.setdefault(cached, threading.Lock())
        with probe:
            if cached in _IMAGE_FACTS:
                return _IMAGE_FACTS[cached]
            if time.monotonic() - _PROBE_FAILED.get(cached, -PROBE_RETRY_SECONDS) \
                    < PROBE_RETRY_SECONDS:
                return None
            output = self._run_redis_witness(owner, image, [], wait=5.0,
                                             script="redis-server --version && id -u && id -g")
            if output is None:
                _PROBE_FAILED[cached] = time.monotonic()
                return None
            lines = output.split()
            highest = highest_rdb_version(output)
            facts = None
            if highest is not None and len(lines) >= 2 and lines[-1].isdigit() \
                    and lines[-2].isdigit():
                with engine_calls():
                    base_uid, base_gid = remap_base(self.client)
                facts = (highest, int(lines[-2]) + base_uid, int(lines[-1]) + base_gid)
            _IMAGE_FACTS[cached] = facts
            return facts

    def _await_ready(self, container: Container, wait: float) -> None:
        """Wait (at most ``wait`` s) for the learner's Redis to say it has loaded its files.

        Only the timing depends on the learner's container (a Redis that starts with
        ``--appendonly yes`` writes its new append-only file as it starts): what is read
        comes from the volume alone.
        """
        deadline = time.monotonic() + wait
        pause = _POLL_SECONDS
        while time.monotonic() < deadline:
            try:
                if b"Ready to accept connections" in container_logs(container, tail=50):
                    return
                with engine_calls():
                    container.reload()  # only when the log does not say it yet
            except (docker.errors.APIError, requests.exceptions.RequestException):
                return
            if container.status != "running":
                return
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)  # a Redis that loads fast is seen fast; a slow one costs few looks

    def _run_redis_witness(self, owner: tuple[str, str], image: str, args: list[str], *, wait: float,
                 volume: str | None = None, network: str = "none",
                 script: str = _SCRIPT) -> str | None:
        """Run the witness once; its printed answer (``None``: it could not run).

        ``owner`` is the namespace prefix and the learner hash its labels and name carry;
        ``volume`` (an engine name) is mounted read-only at :data:`SOURCE`; ``network`` is
        ``none`` or ``container:<id>`` (a learner container's loopback, to ask its Redis).
        """
        prefix, learner = owner
        limits = self._host_limits()
        settings: dict[str, Any] = {
            key: limits[key] for key in ("runtime", "mem_limit", "memswap_limit", "nano_cpus",
                                         "pids_limit", "oom_score_adj")
            if key in limits
        }
        labels = {LABEL_MANAGED: "1", LABEL_NAMESPACE: prefix, LABEL_HELPER: learner,
                  LABEL_WITNESS: "1"}
        settings.update(
            entrypoint=["/bin/sh", "-c", script, "witness"], command=args,
            name=f"{prefix}-{learner}-.witness-{secrets.token_hex(4)}",
            labels=labels, user="redis",
            environment=[f"PATH={WITNESS_PATH}", "HOME=/w", "LANG=C"],
            network_mode=network, read_only=True, cap_drop=["ALL"],
            security_opt=["no-new-privileges"], privileged=False, ipc_mode="private",
            cgroupns="private", init=True, tmpfs={"/w": "size=96m,mode=1777", "/data": "size=1m"},
            mounts=[Mount(SOURCE, volume, type="volume", read_only=True, no_copy=True)]
            if volume else [],
            log_config={"type": "json-file", "config": {"max-size": "1m"}},
            restart_policy={"Name": "no"},
        )
        try:
            done = run_once(self.client.api, image, settings, seconds=wait + 10,
                            limit=READ_LIMIT, stderr=False)
        except docker.errors.APIError:  # no such image, or the engine refused it
            return None
        return done.output.decode("utf-8", "replace")

CAUSES = re.compile(
    r"Permission denied|Out of memory|OOM|No space left|Can't save|Failed opening|"
    r"Error trying to save|MISCONF|Read-only file system|Bad file format", re.IGNORECASE)
"""Log lines that say why a server could not keep its data or stopped."""


def ending_of(container: Container) -> dict[str, Any]:
    """How a stopped container ended: exit code, OOM kill, and the cause its log gives.

    The log is the learner's program's own words: it explains, it proves nothing. It is
    read only for an ending that needs explaining (a non-zero exit code, an OOM kill): a
    Redis that could not save as it was stopped does not exit cleanly (it refuses to
    exit, and ``docker stop`` kills it), so a clean exit has nothing to explain.
    """
    state = container.attrs.get("State") or {}
    code, oom = int(state.get("ExitCode") or 0), bool(state.get("OOMKilled"))
    cause = ""
    if code or oom:
        lines = container_logs(container, tail=40).decode("utf-8", "replace").splitlines()
        cause = next((line.strip() for line in lines if CAUSES.search(line)), "")
    return {"exit": code, "oom": oom, "cause": cause[:300], "running": bool(state.get("Running"))}


def surely_may(member: tarfile.TarInfo, uid: int, gid: int, want: int) -> bool:
    """Whether user ``uid`` (primary group ``gid``) surely has ``want`` (4 read, 1 search) on it.

    POSIX picks one class of bits: the owner's, else the group's, else the others'. The
    user's other groups are not known, so an owner neither the user nor of its group
    counts only when the group's bits and the others' both allow it.
    """
    mode = member.mode
    if member.uid == uid:
        return bool(mode & (want << 6))
    if member.gid == gid:
        return bool(mode & (want << 3))
    return bool(mode & want) and bool(mode & (want << 3))


def _source(target: str, workdir: str, folder: str) -> str:
    """Where Redis' files are inside the volume mounted at ``target`` (``""``: not in it).

    ``folder`` is the learner's ``--dir`` (relative to the container's working folder),
    ``""`` for the image's default (its working folder, ``/data``).
    """
    where = posixpath.normpath(posixpath.join(workdir or "/", folder or "."))
    rel = posixpath.relpath(where, target) if where.startswith(target.rstrip("/") + "/") \
        or where == target else None
    if rel is None:
        return ""
    return SOURCE if rel == "." else f"{SOURCE}/{rel}"


__all__ = ["LABEL_WITNESS", "RedisWitnessMixin"]
