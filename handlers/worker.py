"""``docker-tutor worker``: run the learner lines the Slack front end queued.

A worker process claims jobs from the durable queue (:mod:`bot.jobs.durable`) with a lease, runs
each through the tutor service and delivers the reply to where the job says (the
request's ``response_url``, or the learner's DM), then marks it done. It runs
``TUTOR_SLACK_WORKERS`` jobs at once on threads; a heartbeat thread renews the leases.
Any number of workers (and ``serve`` replicas) share one queue.

A job whose worker died while running it comes back, once its lease ran out, as an
*interrupted* job: it is never run again blindly; its learner gets :data:`INTERRUPTED`.

Slack allows 5 posts per ``response_url`` within 30 minutes: each post is counted in the
job's row, and a reply that would exceed that, or comes later, goes to the learner's DM.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.context.respond import Respond

from bot.config import Settings
from bot.errors import TutorError
from bot.identity import Person
from bot.jobs.durable import (
    DEFAULT_LEASE_SECONDS,
    RESPONSE_URL_POSTS,
    RESPONSE_URL_SECONDS,
    Job,
    JobQueue,
    worker_name,
)
from bot.reply import Notice, Reply, Tone
from handlers.app import web_client, workers
from handlers.runtime import Conversation, Destination, ResponseUrl, Runtime
from handlers.signals import check_settings, stop_on_signals

log = logging.getLogger("docker_tutor.slack.worker")

INTERRUPTED = (
    "The tutor restarted while it was running `{line}`, so I cannot tell whether it took "
    "effect. Your progress is safe: look with `docker ps -a` (or `/tutor status`) and run "
    "it again if needed."
)
"""What a learner is told about a job whose worker died while running it."""

IDLE_POLL = 0.05
"""Seconds an idle worker waits before asking the queue again (it backs off to 1 s)."""

NICE = 10
"""How much lower a worker's CPU priority is than the acknowledging process's
(``TUTOR_WORKER_NICE``): on a shared machine the acks come first."""


def lease_seconds() -> float:
    """The lease of a claimed job (``TUTOR_JOB_LEASE_SECONDS``, default 60)."""
    try:
        return max(1.0, float(os.environ.get("TUTOR_JOB_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)))
    except ValueError:
        return DEFAULT_LEASE_SECONDS


@dataclass
class LimitedResponseUrl:
    """A ``response_url`` within Slack's limits; beyond them the reply goes to the DM.

    Attributes:
        inner: The ``response_url`` destination.
        dm: The learner's DM, used past 5 posts or 30 minutes.
        jobs: Where the posts are counted (the job's row).
        job: The job.
    """

    inner: ResponseUrl
    dm: Conversation
    jobs: JobQueue
    job: Job
    user_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.user_id = self.inner.user_id

    def _within_limits(self) -> bool:
        created = self.job.created_at
        if created is not None and datetime.now(UTC) - created > timedelta(seconds=RESPONSE_URL_SECONDS):
            return False
        return self.jobs.count_post(self.job.id) < RESPONSE_URL_POSTS

    def send(self, message: dict[str, Any], *, ephemeral: bool) -> None:
        """Post to the ``response_url`` while it allows it, else to the DM."""
        if self._within_limits():
            self.inner.send(message, ephemeral=ephemeral)
        else:
            log.info("job %d: response_url used up or expired, replying in the DM", self.job.id)
            self.dm.send(message, ephemeral=ephemeral)

    def files_channel(self, *, ephemeral: bool) -> str | None:
        """As the ``response_url``'s."""
        return self.inner.files_channel(ephemeral=ephemeral)


def destination(job: Job, runtime: Runtime, jobs: JobQueue) -> Destination:
    """Where a job's reply goes, rebuilt from its ``reply_to``."""
    spec = job.reply_to
    user = str(spec.get("user") or "")
    dm = Conversation(runtime.client, user)
    if spec.get("kind") == "response_url" and spec.get("url"):
        post: Any = Respond(response_url=str(spec["url"]))  # bolt's own poster
        inner = ResponseUrl(post, user,
                            spec.get("channel"), shared=bool(spec.get("shared")),
                            url=str(spec["url"]))
        return LimitedResponseUrl(inner, dm, jobs, job)
    return Conversation(runtime.client, user, spec.get("channel") or None)


class JobRunner:
    """Claims and runs queued jobs on threads until stopped.

    Args:
        runtime: The tutor and the Web API client.
        jobs: The durable queue.
        owner: The lease owner name (unique per process).
        threads: How many jobs run at once.
        lease: Seconds of a lease (renewed every third of it).
    """

    def __init__(self, runtime: Runtime, jobs: JobQueue, owner: str, *, threads: int = 8,
                 lease: float = DEFAULT_LEASE_SECONDS) -> None:
        self.runtime = runtime
        self.jobs = jobs
        self.owner = owner
        self.threads = max(1, threads)
        self.lease = lease
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._slots = threading.BoundedSemaphore(self.threads)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._running: set[Future[None]] = set()
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> JobRunner:
        """Start the claiming thread, the job threads and the heartbeat; returns ``self``."""
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="job")
        for target, name in ((self._claim_loop, "job-claimer"), (self._heartbeat, "job-heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop claiming; wait for the jobs in progress to be delivered."""
        self.stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads[:1]:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._pool is not None:
            wait(list(self._running), timeout=max(0.0, deadline - time.monotonic()))
            self._pool.shutdown(wait=False)
        for thread in self._threads[1:]:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _heartbeat(self) -> None:
        while not self.stop.wait(self.lease / 3):
            try:
                self.jobs.heartbeat(self.owner, lease_seconds=self.lease)
            except TutorError as error:
                log.warning("could not renew job leases: %s", error.message)
        with contextlib.suppress(TutorError):  # jobs still running keep their lease
            self.jobs.heartbeat(self.owner, lease_seconds=self.lease)

    def _claim_loop(self) -> None:
        """One thread claims (one poller per process), a pool of threads runs the jobs."""
        idle = IDLE_POLL
        while not self.stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                job = self.jobs.claim(self.owner, lease_seconds=self.lease)
            except TutorError as error:
                self._slots.release()
                log.warning("cannot reach the job queue: %s", error.message)
                self.stop.wait(1.0)
                continue
            if job is None:
                self._slots.release()
                self._wake.wait(idle)
                self._wake.clear()
                idle = min(1.0, idle * 2)
                continue
            idle = IDLE_POLL
            assert self._pool is not None  # noqa: S101 - start() made it
            future = self._pool.submit(self._run_and_release, job)
            with self._lock:
                self._running.add(future)
            future.add_done_callback(self._done)

    def _run_and_release(self, job: Job) -> None:
        try:
            self.run(job)
        finally:
            self._slots.release()
            self._wake.set()  # the learner's next line may be runnable now

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._running.discard(future)

    def run(self, job: Job) -> str:
        """Run (or report as interrupted) one claimed job and mark it done; its outcome."""
        where = destination(job, self.runtime, self.jobs)
        spec = job.reply_to
        person = Person("slack", str(spec.get("user") or ""), str(spec.get("name") or ""))
        outcome = "interrupted" if job.interrupted else "answered"
        try:
            if job.interrupted:
                line = job.line.replace("`", "\u02cb")[:200]
                self.runtime.deliver(Reply(ephemeral=True).add(
                    Notice(INTERRUPTED.format(line=line), Tone.ERROR)), where)
            elif not self.jobs.start(job.id, self.owner):
                log.warning("job %d: lease lost before it started; not run here", job.id)
                return "lost"
            else:
                self.runtime.execute(person, job.line, where)
        except TutorError as error:  # delivery refused, or the store failed mid-way
            log.warning("job %d (%s): %s", job.id, outcome, error.message)
            outcome = f"failed: {type(error).__name__}"
        except Exception as exc:  # a bug: logged; the learner was told by execute()
            log.exception("job %d failed", job.id)
            self.runtime.report(exc)
            outcome = "bug"
        self._finish(job, outcome)
        return outcome

    def _finish(self, job: Job, outcome: str) -> None:
        for attempt in range(5):  # the database may be back in a moment
            try:
                self.jobs.finish(job.id, self.owner, outcome)
                return
            except TutorError as error:
                log.warning("job %d: cannot mark it done (%s); retrying", job.id, error.message)
                self.stop.wait(0.5 * (attempt + 1))


class QueueOnThread:
    """The worker's queue, every call made on one thread that keeps the process's priority.

    A worker runs at a lower CPU priority than the acknowledging processes (:data:`NICE`),
    but its queue writes take the same SQLite write lock as their acks: a worker thread
    preempted while holding it would hold every ack up (priority inversion). On Linux a
    priority belongs to a thread, and threads inherit their creator's: this thread is made
    before the process lowers its own (:func:`run_worker`), so the lock is only ever held at
    the acks' priority. Elsewhere it is niced with the rest, as before. Errors raised by a
    call are raised to its caller.
    """

    def __init__(self, jobs: JobQueue) -> None:
        self._jobs = jobs
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="job-queue")
        self.native_id: int = self._thread.submit(threading.get_native_id).result()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._thread.submit(getattr(self._jobs, method), *args, **kwargs).result()

    def enqueue(self, learner_key: str, line: str, reply_to: dict[str, Any], *,
                request_key: str | None = None) -> int | None:
        """See :meth:`JobQueue.enqueue`."""
        return self._call("enqueue", learner_key, line, reply_to,  # type: ignore[no-any-return]
                          request_key=request_key)

    def claim(self, owner: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Job | None:
        """See :meth:`JobQueue.claim`."""
        return self._call("claim", owner, lease_seconds=lease_seconds)  # type: ignore[no-any-return]

    def start(self, job_id: int, owner: str) -> bool:
        """See :meth:`JobQueue.start`."""
        return bool(self._call("start", job_id, owner))

    def heartbeat(self, owner: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> int:
        """See :meth:`JobQueue.heartbeat`."""
        return int(self._call("heartbeat", owner, lease_seconds=lease_seconds))

    def finish(self, job_id: int, owner: str, outcome: str) -> bool:
        """See :meth:`JobQueue.finish`."""
        return bool(self._call("finish", job_id, owner, outcome))

    def count_post(self, job_id: int) -> int:
        """See :meth:`JobQueue.count_post`."""
        return int(self._call("count_post", job_id))

    def pending(self) -> int:
        """See :meth:`JobQueue.pending`."""
        return int(self._call("pending"))

    def ping(self) -> None:
        """See :meth:`JobQueue.ping`."""
        self._call("ping")

    def close(self) -> None:
        """Close the queue, then stop the thread."""
        try:
            self._call("close")
        finally:
            self._thread.shutdown(wait=True)


def thread_nice(native_id: int) -> int | None:
    """The nice value of one of this process's threads (Linux), or ``None`` when unknown."""
    try:
        with open(f"/proc/self/task/{native_id}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[16])  # the 19th field of stat; the first two are before ")"


def _lower_priority() -> None:
    try:
        nice = int(os.environ.get("TUTOR_WORKER_NICE", NICE))
    except ValueError:
        nice = NICE
    if nice > 0 and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(nice)


def run_worker(settings: Settings, *, stop: threading.Event | None = None,
               housekeeping: bool = False) -> int:
    """Run a worker process until ``stop`` is set (or SIGINT/SIGTERM); exit status 0.

    Args:
        settings: Process settings (database, engine, Slack bot token and API URL).
        stop: Set it to stop (default: SIGINT/SIGTERM).
        housekeeping: Also run the tutor's housekeeping (one process per deployment).
    """
    from bot.factory import build_queue, build_service
    from bot.jobs.ordered import KeyedExecutor

    check_settings(settings)
    jobs = QueueOnThread(build_queue(settings))  # its thread keeps the acks' priority
    _lower_priority()  # this thread, and every thread it starts from now on
    stop = stop if stop is not None else threading.Event()
    restore = stop_on_signals(stop)
    tutor = build_service(settings)
    executor = KeyedExecutor(2, thread_name_prefix="worker-misc")
    keeper = tutor.start_housekeeping() if housekeeping else None
    runtime = Runtime(tutor=tutor, client=web_client(settings), executor=executor)
    runner = JobRunner(runtime, jobs, worker_name(), threads=workers(settings),
                       lease=lease_seconds()).start()
    log.info("worker %s running %d jobs at once", runner.owner, runner.threads)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runner.shutdown()
        executor.shutdown(wait=True)
        if keeper is not None:
            keeper.stop()
        jobs.close()
        tutor.close()
        restore()
    return 0


__all__ = ["INTERRUPTED", "JobRunner", "LimitedResponseUrl", "QueueOnThread", "destination",
           "lease_seconds", "run_worker", "thread_nice"]
