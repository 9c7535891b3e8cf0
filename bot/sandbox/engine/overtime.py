"""Processes that outlive a command's time limit, found from the engine's side and stopped.

The time limit of an ``exec`` is first kept inside the container (``timeout -s KILL``),
but everything inside a learner's container is the learner's to replace: a ``timeout``
earlier in ``PATH``, a double fork, a process that ignores its parent's death (issue 11,
finding 8). So at the limit the tutor looks from outside: ``docker top`` runs ``ps`` on
the engine's host, which the container cannot fake, and lists the container's processes
with their parents. Whatever descends from the exec's own process, and any process
re-parented to the container's init that is not its main process (an orphan some exec
left), is past the limit: the container is killed. Its files are kept; the learner is
told and can ``docker start`` it.

Detached execs (``docker exec -d``) are checked at their limit (their own process tree)
by one scheduler thread (:class:`Overtime`), not one thread each.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import docker

log = logging.getLogger("docker_tutor.sandbox")


def leftover_pids(api: docker.APIClient, container_id: str, exec_pid: int | None, *,
                  younger_than: float) -> list[int]:
    """Host pids, in ``container_id``, of what an exec started that still runs.

    The exec's own process and its descendants, and every process re-parented to the
    container's init (``--init``) other than its main process that is younger than the
    exec (``younger_than`` seconds: an orphan the main process made long before is not
    the exec's), with their descendants.

    Returns:
        The pids (empty when nothing is left, or the container is not running).

    Raises:
        docker.errors.APIError: The engine refused (a container that stopped meanwhile
            answers 409, which callers treat as nothing left).
    """
    state = (api.inspect_container(container_id).get("State") or {})
    if not state.get("Running"):
        return []
    init = int(state.get("Pid") or 0)
    top: dict[str, Any] = api.top(container_id, ps_args="-eo pid,ppid,etimes")
    rows = []
    for row in top.get("Processes") or []:
        try:
            rows.append((int(row[0]), int(row[1]), int(row[2])))
        except (ValueError, IndexError):
            continue
    children: dict[int, list[int]] = {}
    for pid, ppid, _ in rows:
        children.setdefault(ppid, []).append(pid)
    under_init = sorted((r for r in rows if r[1] == init), key=lambda r: -r[2])
    # The oldest child of init is the main process; the others are orphans.
    roots = [pid for pid, _, age in under_init[1:] if age <= younger_than]
    if exec_pid:
        roots.append(exec_pid)
    present = {pid for pid, _, _ in rows}
    found: set[int] = set()
    while roots:
        pid = roots.pop()
        if pid in found or pid == init:
            continue
        if pid in present:
            found.add(pid)
        roots.extend(children.get(pid, []))
    return sorted(found)


class Overtime:
    """One daemon thread that runs callbacks at their time (checks of detached execs)."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def at(self, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` at ``when`` (``time.monotonic()`` clock); errors are swallowed."""
        with self._wake:
            heapq.heappush(self._queue, (when, next(self._order), callback))
            if self._thread is None:  # (the thread ends when nothing is left to run)
                self._thread = threading.Thread(target=self._run, name="exec-overtime",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._queue:
                    self._thread = None
                    return
                while self._queue[0][0] > time.monotonic():
                    self._wake.wait(self._queue[0][0] - time.monotonic())
                _, _, callback = heapq.heappop(self._queue)
            try:
                callback()
            except Exception:  # a failed check must not end the thread
                log.exception("an overtime check failed")
