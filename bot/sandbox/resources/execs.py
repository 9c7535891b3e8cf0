"""``docker exec``: a command in a running container, under a hard time limit.

Knowledge of particular programs (Redis) plugs in through three hooks that
:class:`ExecMixin` leaves empty; :class:`bot.sandbox.redis.hooks.RedisMixin` fills them.
"""

from __future__ import annotations

import time
from typing import Any

import docker.errors
import requests.exceptions
from docker.models.containers import Container

from bot.identity import Person
from bot.sandbox.engine.client import NOT_FOUND, Plan, SandboxBase
from bot.sandbox.engine.overtime import leftover_pids
from bot.sandbox.engine.recall import is_lite, known_running, restarts_never
from bot.sandbox.engine.streams import DRAIN_LIMIT, READ_LIMIT, ExecResult, read_stream
from bot.sandbox.engine.translate import boundary
from bot.sandbox.engine.wire import EngineCalls
from bot.sandbox.policy.naming import LABEL_LEARNER, LABEL_NAME, LABEL_NAMESPACE, Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import Outcome

EXEC_GRACE = 3.0
"""Seconds past the time limit after which the tutor stops waiting for an exec's output,
even if a process in the container still holds it open."""


class ExecMixin(SandboxBase):
    """Runs commands in the learner's running containers, for the learner or the tutor."""

    # -- hooks for program-specific knowledge ----------------------------------------------

    def _exec_tty(self, argv: list[str]) -> bool:
        """Whether ``argv`` runs with a TTY even without ``-t`` (as the learner expects)."""
        return False

    def _exec_retry(self, container: Container, argv: list[str], result: ExecResult) -> bool:
        """Whether a failed ``argv`` met a server still starting, and now may run again."""
        return False

    def _exec_facts(self, argv: list[str]) -> dict[str, Any]:
        """Facts about what ``argv`` did, for checks and the command log."""
        return {}

    def _exec_keeps_container(self, argv: list[str], facts: dict[str, Any]) -> bool:
        """Whether ``argv``, run and done, surely left its container as it found it.

        Then what the exec read of the container before it ran still holds after it,
        and serves the tutor's reads of the line (:class:`~bot.sandbox.engine.recall.
        LineLooks`). ``False`` unless a program's hook knows better.
        """
        return False

    # -- exec ----------------------------------------------------------------------------

    @boundary
    def exec_capture(
        self, person: Person, name: str, argv: list[str], *, timeout: float = 10.0
    ) -> tuple[int, str] | None:
        """Run ``argv`` in the person's running container and return (exit code, output).

        Used by the tutor's own checks; nothing is logged as the learner's. Returns
        ``None`` when the container does not exist, is not running, or the exec fails.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        container = self._running(person, name)
        return None if container is None else self._capture(container, argv, timeout=timeout)

    def _running(self, person: Person, name: str) -> Container | None:
        """The person's container called ``name`` if it runs now, else ``None``."""
        container = self._looked_up(self.namespace(person), name)  # once per line
        return container if container is not None and container.status == "running" else None

    def _capture(
        self, container: Container, argv: list[str], *, timeout: float = 10.0
    ) -> tuple[int, str] | None:
        """Run ``argv`` as the tutor in a running container: (exit code, output), or ``None``."""
        try:
            result = self._exec(container, argv, timeout=timeout, tty=False, limit=READ_LIMIT)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return None
        return result.code, result.output

    def _exec(
        self,
        container: Container,
        argv: list[str],
        *,
        timeout: float,
        tty: bool,
        limit: int,
        env: list[str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        detach: bool = False,
        exec_id: str | None = None,
    ) -> ExecResult:
        """Run ``argv`` in ``container`` under a hard time limit.

        The command runs under ``timeout -s KILL N`` inside the container; whatever
        happens there (a process that keeps the output open, a replaced ``timeout``),
        the tutor stops reading after ``timeout`` + :data:`EXEC_GRACE` seconds.
        ``exec_id``: the exec :meth:`_exec_create` made for exactly these arguments.
        """
        calls = self.calls
        begun = time.monotonic()
        if exec_id is None:
            exec_id = self._exec_create(container, argv, timeout=timeout, tty=tty, env=env,
                                        workdir=workdir, user=user)
        stream = calls.exec_start(exec_id, tty=tty, detach=detach)
        if stream is None:
            self._overtime.at(begun + timeout + 1.0, lambda: self._stop_overtime(
                container, exec_id, begun, "a `docker exec -d`", orphans=False))
            return ExecResult(0, "", 0, timed_out=False)
        try:
            data, size, timed_out = read_stream(
                stream.sock, tty=tty, deadline=time.monotonic() + timeout + EXEC_GRACE,
                limit=limit, first=stream.first,
            )
        finally:
            stream.close()
        code, known = _exit_code(calls, exec_id)
        deadline = time.monotonic() + (0.5 if timed_out or size > DRAIN_LIMIT else 2.0)
        while code is None and known and time.monotonic() < deadline:
            time.sleep(0.05)
            code, known = _exit_code(calls, exec_id)
        if code is None:
            code = 137 if timed_out else -1
        if timed_out or code == 137:
            self._stop_overtime(container, exec_id, begun, "that command")
        text = data.decode("utf-8", "replace").replace("\r\n", "\n")
        return ExecResult(code, text, max(0, size - limit), timed_out)

    def _exec_create(self, container: Container, argv: list[str], *, timeout: float, tty: bool,
                     env: list[str] | None = None, workdir: str | None = None,
                     user: str | None = None) -> str:
        """Create (not start) the exec of ``argv`` that :meth:`_exec` runs: its id.

        Raises:
            docker.errors.APIError: The engine refused: no such container (404), or it is
                not running, paused or restarting (409). Nothing ran.
        """
        wrapped = ["timeout", "-s", "KILL", str(max(1, round(timeout))), *argv]
        return self.calls.exec_create(container.id, wrapped, tty=tty, env=env, workdir=workdir,
                                      user=user or "")

    def _stop_overtime(self, container: Container, exec_id: str, begun: float,
                       what: str, *, orphans: bool = True) -> None:
        """Kill ``container`` if what an exec started still runs past its limit.

        Seen from the engine's host (:func:`bot.sandbox.engine.overtime.leftover_pids`), so
        nothing in the container (a replaced ``timeout``, a double fork) can hide it.
        The learner is told in the reply to their next command (or this one).
        """
        if self._client is None:
            return  # the sandbox was closed meanwhile
        api = self._client.api
        try:
            info = api.exec_inspect(exec_id)
            exec_pid = int(info.get("Pid") or 0) if info.get("Running") else None
            if exec_pid is None and not orphans:
                return
            age = (time.monotonic() - begun + 1.0) if orphans else -1.0
            left = leftover_pids(api, container.id, exec_pid, younger_than=age)
            if left and exec_pid is None:
                # Only orphans: busybox's own `timeout` leaves its watcher for up to a
                # second after the command died; what is still there after that is not it.
                time.sleep(1.2)
                left = leftover_pids(api, container.id, None,
                                     younger_than=time.monotonic() - begun + 1.0)
            if not left:
                return
            api.kill(container.id)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return
        name = container.labels.get(LABEL_NAME, "")
        ns = Namespace(container.labels.get(LABEL_NAMESPACE, ""),
                       container.labels.get(LABEL_LEARNER, ""))
        self._tell_later(ns, (
            f"Processes started by {what} in "
            f"`{name}` were still running after {self.limits.foreground_seconds:g} seconds, "
            f"so the tutor stopped the container `{name}` (its files are kept: "
            f"`docker start {name}`)."))

    def _do_exec(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        ref, argv = command.args[0], command.args[1:]
        tty = command.flag("tty") or self._exec_tty(argv)
        timeout = self.limits.foreground_seconds
        exec_id, container = None, None
        kept = self._known_named(ns, ref)  # read by the learner's last line: no request
        if kept is not None and restarts_never(kept):
            try:  # the engine answers for the state: it refuses an exec it cannot run
                exec_id = self._exec_create(kept, argv, timeout=timeout, tty=tty,
                                            env=plan.env, workdir=plan.workdir, user=plan.user)
                container = known_running(kept)
            except docker.errors.APIError:  # gone, or not running: nothing ran; read it afresh
                self._identities.forget(ns.learner, ns.engine_name(ref))
        if container is None:
            container = self._find_container(ns, ref)
            if container is None:
                return Outcome(1, NOT_FOUND.format(ref))
            if container.status != "running":
                return Outcome(
                    1, f"Error response from daemon: Container {container.id} is not running\n"
                )
        found = container
        self._disk_watch.ensure_running()  # (after a restart of the bot, the first exec starts it)
        started = time.monotonic()

        def run(exec_id: str | None = None) -> ExecResult:
            return self._exec(
                found, argv, timeout=timeout, tty=tty, limit=self._kept_bytes(), env=plan.env,
                workdir=plan.workdir, user=plan.user, detach=command.flag("detach"),
                exec_id=exec_id,
            )

        result = run(exec_id)
        if result.code != 0 and self._exec_retry(found, argv, result):
            # The server was still starting (the command never reached it): run it again.
            result = run()
        code, output, cut, timed_out = result
        elapsed = time.monotonic() - started
        notes = []
        timed_out = timed_out or (code == 137 and elapsed >= self.limits.foreground_seconds - 0.5)
        if timed_out:
            notes.append(self._timeout_note())
        elif code == 137:
            notes.append(
                "The process was killed (exit status 137). In the sandbox that usually means "
                f"it went over the memory limit ({self.limits.memory_bytes // 2**20} MiB)."
            )
        if code == 127 and "can't execute" in output:
            output = (
                "OCI runtime exec failed: exec failed: unable to start container process: "
                f'exec: "{argv[0]}": executable file not found in $PATH: unknown\n'
            )
            code = 126
        facts: dict[str, Any] = {
            "container": self._view(ns, container).as_fact(),
            "argv": argv,
            "exit": code,
        }
        if timed_out:
            facts["timed_out"] = True
        facts.update(self._exec_facts(argv))
        if code == 0 and not command.flag("detach") and not is_lite(container) \
                and self._exec_keeps_container(argv, facts):
            self._looks.keep_after(ns.learner, str(container.name), container)
        return Outcome(code, output, cut=cut, notes=notes, facts=facts)


def _exit_code(calls: EngineCalls, exec_id: str) -> tuple[int | None, bool]:
    """The exec's exit code (``None`` while it runs), and whether the engine still knows it.

    An engine may forget a finished exec (seen under gVisor: ``GET /exec/{id}/json``
    answering 404 right after the output ended); its output stands, its code is unknown.
    """
    try:
        code = calls.exec_inspect(exec_id).get("ExitCode")
    except docker.errors.NotFound:
        return None, False
    return (None if code is None else int(code)), True
