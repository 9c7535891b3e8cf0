"""The disk meter: one tutor-owned container per engine that measures learners' disk, bounded.

The engine's own ``GET /system/df`` walks every container's layer and every volume of the
engine in one operation, one at a time engine-wide: a learner's inode flood (120,000
empty files) kept it busy for minutes and switched the quota off for every deployment on
the engine; and it never sees a file that is deleted but still open (finding 5).

The meter is a busybox container the tutor creates once per engine and namespace
(``<prefix>-disk-meter``), never a learner's: a fixed command (``sleep``), no network, a
read-only root, the engine's data root mounted read-only at ``/engine``, the host's
process table (``pid=host``, ``userns=host``) and only ``SYS_PTRACE`` and
``DAC_READ_SEARCH`` (to read other processes' open files and every file). Each
measurement is one ``exec`` of :data:`SCRIPT` (four engine requests in all, whatever the
class size), which, **per learner, under its own time budget** (``timeout -s KILL``):

* walks each of the learner's volumes (and workspace) and, on overlay engines, each
  container's writable layer (``<driver>/<mount-id>/diff``) with ``du -a``, stopping after
  :data:`ENTRY_CAP` entries in all: a flood costs at most that many entries and is itself
  over the limit;
* reads ``/proc/<pid>/fd`` of every process of the learner's running containers (found by
  their cgroup) and sums the allocated blocks of open files with no link left (deleted
  but open), skipping the container's ``/dev/shm`` (memory, under the memory limit); at
  most 1,000 such files per process are looked at (one ``stat``), more is over the cap;
* reports, per running container, its process ids and their bytes written (``wchar``):
  what proves which container is active when several share a volume that grew.

A learner whose walk hits the cap or the time budget is reported as such; the watcher
treats that as over the quota. Nothing a learner controls runs here: the binaries are the
meter's own image, the command is the tutor's, and the learner's files are only read.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors

from bot.sandbox.workspace.names import LABEL_HELPER, LABEL_WORKSPACE

log = logging.getLogger("docker_tutor.sandbox.disk")

LABEL_METER = "docker-tutor.disk-meter"
"""On the meter container (it belongs to no learner)."""

LABEL_OWN = "docker-tutor.own"
"""On the tutor's own containers (meter, lease, probe): the deployment's prefix.

Not :data:`~bot.sandbox.policy.naming.LABEL_NAMESPACE`: they are no learner's objects, so
nothing that lists a deployment's objects (views, housekeeping, reports) sees them;
:func:`~bot.sandbox.pool.janitor.purge_prefix` removes them with the rest."""

METER_IMAGE = "busybox:latest"
"""The meter's image (a lesson image every engine of the tutor holds)."""

ENTRY_CAP = 50_000
"""The most files and folders one learner's measurement walks (an inode limit too)."""

LEARNER_SECONDS = 3.0
"""The most wall time one learner's measurement may take before it is called over."""

LAYER_DRIVERS = {"overlay2": "overlay2", "fuse-overlayfs": "fuse-overlayfs"}
"""Storage drivers whose writable layer is a plain ``diff`` folder the meter can walk."""

SCRIPT = r"""
cap=$1; secs=$2; driver=$3; shift 3
one='
l=$1; cap=$2; driver=$3; shift 3; left=$cap; FDS=1000
walk() {
  [ $left -gt 0 ] || { echo "$1 $l $2 skip 0 0"; return; }
  r=$(du -a -k -x "$3" 2>/dev/null |
      awk -v cap=$left "NR>cap{o=1; exit} {k=\$1} END{print (o?\"cap\":\"ok\"), NR, k+0}")
  echo "$1 $l $2 $r"; set -- $r; left=$((left - $2))
}
for a in "$@"; do
  case $a in
  v:*) n=${a#v:}; [ -d /engine/volumes/$n/_data ] && walk V $n /engine/volumes/$n/_data ;;
  u:*) n=${a#u:}; [ -n "$driver" ] || continue
       m=$(cat /engine/image/$driver/layerdb/mounts/$n/mount-id 2>/dev/null) || continue
       [ -d /engine/$driver/$m/diff ] && walk U $n /engine/$driver/$m/diff ;;
  p:*) n=${a#p:}; pids=$(grep -l "$n" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 | sort -n)
       held=0; w=0; many=ok
       for p in $pids; do
         shm=$(stat -L -c %d /proc/$p/root/dev/shm 2>/dev/null)
         fds=$(ls -l /proc/$p/fd/ 2>/dev/null | awk "/ [(]deleted[)]\$/{print \"/proc/$p/fd/\" \$9}" |
               head -n $((FDS + 1)))
         [ $(echo "$fds" | wc -w) -gt $FDS ] && many=cap
         h=0; [ -n "$fds" ] && h=$(stat -L -c "%b %B %d %i %F" $fds 2>/dev/null |
             awk -v shm="$shm" "/regular/ && \$3!=shm && !s[\$3\" \"\$4]++ {t+=\$1*\$2} END{print t+0}")
         held=$((held + h))
         c=$(awk "/^wchar/{print \$2}" /proc/$p/io 2>/dev/null); w=$((w + ${c:-0}))
       done
       echo "D $l $n $held $w $(echo $pids | tr " " , | sed "s/^$/-/") $many" ;;
  esac
done
echo "E $l"
'
l=""; args=""
run() { [ -n "$l" ] && { timeout -s KILL "$secs" sh -c "$one" sh $l $cap "$driver" $args || echo "T $l"; }; }
for a in "$@"; do
  case $a in
  @*) run; l=${a#@}; args="" ;;
  *) args="$args $a" ;;
  esac
done
run
echo END
"""
"""The measurement, run by ``sh -c`` in the meter; arguments: cap, seconds, driver, then
per learner ``@<learner>`` followed by ``v:<volume>``, ``u:<container id>`` (layer) and
``p:<container id>`` (processes of a running container). Names are engine names
(``[A-Za-z0-9_.-]``) and hex ids: nothing needs quoting. Its last line is ``END``: output
without it is not a measurement (the exec never ran, or was killed part way)."""

END = "END"
"""The script's last line (see :data:`SCRIPT`)."""


@dataclass
class Measure:
    """One look at the deployment's disk use, per learner.

    Attributes:
        by_learner: Bytes per learner hash (layers, volumes, workspace, deleted-open files).
        layers: Container id -> (learner, bytes of its writable layer), where measured.
        volumes: Volume engine name -> (learner, bytes).
        held: Container id -> bytes of deleted files its processes hold open.
        activity: Container id -> (bytes its live processes wrote, their process ids).
        capped: Volume names and container ids whose walk reached :data:`ENTRY_CAP`.
        slow: Learners whose measurement ran out of time (reported over the quota).
        running: Learner hash -> their running containers (the engine's summaries).
        seconds: Wall time of the measurement.
    """

    by_learner: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    layers: dict[str, tuple[str, int]] = field(default_factory=dict)
    volumes: dict[str, tuple[str, int]] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    activity: dict[str, tuple[int, tuple[int, ...]]] = field(default_factory=dict)
    capped: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    running: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0

    def flagged(self, learner: str) -> bool:
        """Whether the learner's measurement hit the entry cap or the time budget."""
        if learner in self.slow:
            return True
        if any(str(c.get("Id", "")) in self.capped for c in self.running.get(learner, [])):
            return True  # too many deleted-open files (or a layer walked to the cap)
        return any(self.volumes.get(n, ("", 0))[0] == learner or
                   self.layers.get(n, ("", 0))[0] == learner for n in self.capped)


def parse(output: str, into: Measure) -> Measure:
    """Fill ``into`` from the script's output lines (unknown lines are ignored)."""
    for line in output.splitlines():
        word = line.split()
        try:
            if word[0] in ("V", "U") and len(word) == 6:
                learner, name, status, size = word[1], word[2], word[3], int(word[5]) * 1024
                if status == "skip":  # the learner's cap was reached before this one
                    continue
                (into.volumes if word[0] == "V" else into.layers)[name] = (learner, size)
                into.by_learner[learner] += size
                if status == "cap":
                    into.capped.add(name)
            elif word[0] == "D" and len(word) == 7:
                learner, cid, held, wrote = word[1], word[2], int(word[3]), int(word[4])
                pids = tuple(int(p) for p in word[5].split(",") if p != "-")
                into.held[cid] = held
                into.activity[cid] = (wrote, pids)
                into.by_learner[learner] += held
                if word[6] == "cap":  # more deleted-open files than are looked at
                    into.capped.add(cid)
            elif word[0] == "T" and len(word) == 2:
                into.slow.add(word[1])
        except (IndexError, ValueError):
            continue
    return into


class MeterRefused(RuntimeError):
    """The engine will not create or start the meter (a host path, ``pid=host`` refused...)."""


class MeterFailed(RuntimeError):
    """A look whose script did not finish: its output is not a measurement, the next look tries again."""


class Meter:
    """The meter container of one engine and namespace, created on first use.

    Args:
        client: The engine.
        prefix: The deployment's namespace prefix.
        image: The meter's image.
    """

    def __init__(self, client: docker.DockerClient, prefix: str, image: str = METER_IMAGE) -> None:
        self.client = client
        self.prefix = prefix
        self.image = image
        self.name = f"{prefix}-disk-meter"
        self._id: str | None = None
        self._driver: str | None = None

    def driver(self) -> str:
        """The engine's storage driver (``overlay2``, ``btrfs``...), read once."""
        if self._driver is None:
            self._driver = str(self.client.api.info().get("Driver") or "")
        return self._driver

    def ensure(self) -> str:
        """The meter's id (created and started if needed; a twin process's is reused).

        Once known, the id is trusted without asking the engine: a look costs four
        requests (containers, volumes, exec create, exec start).
        """
        api = self.client.api
        if self._id is not None:
            return self._id  # trusted until an exec in it fails (see measure)
        cid = ""
        for _ in range(20):  # a twin's create in flight holds the name before it can be found
            try:
                cid = str(api.inspect_container(self.name)["Id"])
                break
            except docker.errors.NotFound:
                pass
            try:
                cid = str(api.create_container(
                    self.image, command=["sleep", "2147483647"], name=self.name,
                    labels={LABEL_OWN: self.prefix, LABEL_METER: "1"},
                    host_config=self._host_config(), network_disabled=True)["Id"])
                break
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: a twin process is creating it
                    raise MeterRefused(f"creating it: {exc.explanation or exc}") from exc
            time.sleep(0.1)
        else:
            raise MeterRefused(f"{self.name} held by a create that never finished")
        try:
            api.start(cid)
        except docker.errors.APIError as exc:
            if exc.status_code != 304:  # already started
                raise MeterRefused(f"starting it: {exc.explanation or exc}") from exc
        self._id = cid
        return cid

    def _run(self, command: list[str]) -> str:
        """The standard output of the script ``command`` run in the meter (started if needed).

        The engine reports a container that exits around an exec three ways: 409 on the
        create, 500 on the start, or an output that is the runtime's complaint. Only an
        output ending in :data:`END` is the script's.

        Raises:
            docker.errors.APIError: The engine refused the exec.
            MeterFailed: The script did not finish.
        """
        api = self.client.api
        execution = api.exec_create(self.ensure(), command, stdout=True, stderr=False)
        output = api.exec_start(execution["Id"])
        text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
        lines = text.rstrip("\n").rsplit("\n", 1)
        if lines[-1].strip() != END:
            raise MeterFailed(f"the look did not finish: {lines[-1].strip()[:200]!r}")
        return text

    def _engines_fault(self) -> bool:
        """Whether a failed look is the engine's: the meter was never reached, or it still runs.

        Otherwise the meter is gone or stopped (it may exit between any two requests).
        """
        if self._id is None:
            return True
        try:
            return bool(self.client.api.inspect_container(self._id)["State"]["Running"])
        except docker.errors.NotFound:
            return False

    def _host_config(self) -> dict[str, Any]:
        api = self.client.api
        root = str(api.info().get("DockerRootDir") or "/var/lib/docker")
        config: dict[str, Any] = api.create_host_config(
            binds={root: {"bind": "/engine", "mode": "ro"}}, pid_mode="host",
            userns_mode="host", network_mode="none", read_only=True, runtime="runc",
            cap_drop=["ALL"], cap_add=["SYS_PTRACE", "DAC_READ_SEARCH"],
            security_opt=["no-new-privileges"], mem_limit=64 * 2**20, pids_limit=64,
            tmpfs={"/tmp": "size=1m"})  # noqa: S108 - the meter's own, empty
        return config

    def measure(self, containers: list[dict[str, Any]], volumes: list[dict[str, Any]],
                owner: Any, *, cap: int = ENTRY_CAP,
                seconds: float = LEARNER_SECONDS) -> Measure:
        """Measure what ``containers`` and ``volumes`` (the engine's summaries) use.

        Args:
            containers: The deployment's containers (any state), from ``GET /containers/json``;
                with ``SizeRw`` (``size=1``) on engines whose layers the meter cannot walk.
            volumes: The deployment's volumes, from ``GET /volumes``.
            owner: ``owner(labels, hidden_label) -> learner hash or ""``.
            cap: Entries walked per learner at most.
            seconds: Wall time per learner at most.
        """
        found = Measure()
        items: dict[str, list[str]] = defaultdict(list)
        driver = LAYER_DRIVERS.get(self.driver(), "")
        for container in containers:
            learner = owner(container.get("Labels"), LABEL_HELPER)
            if not learner:
                continue
            cid = str(container["Id"])
            if container.get("State") == "running":  # processes first: cheap, and known
                items[learner].insert(0, f"p:{cid}")  # even when the walks run out of time
                found.running[learner].append(container)
            if driver:
                items[learner].append(f"u:{cid}")
            elif "SizeRw" in container:  # a driver the meter cannot walk: the engine's size
                size = max(0, int(container.get("SizeRw") or 0))
                found.layers[cid] = (learner, size)
                found.by_learner[learner] += size
        for volume in volumes:
            learner = owner(volume.get("Labels"), LABEL_WORKSPACE)
            if learner:
                items[learner].append(f"v:{volume['Name']}")
        if not items:
            return found
        argv = [str(cap), f"{seconds:g}", driver]
        for learner, parts in sorted(items.items()):
            argv += [f"@{learner}", *parts]
        began = time.monotonic()
        command = ["sh", "-c", SCRIPT, "meter", *argv]
        try:
            text = self._run(command)
        except (docker.errors.APIError, MeterFailed):
            if self._engines_fault():
                raise  # the engine was busy: the next look tries again
            self._id = None  # gone or stopped (by an operator, a prune): make it again, once
            try:
                text = self._run(command)
            except (docker.errors.APIError, MeterFailed) as exc:
                if self._engines_fault():
                    raise
                reason = exc.explanation if isinstance(exc, docker.errors.APIError) else exc
                raise MeterRefused(f"it does not stay running: {reason or exc}") from exc
        found.seconds = time.monotonic() - began
        return parse(text, found)
