"""``docker run``: a new container under the sandbox's limits, detached or in the foreground."""

from __future__ import annotations

import time
from contextlib import suppress
from functools import partial
from typing import Any

import docker.errors
import requests.exceptions
from docker.models.containers import Container, _create_container_args
from docker.models.volumes import Volume
from docker.types import Mount

from bot.errors import QuotaExceeded
from bot.identity import Person
from bot.sandbox.engine.client import (  # noqa: F401  (CAPABILITIES: re-exported for the tests)
    CAPABILITIES,
    Plan,
    SandboxBase,
)
from bot.sandbox.engine.image_lookups import find_image
from bot.sandbox.engine.network_lookups import find_network
from bot.sandbox.engine.recall import ImageFact, SafeTargets
from bot.sandbox.engine.streams import read_stream
from bot.sandbox.engine.targets import folder_empty, link_refusal, linked_targets, start_refusal
from bot.sandbox.policy import mounts
from bot.sandbox.policy import values as option_values
from bot.sandbox.policy.mounts import MountRequest
from bot.sandbox.policy.naming import (
    LABEL_NAME,
    LABEL_UID,
    LABEL_VOLUMES,
    Namespace,
    anonymous_name,
    record_volumes,
)
from bot.sandbox.policy.parser import Command
from bot.sandbox.views import CREATED_VOLUMES, FRESH_VOLUMES, Outcome


class RunMixin(SandboxBase):
    """``docker run``: image and quota checks, mounts, the host limits, the foreground."""

    def _check_quota_containers(self, ns: Namespace, have: int) -> None:
        if have >= self.limits.max_containers:
            raise QuotaExceeded(
                f"You already have {self.limits.max_containers} containers, the most the "
                "sandbox allows.",
                option="quota:containers",
                hint="Remove one you no longer need: `docker ps -a`, then `docker rm -f NAME`.",
            )

    def _image_fact(self, tag: str) -> ImageFact | None:
        """The image's id and declared volumes, remembered a while (:class:`ImageFacts`)."""
        def read() -> ImageFact | None:
            try:
                attrs = self.client.api.inspect_image(tag)
            except docker.errors.ImageNotFound:
                return None
            declared = ((attrs.get("Config") or {}).get("Volumes") or {}).keys()
            return ImageFact(str(attrs.get("Id", "")), tuple(declared))

        return self._image_facts.get(tag, read)

    def _do_run(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        image_name, tag, name, env, wanted = (
            plan.image_name, plan.tag, plan.name, plan.env, plan.mounts
        )
        argv = command.args[1:]
        # One list serves the name's conflict check and the quota (an inspect of the name
        # would be a second request); the engine's own 409 still guards a race.
        mine = self._summaries(ns)
        engine_name = "/" + ns.engine_name(name)
        existing = next((c for c in mine if engine_name in (c.get("Names") or [])), None)
        if existing is not None:
            return Outcome(
                125,
                f'docker: Error response from daemon: Conflict. The container name "/{name}" is '
                f'already in use by container "{existing["Id"]}". You have to remove (or rename) '
                "that container to be able to reuse that name.\n",
            )
        image: ImageFact | None
        if plan.own_image:  # one of the learner's images: looked up each time (they rebuild it)
            own = find_image(self.client, ns, tag)
            if own is None:
                raise option_values.not_built(command.args[0], self.allowed_images)
            tag = str(own["Id"])  # pinned by id
            volumes = ((own.get("Config") or {}).get("Volumes") or {}).keys()
            image = ImageFact(tag, tuple(volumes))
        else:
            image = self._image_fact(tag)  # a lesson image: no learner can change it
        if image is None:
            return Outcome(
                125,
                f"Unable to find image '{tag}' locally\ndocker: the sandbox has no network, so "
                f"it cannot be pulled. {option_values.image_hint(self.allowed_images)}\n",
            )
        declared = list(image.volumes)
        mounts.check_nesting(wanted, declared)
        self._check_quota_containers(ns, len(mine))
        engine_mounts: list[Mount] = []
        tmpfs: dict[str, str] = {}
        covered = {r.target for r in wanted}
        anonymous = [MountRequest("anonymous", "", p) for p in declared if p not in covered]
        created: list[Volume] = []
        volumes = self._provide_volumes(ns, [*wanted, *anonymous], created)
        for request in [*wanted, *anonymous]:
            if request.kind == "tmpfs":
                tmpfs[request.target] = f"size={request.tmpfs_size},mode=1777"
            elif request.kind == "bind":  # the whole workspace (vet refused sub-folders)
                engine_mounts.append(
                    self._workspace(ns).mount_spec(request.target, request.read_only))
            else:
                engine_mounts.append(Mount(request.target, volumes[request.target].name,
                                           type="volume", read_only=request.read_only))
        labels = {**plan.labels, **ns.labels(name, **{"docker-tutor.image": image_name})}
        if volumes:
            labels[LABEL_VOLUMES] = record_volumes(
                {v.name: v.attrs.get("Labels") or {} for v in volumes.values()})
        detach = command.flag("detach")
        network = None
        limits = {**self._host_limits(), **_restart_policy(command)}
        if plan.network is not None:
            network = find_network(self.client, ns, plan.network)
            if network is None:
                return Outcome(125, f"docker: Error response from daemon: network {plan.network} "
                                    "not found.\n",
                               notes=[f"Create it first: `docker network create {plan.network}`."])
            del limits["network_mode"]
            limits["network"] = network.name
            limits["networking_config"] = {network.name: self.client.api.create_endpoint_config(
                aliases=list(dict.fromkeys([name, *plan.aliases])))}
        settings: dict[str, Any] = dict(
            command=argv or None,
            entrypoint=plan.entrypoint,
            name=ns.engine_name(name),
            labels=labels,
            environment=env,
            working_dir=plan.workdir,
            hostname=plan.hostname,
            user=plan.user,
            mounts=engine_mounts,
            tmpfs=tmpfs or None,
            detach=True,
            tty=command.flag("tty") and not detach,
            auto_remove=detach and command.flag("rm"),
            **limits,
        )
        facts: dict[str, Any] = {"argv": argv, "detach": detach}
        made = [{"name": (v.attrs.get("Labels") or {}).get(LABEL_NAME, ""),
                 "uid": (v.attrs.get("Labels") or {}).get(LABEL_UID, "")}
                for v in created if v.attrs.get("Labels")]
        if made:  # which volumes this run created (the checks' observer reads it)
            facts[CREATED_VOLUMES] = made
        if detach and not command.flag("rm"):
            targets = [str(m["Target"]) for m in engine_mounts] + list(tmpfs)
            new = {target: (volume.attrs.get("Labels") or {}).get(LABEL_UID, "")
                   for target, volume in volumes.items() if volume in created}
            return self._run_detached(ns, tag, image, settings=settings, targets=targets,
                                      mine=mine, facts=facts, new=new)
        try:
            container: Container = self.client.containers.create(tag, **settings)
        except docker.errors.ImageNotFound:
            self._image_facts.forget(tag)  # rebuilt or removed since: ask the engine next time
            raise
        try:
            refused = start_refusal(self.client.api, container, self._safe_targets)
            if refused:
                self._remove(ns, container, force=True)
                return Outcome(125, f"docker: {refused}\n")
            facts["container"] = self._view(ns, container).as_fact()
            self._disk_watch.ensure_running()
            if detach:  # `--rm -d`: its facts are read before it starts (it may be gone at once)
                container.start()
                return Outcome(0, container.id + "\n", facts=facts)
            return self._foreground(ns, container, command.flag("rm"), facts,
                                    tty=command.flag("tty"))
        except docker.errors.APIError:
            self._leave_nothing(ns, container)
            raise

    def _leave_nothing(self, ns: Namespace, container: Container) -> None:
        """A run that fails to start (``-w /etc/passwd``) leaves nothing behind."""
        with suppress(docker.errors.APIError):
            container.reload()
            if container.status == "created":
                self._remove(ns, container, force=True)

    def _run_detached(self, ns: Namespace, tag: str, image: ImageFact, *,
                      settings: dict[str, Any], targets: list[str], mine: list[dict[str, Any]],
                      facts: dict[str, Any], new: dict[str, str]) -> Outcome:
        """``run -d``: create from the image's id, check the targets, start, read it once.

        Created from the id the image's facts name (:class:`ImageFacts`), so the targets
        known free of links in that image need no look (:class:`SafeTargets`), and the
        container is read once, started: that read makes its facts and serves the
        tutor's reads of the line (:mod:`bot.sandbox.engine.recall`) with the learner's
        names (those listed for the quota, and this one).

        ``new`` maps the target of each volume this run created to its unique id: those
        the image holds nothing at (:class:`EmptyTargets`, asked once per image) start
        empty, and the facts say so (:data:`FRESH_VOLUMES`).
        """
        api = self.client.api
        settings = {**settings, "image": image.id or tag, "version": api._version}
        try:
            created = api.create_container(**_create_container_args(settings))
        except docker.errors.ImageNotFound:
            self._image_facts.forget(tag)  # rebuilt or removed since: ask the engine next time
            raise
        container: Container = self.client.containers.prepare_model({"Id": created["Id"]})
        try:
            top = SafeTargets.top_level(targets)
            bad = linked_targets(api, container.id, self._safe_targets.unknown(image.id, targets))
            self._safe_targets.remember(image.id, [t for t in top if t not in bad])
            if bad:
                container.reload()
                self._remove(ns, container, force=True)
                return Outcome(125, f"docker: {link_refusal(container, bad[0])}\n")
            fresh = [uid for target, uid in new.items()
                     if uid and image.id and self._empty_targets.empty(
                         image.id, target, partial(folder_empty, api, container.id, target))]
            if fresh:
                facts[FRESH_VOLUMES] = fresh
            self._disk_watch.ensure_running()
            container.start()
        except docker.errors.APIError:
            self._leave_nothing(ns, container)
            raise
        try:
            container.reload()
        except docker.errors.NotFound:  # it ended and was removed already: nothing to show
            return Outcome(0, container.id + "\n", facts=facts)
        facts["container"] = self._view(ns, container).as_fact()
        self._looks.after_command(ns.learner, [str(container.name), *(
            str((c.get("Names") or ["/"])[0])[1:] for c in mine)])
        self._looks.keep_after(ns.learner, str(container.name), container)
        return Outcome(0, container.id + "\n", facts=facts)

    def _provide_volumes(self, ns: Namespace, requests: list[MountRequest],
                         created: list[Volume]) -> dict[str, Volume]:
        """The volume for each volume request, by target: the learner's, or new ones.

        The volumes it creates are added to ``created`` (the command's facts say which,
        so nothing has to list the volumes before the command to find out).

        The learner's volumes are listed once; the quota is checked for everything this
        ``run`` creates before the first is created, and again before each one.

        Raises:
            QuotaExceeded: The new volumes would exceed the learner's quota.
        """
        wanted = [r for r in requests if r.kind in ("volume", "anonymous")]
        if not wanted:
            return {}
        mine = {
            (v.attrs.get("Labels") or {}).get(LABEL_NAME, ""): v for v in self._volumes(ns)
        }
        have = len(mine)
        needed = sum(1 for r in wanted if r.kind == "anonymous" or r.source not in mine)
        if needed:
            self._check_quota_volumes(ns, needed, have=have)
        provided: dict[str, Volume] = {}
        for request in wanted:
            named = request.kind == "volume" and request.source in mine
            if named:
                provided[request.target] = mine[request.source]
                continue
            self._check_quota_volumes(ns, have=have)
            volume = self._create_volume(ns, request.source or anonymous_name(),
                                         anonymous=request.kind == "anonymous")
            have += 1
            created.append(volume)
            if request.kind == "volume":
                mine[request.source] = volume
            provided[request.target] = volume
        return provided

    def _foreground(
        self, ns: Namespace, container: Container, remove: bool, facts: dict[str, Any],
        *, tty: bool,
    ) -> Outcome:
        """Start a created container attached, like ``docker run`` without ``-d``.

        Its output is read as it comes (so the learner is told exactly how much was cut)
        until it exits or the time limit passes; then it is killed.
        """
        api = self.client.api
        started = time.monotonic()
        limit = self.limits.foreground_seconds
        sock = api.attach_socket(
            container.id, params={"stdout": 1, "stderr": 1, "stream": 1, "logs": 1}
        )
        raw = getattr(sock, "_sock", sock)
        try:
            container.start()
            data, size, timed_out = read_stream(
                raw, tty=tty, deadline=started + limit, limit=self._kept_bytes()
            )
        finally:
            sock.close()
            raw.close()
        notes = []
        code = 137
        if not timed_out:
            try:
                left = max(1.0, started + limit - time.monotonic())
                code = int(container.wait(timeout=left).get("StatusCode", 0))
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                timed_out = True
        if timed_out:
            with suppress(docker.errors.APIError):
                container.kill()
            with suppress(docker.errors.APIError, requests.exceptions.RequestException):
                container.wait(timeout=10)
            facts["timed_out"] = True
            notes.append(self._timeout_note() + " For a server, use `docker run -d`.")
        else:
            container.reload()
            if (container.attrs.get("State") or {}).get("OOMKilled"):
                facts["oom_killed"] = True
                notes.append(
                    f"The container went over its memory limit "
                    f"({self.limits.memory_bytes // 2**20} MiB), so the kernel stopped it."
                )
        output = data.decode("utf-8", "replace").replace("\r\n", "\n")
        if remove:
            self._remove(ns, container, force=True)
        facts["exit"] = code
        return Outcome(code, output, cut=max(0, size - self._kept_bytes()), notes=notes,
                       facts=facts)


def _restart_policy(command: Command) -> dict[str, Any]:
    """``--restart``'s policy for the engine, when given (the parser has checked it)."""
    policy = option_values.check_restart(command.value("restart"), remove=command.flag("rm"))
    return {"restart_policy": policy} if policy else {}
