"""Cleanup of learners' engine objects: the idle reaper and the start-up reconciliation.

Two passes, both reading the engine (through :mod:`bot.sandbox.pool.janitor`) and the
progress store (:meth:`~bot.progress.ProgressStore.learner_activity`):

* :func:`reap` removes the containers of learners idle longer than
  ``Limits.idle_containers_minutes`` (default 120) and, past
  ``Limits.idle_volumes_hours`` (default 72), their volumes too.
* :func:`reconcile` removes what a crash can leave behind: objects of this deployment
  whose learner the database does not know, anonymous volumes no container uses, and
  containers created but never started.

Both only ever touch objects labelled with this deployment's namespace prefix, spare
objects younger than a grace period (a ``docker run`` may be half-way), and re-read
learners' activity just before removing anything. :class:`HousekeepingThread` runs them
in a background thread for ``serve`` (started by ``Tutor.start_housekeeping``);
``docker-tutor sandbox reap`` runs them once.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType

from bot.errors import TutorError
from bot.progress import ProgressStore
from bot.sandbox import EngineObject, Janitor, learner_hash

log = logging.getLogger("docker_tutor.housekeeping")

DEFAULT_GRACE = timedelta(minutes=2)
"""Objects younger than this are never removed by :func:`reconcile` (a ``run`` may be
between creating a volume and starting its container)."""


@dataclass
class Report:
    """What one housekeeping pass removed (or, with ``dry_run``, would remove).

    Attributes:
        containers: Containers removed.
        volumes: Volumes removed.
        networks: Networks removed.
        learners: Hashes of the learners whose objects were removed.
        reasons: How many objects were removed for each reason (``idle``,
            ``idle-volumes``, ``unknown-learner``, ``unstarted``, ``anonymous-unused``).
        dry_run: Nothing was removed; the counts say what would have been.
    """

    containers: int = 0
    volumes: int = 0
    networks: int = 0
    learners: set[str] = field(default_factory=set)
    reasons: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    def merge(self, other: Report) -> Report:
        """Add another pass's counts to this one and return it."""
        self.containers += other.containers
        self.volumes += other.volumes
        self.networks += other.networks
        self.learners |= other.learners
        self.reasons.update(other.reasons)
        return self

    def summary(self) -> str:
        """One line for logs and the command line."""
        verb = "would remove" if self.dry_run else "removed"
        why = ", ".join(f"{k}: {v}" for k, v in sorted(self.reasons.items())) or "nothing to do"
        nets = f", {self.networks} network(s)" if self.networks else ""
        return (f"{verb} {self.containers} container(s){nets} and {self.volumes} volume(s) of "
                f"{len(self.learners)} learner(s) ({why})")


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _activity(store: ProgressStore, prefix: str) -> dict[str, datetime]:
    """Learner hash -> last activity, from the database."""
    return {learner_hash(prefix, key): when for key, when in store.learner_activity().items()}


def _placed_here(janitor: Janitor, store: ProgressStore) -> set[str] | None:
    """For one engine of a pool, the hashes of the learners placed on it (``None``: no pool)."""
    settings = janitor.settings
    if not settings.engines:
        return None
    return {learner_hash(settings.namespace, key) for key, (engine, _) in store.placements().items()
            if engine == settings.docker_host}


def _last_seen(db_seen: datetime | None, objects: list[EngineObject]) -> datetime | None:
    """A learner's last activity: the database's, or their newest object's creation."""
    times = [t for t in [db_seen, *(o.created for o in objects)] if t is not None]
    return max(times) if times else None


def _remove(janitor: Janitor, plan: list[tuple[EngineObject, str]], *, dry_run: bool) -> Report:
    """Remove planned objects, containers first, and count what went."""
    report = Report(dry_run=dry_run)
    ordered = sorted(plan, key=lambda item: item[0].kind != "container")
    for obj, reason in ordered:
        if not dry_run and not janitor.remove(obj):
            continue
        if obj.kind == "container":
            report.containers += 1
        elif obj.kind == "network":
            report.networks += 1
        else:
            report.volumes += 1
        report.learners.add(obj.learner)
        report.reasons[reason] += 1
        log.info("%s %s %s of learner %s (%s)", "would remove" if dry_run else "removed",
                 obj.kind, obj.name or obj.ref[:12], obj.learner, reason)
    return report


def _orphaned_anonymous(
    objects: list[EngineObject], removed: set[str], now: datetime, grace: timedelta
) -> list[EngineObject]:
    """Anonymous volumes that no container outside ``removed`` mounts, past the grace."""
    used = {
        name for obj in objects
        if obj.kind == "container" and obj.ref not in removed
        for name in obj.volumes
    }
    return [
        obj for obj in objects
        if obj.kind == "volume" and obj.anonymous and obj.ref not in used
        and (obj.created is None or now - obj.created >= grace)
    ]


def _carry_out(
    what: str,
    janitor: Janitor,
    objects: list[EngineObject],
    plan: list[tuple[EngineObject, str]],
    *,
    now: datetime,
    grace: timedelta,
    dry_run: bool,
) -> Report:
    """Add the anonymous volumes the plan leaves unused, remove everything, log it."""
    removed = {obj.ref for obj, _ in plan if obj.kind == "container"}
    planned = {obj.ref for obj, _ in plan}
    plan = plan + [(obj, "anonymous-unused")
                   for obj in _orphaned_anonymous(objects, removed, now, grace)
                   if obj.ref not in planned]
    report = _remove(janitor, plan, dry_run=dry_run)
    log.info("%s: %s", what, report.summary())
    return report


def reap(
    janitor: Janitor,
    store: ProgressStore,
    *,
    now: datetime | None = None,
    idle_containers: timedelta | None = None,
    idle_volumes: timedelta | None = None,
    grace: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
) -> Report:
    """Remove the containers of idle learners, and the volumes of long-idle ones.

    A learner's last activity is ``learners.last_active_at`` in the store, or, for a
    learner the store does not know, the creation of their newest engine object.
    Anonymous volumes that no remaining container uses go too.

    Args:
        janitor: One engine's janitor (its engine and settings), from
            :meth:`LearnerSandbox.janitors() <bot.sandbox.LearnerSandbox.janitors>`.
        store: The progress store.
        now: The current time (tests pass one); UTC now by default.
        idle_containers: Idle time after which containers go; default from
            ``Limits.idle_containers_minutes``.
        idle_volumes: Idle time after which volumes go too; default from
            ``Limits.idle_volumes_hours``.
        grace: Anonymous volumes younger than this are kept.
        dry_run: Only count what would be removed.

    Raises:
        EngineUnavailable: The engine could not be reached.
        StoreError: The store could not be read.
    """
    now = _now(now)
    limits = janitor.settings.limits
    idle_c = (idle_containers if idle_containers is not None
              else timedelta(minutes=limits.idle_containers_minutes))
    idle_v = (idle_volumes if idle_volumes is not None
              else timedelta(hours=limits.idle_volumes_hours))
    prefix = janitor.prefix
    objects = janitor.inventory()
    activity = _activity(store, prefix)
    by_learner: dict[str, list[EngineObject]] = {}
    for obj in objects:
        by_learner.setdefault(obj.learner, []).append(obj)
    plan: list[tuple[EngineObject, str]] = []
    for learner, owned in by_learner.items():
        last = _last_seen(activity.get(learner), owned)
        idle = now - last if last is not None else timedelta.max
        if idle > idle_v:
            plan += [(obj, "idle-volumes") for obj in owned]
        elif idle > idle_c:
            plan += [(obj, "idle") for obj in owned if obj.kind == "container"]
    # Someone may have come back while we looked: read their activity again.
    fresh = _activity(store, prefix)
    plan = [
        (obj, reason) for obj, reason in plan
        if obj.learner not in fresh
        or now - fresh[obj.learner] > (idle_v if reason == "idle-volumes" else idle_c)
    ]
    return _carry_out("reap", janitor, objects, plan, now=now, grace=grace, dry_run=dry_run)


def reconcile(
    janitor: Janitor,
    store: ProgressStore,
    *,
    now: datetime | None = None,
    grace: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
) -> Report:
    """Make the engine agree with the database after a start or a crash.

    Removes, among this deployment's objects older than ``grace``: everything of a
    learner the database does not know, containers created but never started, and
    anonymous volumes no remaining container uses; on one engine of a pool, the objects of
    learners placed on another engine (left behind when ``reset`` moved them off this one
    while it was down). Run it at start-up, with this
    deployment's own ``TUTOR_NAMESPACE`` and database: a database that does not know
    the namespace's learners would have all their objects removed.

    Args:
        janitor: One engine's janitor (its engine and settings).
        store: The progress store.
        now: The current time (tests pass one); UTC now by default.
        grace: Objects younger than this are kept.
        dry_run: Only count what would be removed.

    Raises:
        EngineUnavailable: The engine could not be reached.
        StoreError: The store could not be read.
    """
    now = _now(now)
    objects = janitor.inventory()
    known = set(_activity(store, janitor.prefix))
    here = _placed_here(janitor, store)
    plan: list[tuple[EngineObject, str]] = []
    for obj in objects:
        if obj.created is not None and now - obj.created < grace:
            continue
        if obj.learner not in known:
            plan.append((obj, "unknown-learner"))
        elif here is not None and obj.learner not in here:
            plan.append((obj, "placed-elsewhere"))  # left behind by a reset off a dead engine
        elif obj.kind == "container" and obj.unstarted:
            plan.append((obj, "unstarted"))
    return _carry_out("reconcile", janitor, objects, plan, now=now, grace=grace,
                      dry_run=dry_run)


class HousekeepingThread:
    """Runs :func:`reconcile` once and :func:`reap` every ``interval`` seconds, in a thread.

    ``serve`` starts one next to the Slack app (through ``Tutor.start_housekeeping``)::

        housekeeping = HousekeepingThread(janitor, store)
        housekeeping.start()      # reconciles first, then reaps every interval
        ...
        housekeeping.stop()

    Errors of a pass are logged and counted; the thread keeps going.

    Args:
        janitor: One engine's janitor (its engine and settings).
        store: The progress store.
        interval: Seconds between passes; default ``Limits.reap_interval_seconds``.
        reconcile_first: Run :func:`reconcile` before the first :func:`reap`.
        grace: Passed to both passes.
    """

    def __init__(
        self,
        janitor: Janitor,
        store: ProgressStore,
        *,
        interval: float | None = None,
        reconcile_first: bool = True,
        grace: timedelta = DEFAULT_GRACE,
    ) -> None:
        self.janitor = janitor
        self.store = store
        self.interval = (interval if interval is not None
                         else janitor.settings.limits.reap_interval_seconds)
        self.reconcile_first = reconcile_first
        self.grace = grace
        self.passes = 0
        self.errors = 0
        self.last_report: Report | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def run_once(self, *, reconcile_too: bool = False) -> Report:
        """One pass now, in the caller's thread: reconcile (if asked), then reap.

        Raises:
            TutorError: The engine or the store failed (the thread logs and goes on).
        """
        report = Report()
        if reconcile_too:
            report.merge(reconcile(self.janitor, self.store, grace=self.grace))
        report.merge(reap(self.janitor, self.store, grace=self.grace))
        self.passes += 1
        self.last_report = report
        return report

    def _loop(self) -> None:
        first = self.reconcile_first
        while not self._stop.is_set():
            try:
                self.run_once(reconcile_too=first)
                first = False  # an engine down at start-up is reconciled when it answers
            except TutorError as error:
                self.errors += 1
                log.warning("housekeeping pass failed: %s", error)
            except Exception:
                self.errors += 1
                log.exception("housekeeping pass failed unexpectedly")
            self._stop.wait(self.interval)

    def start(self) -> None:
        """Start the thread (a daemon thread; a second call does nothing)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="docker-tutor-reaper",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop and wait up to ``timeout`` seconds for its pass to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> HousekeepingThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class HousekeepingThreads:
    """One :class:`HousekeepingThread` per engine of a pool, started and stopped together.

    Args:
        threads: The threads (one engine each).
    """

    def __init__(self, threads: list[HousekeepingThread]) -> None:
        self.threads = threads

    def start(self) -> None:
        """Start every thread."""
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every thread, waiting up to ``timeout`` seconds for each."""
        for thread in self.threads:
            thread.stop(timeout)
