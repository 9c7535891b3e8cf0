"""The container family: the learner's containers read, and the verbs that act on existing ones.

``rm``, ``stop``, ``start``, ``restart``, ``kill``, ``rename`` and ``container prune``,
each with the docker CLI's output and exit status. Each acts only on the learner's own
containers (found by labels, as every verb does); anything else answers "No such
container", as the docker CLI does for a name it does not know. Creating one is
:mod:`~bot.sandbox.resources.run`; listing them (``ps``, ``top``, ``diff``) is
:mod:`~bot.sandbox.resources.listing`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import docker.errors
import requests.exceptions
from docker.models.containers import Container

from bot.identity import Person
from bot.sandbox.engine.acts import stop_container
from bot.sandbox.engine.client import NOT_FOUND, Plan, SandboxBase
from bot.sandbox.engine.image_lookups import remove_images
from bot.sandbox.engine.network_lookups import remove_networks
from bot.sandbox.engine.recall import is_lite
from bot.sandbox.engine.targets import start_refusal
from bot.sandbox.engine.translate import boundary, engine_calls
from bot.sandbox.policy import rules as policy
from bot.sandbox.policy import values as option_values
from bot.sandbox.policy.naming import LABEL_NAME, Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import ContainerView, Outcome


class ContainersMixin(SandboxBase):
    """The learner's containers: reading them, and the verbs that act on existing ones."""

    @boundary
    def container(self, person: Person, name: str) -> ContainerView | None:
        """The person's container called ``name``, or ``None``.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        found = self._looked_up(ns, name)  # once per line (bot.sandbox.engine.recall)
        return None if found is None else self._view(ns, found)

    @boundary
    def container_names(self, person: Person) -> list[str]:
        """The names of the person's containers, sorted: one list, no container inspected.

        Once per line (bot.sandbox.engine.recall): the names serve the line's later
        reads too (a name not among them is known absent).

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        names = self._looks.names(ns.learner)
        if names is None:
            names = [str((c.get("Names") or ["/"])[0])[1:] for c in self._summaries(ns)]
            self._looks.keep_names(ns.learner, names)
        return sorted(n for n in (ns.learner_name(e) for e in names) if n)

    @boundary
    def containers(self, person: Person) -> list[ContainerView]:
        """Every container of the person, running or not.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        names = self._looks.names(ns.learner)  # once per line (bot.sandbox.engine.recall)
        if names is None:
            found = self._containers(ns)
            self._looks.keep_listing(ns.learner, found)
            return [self._view(ns, c) for c in found]
        views = []
        for engine_name in names:  # this line knows the names: only the unread are inspected
            known, container = self._looks.named(ns.learner, engine_name)
            if not known:
                container = self._inspect_owned(ns, engine_name)
                self._looks.keep_named(ns.learner, engine_name, container)
            if container is not None:
                views.append(self._view(ns, container))
        return views

    @boundary
    def remove_all(self, person: Person) -> tuple[int, int]:
        """Remove every container, volume and image of the person, and their workspace.

        Returns:
            How many containers and volumes were removed.

        Raises:
            EngineUnavailable: The engine could not be reached or failed.
        """
        ns = self.namespace(person)
        self._looks.forget(ns.learner)
        self._identities.forget(ns.learner)
        with engine_calls():
            containers = self._summaries(ns)
            for container in containers:
                with suppress(docker.errors.NotFound):
                    self.client.api.remove_container(container["Id"], force=True, v=True)
            volumes = self._volumes(ns)
            for volume in volumes:
                with suppress(docker.errors.NotFound):
                    volume.remove(force=True)
            self._workspace(ns).remove()  # no container is left to use it
            remove_networks(self.client, ns)
            remove_images(self.client, ns.prefix, ns.learner)  # their builds, cache included
        return len(containers), len(volumes)

    def _gone_with_auto_remove(self, ns: Namespace, container: Container) -> None:
        """Once a ``run --rm -d`` container stopped, wait for the engine to remove it.

        A few seconds at most; then its anonymous volumes go, as with ``docker``. One
        request that the engine answers when the container is gone (``wait`` with the
        ``removed`` condition), not an inspect every 50 ms.
        """
        anonymous = [m.get("Name", "") for m in container.attrs.get("Mounts", [])
                     if m.get("Type") == "volume"]
        with suppress(docker.errors.APIError, requests.exceptions.RequestException):
            self.client.api.wait(container.id, timeout=5, condition="removed")
        self._remove_anonymous(ns, anonymous)

    def _each_container(
        self,
        ns: Namespace,
        refs: list[str],
        act: Callable[[Container], str | None],
        *,
        known: bool = False,
    ) -> tuple[int, str]:
        """Apply ``act`` to each referenced container; the CLI's output and exit code."""
        return self._each_container_timed(ns, refs, lambda container, _wait: act(container), 0,
                                          known=known)

    def _each_container_timed(
        self,
        ns: Namespace,
        refs: list[str],
        act: Callable[[Container, int], str | None],
        seconds: int,
        *,
        known: bool = False,
    ) -> tuple[int, str]:
        """Like :meth:`_each_container`, for verbs that wait (``stop -t``, ``restart -t``).

        ``act`` gets the container and the seconds it may wait for it (``stop -t``):
        ``seconds``, but never more than an equal share of what is left of the line's
        budget (:meth:`_line_deadline`). So ``restart -t 60 h h ...`` ends within the
        foreground limit and a little engine time per name, whatever the names.

        With ``known``, a name the learner's last line read is not read again
        (:meth:`_known_named`: ``act`` must then not need its state, see
        :func:`~bot.sandbox.engine.recall.is_lite`); if the engine no longer has that id,
        the name is forgotten and looked up afresh.
        """
        out, code = [], 0
        deadline = self._line_deadline()
        for index, ref in enumerate(refs):
            share = max(0.0, deadline - time.monotonic()) / (len(refs) - index)
            try:
                found, error = self._act_on(ns, ref, act, min(seconds, int(share)), known=known)
            except docker.errors.APIError as exc:
                found = True
                error = f"Error response from daemon: {self._rewrite(ns, str(exc.explanation))}"
            if not found:
                out.append(NOT_FOUND.format(ref))
                code = 1
                continue
            if error:
                out.append(error + "\n")
                code = 1
            else:
                out.append(ref + "\n")
        return code, "".join(out)

    def _act_on(self, ns: Namespace, ref: str, act: Callable[[Container, int], str | None],
                wait: int, *, known: bool) -> tuple[bool, str | None]:
        """``act`` on the learner's container ``ref``: ``(found, act's error)``.

        With ``known``, first on the container the learner's last line read
        (:meth:`_known_named`); if the engine no longer has that id, the name is forgotten
        and looked up afresh, as without ``known``.
        """
        kept = self._known_named(ns, ref) if known else None
        if kept is not None:
            try:
                return True, act(kept, wait)
            except docker.errors.NotFound:
                self._identities.forget(ns.learner, ns.engine_name(ref))  # gone meanwhile
        container = self._find_container(ns, ref)
        if container is None:
            return False, None
        return True, act(container, wait)

    def _do_rm(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        force = command.flag("force")
        removed: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            # Known from the last line (no state): without -f the engine refuses a running
            # container itself, so a removal that succeeds was of one not running.
            running = not is_lite(container) and container.status == "running"
            if running and not force:
                return (
                    f"Error response from daemon: You cannot remove a running container "
                    f"{container.id}. Stop the container before attempting removal or force "
                    "remove"
                )
            fact = self._view(ns, container).as_fact()
            self._remove(ns, container, force=force)
            self._identities.forget(ns.learner, str(container.name))
            self._looks.after_command(ns.learner, gone=(str(container.name),))  # known gone
            removed.append({**fact, "was_running": running, "force": force})
            return None

        # `rm -f` reads the container first: whether it was running is a fact the checks need.
        code, output = self._each_container(ns, command.args, act, known=not force)
        if force and code:  # the CLI's exit status: `-f` of a missing container is no failure
            errors = [line for line in output.splitlines()
                      if line.startswith("Error") and "No such container" not in line]
            code = 1 if errors else 0
        return Outcome(code, output, facts={"removed": removed})

    def _do_stop(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        stopped: list[dict[str, Any]] = []

        def act(container: Container, wait: int) -> str | None:
            if is_lite(container):  # the engine says whether it was running: 204, or 304
                was_running = stop_container(self.client.api, container.id, wait)
            else:
                was_running = container.status == "running"
                container.stop(timeout=wait)
            if _auto_remove(container):  # `run --rm -d`: stopped means gone, as in docker
                self._gone_with_auto_remove(ns, container)
                self._identities.forget(ns.learner, str(container.name))
                self._looks.after_command(ns.learner, gone=(str(container.name),))
            else:  # read once, stopped: how it ended serves the tutor's reads of the line
                with suppress(docker.errors.NotFound):
                    container.reload()
                    self._identities.remember(ns.learner, str(container.name), container.attrs)
                    self._looks.keep_after(ns.learner, str(container.name), container)
            stopped.append({"id": container.id, "name": container.labels.get(LABEL_NAME, ""),
                            "was_running": was_running})
            return None

        code, output = self._each_container_timed(ns, command.args, act, plan.seconds,
                                                  known=True)
        return Outcome(code, output, facts={"stopped": stopped})

    def _do_start(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        started: list[dict[str, Any]] = []

        def act(container: Container) -> str | None:
            if container.status != "running":
                refused = start_refusal(self.client.api, container)
                if refused:
                    return refused
            self._disk_watch.ensure_running()
            container.start()
            started.append({"id": container.id, "name": container.labels.get(LABEL_NAME, "")})
            return None

        code, output = self._each_container(ns, command.args, act)
        printed = set(output.splitlines())  # closed as the CLI closes it: what did not start
        failed = [ref for ref in command.args if ref not in printed]
        if failed:
            output += f"Error: failed to start containers: {', '.join(failed)}\n"
        return Outcome(code, output, facts={"started": started})

    def _do_restart(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        restarted: list[dict[str, Any]] = []

        def act(container: Container, wait: int) -> str | None:
            if _auto_remove(container):
                return (f"Error: {container.labels.get(LABEL_NAME, '')}: the sandbox restarts "
                        "by stopping and starting, and `--rm` would remove it when it stops. "
                        "Use `docker stop`, then `docker run` again.")
            # Stop, check the stopped container's own files, then start: a link planted
            # above a mount target while it ran must be found before the engine mounts.
            container.stop(timeout=wait)
            container.reload()
            refused = start_refusal(self.client.api, container)
            if refused:
                return refused
            self._disk_watch.ensure_running()
            container.start()
            restarted.append({"id": container.id, "name": container.labels.get(LABEL_NAME, "")})
            return None

        code, output = self._each_container_timed(ns, command.args, act, plan.seconds)
        return Outcome(code, output, facts={"restarted": restarted, "stopped": restarted})

    def _do_kill(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        signal = option_values.check_signal(command.value("signal"))
        killed: list[dict[str, Any]] = []
        out, code = [], 0
        for ref in command.args:
            container = self._find_container(ns, ref)
            if container is None:
                out.append(f"Error response from daemon: Cannot kill container: {ref}: "
                           f"No such container: {ref}\n")
                code = 1
                continue
            if container.status != "running":
                out.append(f"Error response from daemon: Cannot kill container: {ref}: "
                           f"Container {container.id} is not running\n")
                code = 1
                continue
            container.kill(signal=signal)
            killed.append({"id": container.id, "name": self._view(ns, container).name,
                           "signal": signal})
            out.append(ref + "\n")
        return Outcome(code, "".join(out), facts={"killed": killed})

    def _do_rename(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        old, new = command.args
        failed = f"Error: failed to rename container named {old}\n"
        container = self._find_container(ns, old)
        if container is None:
            return Outcome(1, NOT_FOUND.format(old) + failed)
        current = self._view(ns, container).name
        if new == current:
            return Outcome(1, "Error response from daemon: Renaming a container with the same "
                              "name as its current name\n" + failed)
        policy.check_name(new, "container")
        try:
            with engine_calls():
                container.rename(ns.engine_name(new))
        except docker.errors.APIError as exc:
            message = self._rewrite(ns, str(exc.explanation or exc))
            return Outcome(1, f"Error response from daemon: {message}\n{failed}")
        return Outcome(0, "", facts={"renamed": {"id": container.id, "from": current,
                                                 "to": new}})

    def _do_container_prune(
        self, person: Person, ns: Namespace, command: Command, plan: Plan
    ) -> Outcome:
        if not command.flag("force"):
            return Outcome(
                1, "WARNING! This will remove all stopped containers.\n"
                   "Are you sure you want to continue? [y/N] \n"
                   "Nothing removed: the sandbox cannot answer the question; add -f: "
                   "`docker container prune -f`.\n")
        removed: list[dict[str, Any]] = []
        for container in self._containers(ns, all_=True):
            if container.status not in ("exited", "created", "dead"):
                continue
            fact = self._view(ns, container).as_fact()
            try:
                self._remove(ns, container, force=False)
            except docker.errors.NotFound:
                continue
            removed.append({**fact, "was_running": False, "force": False})
        lines = "".join(r["id"] + "\n" for r in removed)
        head = f"Deleted Containers:\n{lines}\n" if removed else ""
        return Outcome(0, f"{head}Total reclaimed space: 0B\n", facts={"removed": removed})


def _auto_remove(container: Container) -> bool:
    """Whether the engine removes ``container`` when it stops (``docker run --rm -d``)."""
    return bool((container.attrs.get("HostConfig") or {}).get("AutoRemove"))
