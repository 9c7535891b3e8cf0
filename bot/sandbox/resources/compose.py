"""``docker compose``: the learner's ``compose.yaml`` acted out with the sandbox's own verbs.

Every object is made by the verb a learner could have typed, vetted by the same policy:
each service's container by a ``docker run`` :class:`Command`
(:mod:`bot.sandbox.compose.spec` builds it), its networks by ``docker network create``
and ``connect``, its volumes by ``docker volume create``. Only the labels differ: those
the real Compose sets (``com.docker.compose.project``, ``...service``,
``...container-number``, ``...oneoff``), so ``docker ps`` shows what the real CLI would.
The part reaches the other verbs through :meth:`ComposeMixin._dispatch`, which
:class:`~bot.sandbox.engine.sandbox.Sandbox` fills with its verb table.
"""

from __future__ import annotations

from typing import Any

import docker.errors
from docker.models.containers import Container

from bot.errors import CommandRefused
from bot.identity import Person
from bot.sandbox.compose import spec
from bot.sandbox.compose.keys import BUILD_REFUSED
from bot.sandbox.engine.client import Plan, SandboxBase
from bot.sandbox.engine.network_lookups import find_network, own_networks
from bot.sandbox.output import formatting
from bot.sandbox.policy import values as option_values
from bot.sandbox.policy.naming import Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.policy.workspace_paths import clean_path
from bot.sandbox.views import Outcome

NO_FILE = "no configuration file provided: not found\n"
"""What the docker CLI says when the folder has no compose file."""

DETACHED_NOTE = ("The sandbox runs `docker compose up` detached (as `up -d`): read the "
                 "services' output with `docker compose logs`.")



def _line(kind: str, name: str, state: str) -> str:
    """One progress line, as the real CLI prints it (`` ✔ Container app-web-1  Started``)."""
    return f" \u2714 {kind} {name}  {state}\n"


class ComposeMixin(SandboxBase):
    """The ``docker compose`` verbs on the learner's workspace file."""

    def _dispatch(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        """Run one sandbox verb (filled in by the composed sandbox's verb table)."""
        raise NotImplementedError

    def _act(self, person: Person, ns: Namespace, command: Command,
             labels: dict[str, str] | None = None) -> Outcome:
        """Vet ``command`` as if typed, then run it under Compose's ``labels``."""
        plan = self.vet(person, command)
        plan.labels = dict(labels or {})
        try:
            return self._dispatch(person, ns, command, plan)
        except docker.errors.APIError as exc:
            return Outcome(1, "Error response from daemon: "
                              f"{self._rewrite(ns, str(exc.explanation or exc))}\n")

    # -- the project ------------------------------------------------------------------------

    def _project(self, ns: Namespace, command: Command, *, required: bool = True
                 ) -> spec.Project | Outcome:
        """The learner's compose file read and checked (an :class:`Outcome` if missing)."""
        given = command.value("file")
        names = [clean_path(given)] if given else list(spec.FILES)
        workspace = self._workspace(ns)
        for name in names:
            text = workspace.read(name)
            if text is not None:
                return spec.project(text, self._project_name(command))
        if given:
            return Outcome(1, f"open $(pwd)/{names[0]}: no such file or directory\n")
        return Outcome(1, NO_FILE, notes=[
            "Write one first: `edit compose.yaml services: {web: {image: redis}}` (or paste a "
            "whole file after `edit compose.yaml`)."])

    @staticmethod
    def _project_name(command: Command) -> str | None:
        given = command.value("project")
        return None if given is None else spec.check_project_name(given, "-p")

    def _project_containers(self, ns: Namespace, project: str,
                            services: list[str] | None = None) -> list[Container]:
        """The learner's containers of ``project`` (of those services), oldest first."""
        found = [c for c in self._containers(ns, all_=True)
                 if c.labels.get(spec.LABEL_PROJECT) == project
                 and (not services or c.labels.get(spec.LABEL_SERVICE) in services)]
        found.sort(key=lambda c: c.attrs.get("Created", ""))
        return found

    def _selected(self, project: spec.Project, command: Command) -> list[str]:
        """The services named on the line (checked against the file), or every one."""
        for name in command.args:
            if project.service(name) is None:
                raise CommandRefused(f"no such service: {name}", option="compose:service")
        return list(command.args)

    # -- up ---------------------------------------------------------------------------------

    def _do_compose_up(self, person: Person, ns: Namespace, command: Command,
                       plan: Plan) -> Outcome:
        project = self._project(ns, command)
        if isinstance(project, Outcome):
            return project
        wanted = set(self._selected(project, command)) or {s.name for s in project.services}
        changed = True
        while changed:  # a selected service brings what it depends on
            more = {d for s in project.services if s.name in wanted for d in s.depends_on}
            changed = not more <= wanted
            wanted |= more
        out: list[str] = []
        facts: dict[str, Any] = {"project": project.name, "containers": [], "created": []}
        for network in project.networks:
            name = project.network(network)
            if find_network(self.client, ns, name) is None:
                done = self._act(person, ns, Command("network create", args=[name]),
                                 {spec.LABEL_PROJECT: project.name, spec.LABEL_NETWORK: network})
                if done.exit_code:
                    return Outcome(1, "".join(out) + done.output, facts={"compose": facts})
                out.append(_line("Network", name, "Created"))
        for volume in project.volumes:
            name = project.volume(volume)
            if self._find_volume(ns, name) is None:
                done = self._act(person, ns, Command("volume create", args=[name]),
                                 {spec.LABEL_PROJECT: project.name, spec.LABEL_VOLUME: volume})
                if done.exit_code:
                    return Outcome(1, "".join(out) + done.output, facts={"compose": facts})
                out.append(_line("Volume", f'"{name}"', "Created"))
        for service in project.services:
            if service.name not in wanted:
                continue
            code, line = self._up_service(person, ns, project, service, facts)
            out.append(line)
            if code:
                return Outcome(1, "".join(out), facts={"compose": facts})
        notes = [] if command.flag("detach") else [DETACHED_NOTE]
        known = {s.name for s in project.services}
        orphans = [self._view(ns, c).name for c in self._project_containers(ns, project.name)
                   if c.labels.get(spec.LABEL_SERVICE) not in known]
        if orphans:
            out.insert(0, f"WARN[0000] Found orphan containers ([{' '.join(orphans)}]) for this "
                          "project. If you removed or renamed this service in your compose "
                          "file, `docker compose down` removes it.\n")
        return Outcome(0, "".join(out), notes=notes, facts={"compose": facts})

    def _up_service(self, person: Person, ns: Namespace, project: spec.Project,
                    service: spec.Service, facts: dict[str, Any]) -> tuple[int, str]:
        """Create and start one service's container (or start the one there); (code, line)."""
        name = project.container(service.name)
        existing = self._find_container(ns, name, by_id=False)
        state = "Started"
        labels = project.labels(service.name)
        if existing is not None:
            if existing.labels.get(spec.LABEL_PROJECT) != project.name:
                return 1, (f"Error response from daemon: Conflict. The container name "
                           f'"/{name}" is already in use by container "{existing.id}".\n')
            if existing.labels.get(spec.LABEL_HASH) != labels[spec.LABEL_HASH]:
                # The file changed since: Compose replaces the container.
                done = self._act(person, ns, Command("rm", opts={"force": True}, args=[name]))
                if done.exit_code:
                    return done.exit_code, done.output
                existing, state = None, "Recreated"
        if existing is not None:
            facts["containers"].append(self._view(ns, existing).as_fact())
            if existing.status == "running":
                return 0, _line("Container", name, "Running")
            done = self._act(person, ns, Command("start", args=[name]))
            return done.exit_code, (_line("Container", name, "Started") if not done.exit_code
                                    else done.output)
        done = self._act(person, ns, service.run, labels)
        if done.exit_code:
            return done.exit_code, done.output
        container = done.facts.get("container") or {}
        facts["containers"].append(container)
        facts["created"].append(container)
        for network in service.networks[1:]:
            joined = self._act(person, ns, Command(
                "network connect", opts={"alias": [service.name, *service.aliases[network]]},
                args=[project.network(network), name]))
            if joined.exit_code:
                return joined.exit_code, joined.output
        return 0, _line("Container", name, state)

    # -- down -------------------------------------------------------------------------------

    def _do_compose_down(self, person: Person, ns: Namespace, command: Command,
                         plan: Plan) -> Outcome:
        project = self._project(ns, command)
        name = (project.name if isinstance(project, spec.Project)
                else self._project_name(command) or spec.DEFAULT_PROJECT)
        out: list[str] = []
        removed: list[dict[str, Any]] = []
        names = [self._view(ns, c).name for c in reversed(self._project_containers(ns, name))]
        if names:  # one `docker rm -f` for the project's containers, newest first
            done = self._act(person, ns, Command("rm", opts={"force": True}, args=names))
            if done.exit_code:
                return Outcome(1, done.output)
            removed.extend(done.facts.get("removed") or [])
            out.extend(_line("Container", n, "Removed") for n in names)
        for network in own_networks(self.client, ns):
            labels = network.attrs.get("Labels") or {}
            if labels.get(spec.LABEL_PROJECT) == name:
                learner = str(labels.get("docker-tutor.name", ""))
                done = self._act(person, ns, Command("network rm", args=[learner]))
                out.append(_line("Network", learner, "Removed") if not done.exit_code
                           else done.output)
        volumes: list[str] = []
        if command.flag("volumes"):
            for volume in self._volumes(ns):
                labels = volume.attrs.get("Labels") or {}
                if labels.get(spec.LABEL_PROJECT) == name:
                    learner = str(labels.get("docker-tutor.name", ""))
                    done = self._act(person, ns, Command("volume rm", args=[learner]))
                    out.append(_line("Volume", learner, "Removed") if not done.exit_code
                               else done.output)
                    volumes.append(learner)
        return Outcome(0, "".join(out), facts={"removed": removed, "compose": {
            "project": name, "removed_volumes": volumes}})

    # -- reading ----------------------------------------------------------------------------

    def _do_compose_ps(self, person: Person, ns: Namespace, command: Command,
                       plan: Plan) -> Outcome:
        project = self._project(ns, command)
        if isinstance(project, Outcome):
            return project
        rows = []
        for c in self._project_containers(ns, project.name, self._selected(project, command)):
            if c.status != "running" and not command.flag("all"):
                continue
            view = self._view(ns, c)
            if command.flag("quiet"):
                rows.append([c.id])
                continue
            rows.append([view.name, view.image, formatting.truncate_command(" ".join(view.command)),
                         c.labels.get(spec.LABEL_SERVICE, ""),
                         formatting.ago(c.attrs.get("Created", "")),
                         formatting.status_line(c.attrs.get("State") or {}), ""])
        if command.flag("quiet"):
            return Outcome(0, "".join(r[0] + "\n" for r in rows))
        return Outcome(0, formatting.table(
            ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"], rows))

    def _do_compose_logs(self, person: Person, ns: Namespace, command: Command,
                         plan: Plan) -> Outcome:
        project = self._project(ns, command)
        if isinstance(project, Outcome):
            return project
        containers = self._project_containers(ns, project.name, self._selected(project, command))
        width = max((len(self._view(ns, c).name) for c in containers), default=0)
        out: list[str] = []
        for container in containers:
            name = self._view(ns, container).name
            opts: dict[str, object] = {"tail": command.value("tail")} if command.value("tail") else {}
            done = self._act(person, ns, Command("logs", opts=opts, args=[name]))
            out.extend(f"{name.ljust(width)}  | {line}\n" for line in done.output.splitlines())
        return Outcome(0, "".join(out))

    def _do_compose_config(self, person: Person, ns: Namespace, command: Command,
                           plan: Plan) -> Outcome:
        project = self._project(ns, command)
        if isinstance(project, Outcome):
            return project
        return Outcome(0, "" if command.flag("quiet") else project.config())

    # -- acting on the services ---------------------------------------------------------------

    def _do_compose_exec(self, person: Person, ns: Namespace, command: Command,
                         plan: Plan) -> Outcome:
        project = self._project(ns, command)
        if isinstance(project, Outcome):
            return project
        service, argv = command.args[0], command.args[1:]
        self._selected(project, Command("compose exec", args=[service]))
        option_values.check_not_interactive(service, argv, interactive=True)
        opts = {k: v for k, v in command.opts.items() if k in ("env", "workdir", "user")}
        name = project.container(service)
        if self._find_container(ns, name, by_id=False) is None:
            return Outcome(1, f"service \"{service}\" is not running\n")
        return self._act(person, ns, Command("exec", opts=opts, args=[name, *argv],
                                             text=command.text))

    def _each_service(self, person: Person, ns: Namespace, command: Command, verb: str,
                      state: str) -> Outcome:
        project = self._project(ns, command)
        if isinstance(project, Outcome):
            return project
        names = [self._view(ns, c).name for c in
                 self._project_containers(ns, project.name, self._selected(project, command))]
        if not names:
            return Outcome(0, "")
        opts: dict[str, object] = {"time": command.value("time")} if command.value("time") else {}
        done = self._act(person, ns, Command(verb, opts=opts, args=names))
        if done.exit_code:
            return done
        return Outcome(0, "".join(_line("Container", n, state) for n in names),
                       facts=done.facts)

    def _do_compose_restart(self, person: Person, ns: Namespace, command: Command,
                            plan: Plan) -> Outcome:
        return self._each_service(person, ns, command, "restart", "Started")

    def _do_compose_stop(self, person: Person, ns: Namespace, command: Command,
                         plan: Plan) -> Outcome:
        return self._each_service(person, ns, command, "stop", "Stopped")

    def _do_compose_start(self, person: Person, ns: Namespace, command: Command,
                          plan: Plan) -> Outcome:
        return self._each_service(person, ns, command, "start", "Started")

    def _do_compose_build(self, person: Person, ns: Namespace, command: Command,
                          plan: Plan) -> Outcome:
        raise CommandRefused(BUILD_REFUSED, option="compose build")


__all__ = ["ComposeMixin"]
