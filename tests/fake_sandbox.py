"""An in-memory :class:`bot.sandbox.LearnerSandbox`, for testing the tutor's logic with no engine.

:class:`FakeSandbox` keeps each learner's containers, volumes and workspace files in
dictionaries and models the verbs a lesson's first steps use (``run``, ``ps``, ``stop``,
``start``, ``rm``, ``volume create/ls/rm``) as the docker CLI answers them: the same
outputs and exit statuses for the cases it models, and the same ``facts`` the real
sandbox records, so the checks and the command log see what they would see. Every command
is vetted by the real policy first (:func:`bot.sandbox.engine.vetting.vet_command`), so a
refused command never reaches it.

Anything else is *scripted*: :meth:`FakeSandbox.script` gives the outcome of one command
line (and, optionally, what it changes), and :meth:`FakeSandbox.script_exec` what the tutor
reads with ``exec``. A command it neither models nor has a script for fails the test with
an :class:`AssertionError`, never silently. Setting :attr:`FakeSandbox.down` makes every
call fail as an unreachable engine does (:class:`~bot.errors.EngineUnavailable`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.errors import EngineUnavailable, QuotaExceeded
from bot.identity import Person
from bot.sandbox import (
    Command,
    ContainerView,
    ImageView,
    LearnerSandbox,
    MountView,
    Namespace,
    NetworkView,
    Outcome,
    VolumeView,
    WitnessReport,
    parse,
)
from bot.sandbox.engine.vetting import Plan, vet_command
from bot.sandbox.policy import clean_path
from bot.sandbox.policy.naming import anonymous_name, new_uid
from bot.sandbox.pool.janitor import Janitor

NOT_FOUND = "Error response from daemon: No such container: {}\n"
DOWN = "The Docker engine is not reachable right now; your progress is safe."


@dataclass
class FakeContainer:
    """One learner container, as the fake engine holds it."""

    name: str
    image: str
    running: bool
    command: tuple[str, ...] = ()
    mounts: tuple[MountView, ...] = ()
    id: str = field(default_factory=lambda: secrets.token_hex(32))

    def view(self) -> ContainerView:
        """What the real sandbox's ``container()`` would return for it."""
        return ContainerView(id=self.id, name=self.name, image=self.image, running=self.running,
                             status="running" if self.running else "exited",
                             mounts=self.mounts, command=self.command)


@dataclass
class Learner:
    """Everything one learner has on the fake engine."""

    containers: dict[str, FakeContainer] = field(default_factory=dict)
    volumes: dict[str, VolumeView] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    redis: dict[str, dict[str, str]] = field(default_factory=dict)  # container -> keys
    networks: dict[str, NetworkView] = field(default_factory=dict)
    witnessed: dict[tuple[str, str, str], WitnessReport] = field(default_factory=dict)
    # (network, host, "http:PORT:PATH" or "redis:KEY") -> what the witness sees
    images: dict[str, ImageView] = field(default_factory=dict)  # name -> its view
    image_files: dict[str, set[str]] = field(default_factory=dict)  # name -> paths in it
    image_output: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> a run


Change = Callable[[Learner], None]


class FakeSandbox:
    """A :class:`~bot.sandbox.LearnerSandbox` held in memory (see the module docstring).

    Args:
        namespace: The deployment prefix its namespaces use.
        allowed_images: Image names learners may run.
        max_containers: The container quota, as ``TUTOR_MAX_CONTAINERS``.
    """

    def __init__(self, namespace: str = "fake", allowed_images: tuple[str, ...] = ("redis", "busybox"),
                 *, max_containers: int = 5) -> None:
        self.prefix = namespace
        self.allowed_images = frozenset(allowed_images)
        self.max_containers = max_containers
        self.learners: dict[str, Learner] = {}
        self.ran: list[str] = []  # every command that reached the engine (``run -d ...``)
        self.down = False
        self.closed = False
        self._scripts: dict[str, list[tuple[Outcome, Change | None]]] = {}
        self._execs: dict[tuple[str, tuple[str, ...]], tuple[int, str]] = {}

    # -- scripting ------------------------------------------------------------------------

    def script(self, line: str, outcome: Outcome, change: Change | None = None) -> None:
        """The next time ``line`` is run, answer ``outcome`` and apply ``change`` to the learner.

        ``line`` is what the learner types (``docker run ...``), matched once parsed.
        """
        self._scripts.setdefault(parse(line).text, []).append((outcome, change))

    def script_exec(self, container: str, argv: list[str], code: int, output: str) -> None:
        """What ``exec_capture`` answers for ``argv`` in a running container called ``container``."""
        self._execs[(container, tuple(argv))] = (code, output)

    def learner(self, person: Person) -> Learner:
        """The person's objects (created empty on first use)."""
        return self.learners.setdefault(person.key, Learner())

    def _engine(self) -> None:
        if self.down:
            raise EngineUnavailable(DOWN)

    # -- the learner's commands -----------------------------------------------------------

    def vet(self, person: Person, command: Command) -> Plan:
        """The real policy's vetting (no engine involved, here or in the real sandbox)."""
        return vet_command(command, self.allowed_images)

    def run_command(self, person: Person, command: Command) -> Outcome:
        """A scripted outcome for the line, else the modelled verb; anything else fails the test."""
        plan = self.vet(person, command)
        self._engine()
        self.ran.append(command.text)
        me = self.learner(person)
        scripted = self._scripts.get(command.text)
        if scripted:
            outcome, change = scripted.pop(0)
            if change is not None:
                change(me)
        else:
            verb = _VERBS.get(command.verb)
            if verb is None:
                raise AssertionError(f"FakeSandbox models no `docker {command.verb}`: script "
                                     f"{command.text!r} with FakeSandbox.script()")
            outcome = verb(self, me, command, plan)
        outcome.notes[:0] = command.notes
        outcome.facts.setdefault("verb", command.verb)
        return outcome

    def _run(self, me: Learner, command: Command, plan: Plan) -> Outcome:
        if plan.name in me.containers:
            return Outcome(125, f'docker: Error response from daemon: Conflict. The container '
                                f'name "/{plan.name}" is already in use by container '
                                f'"{me.containers[plan.name].id}". You have to remove (or '
                                "rename) that container to be able to reuse that name.\n")
        if len(me.containers) >= self.max_containers:
            raise QuotaExceeded(f"You already have {self.max_containers} containers, the most "
                                "the sandbox allows.", option="quota:containers")
        mounts = []
        for request in plan.mounts:
            if request.kind == "volume":
                volume = me.volumes.setdefault(request.source,
                                               VolumeView(request.source, new_uid(), False))
                mounts.append(MountView("volume", volume.name, volume.uid, request.target))
            else:
                mounts.append(MountView(request.kind, "", "", request.target))
        detach = command.flag("detach")
        container = FakeContainer(plan.name, plan.image_name, running=detach,
                                  command=tuple(command.args[1:]), mounts=tuple(mounts))
        facts = {"container": container.view().as_fact(), "argv": command.args[1:],
                 "detach": detach}
        if detach:
            me.containers[container.name] = container
            return Outcome(0, container.id + "\n", facts=facts)
        if not command.flag("rm"):
            me.containers[container.name] = container
        facts["exit"] = 0
        return Outcome(0, "", facts=facts)

    def _ps(self, me: Learner, command: Command, plan: Plan) -> Outcome:
        shown = [c for c in me.containers.values() if c.running or command.flag("all")]
        if command.flag("quiet"):
            return Outcome(0, "".join(c.id[:12] + "\n" for c in shown))
        rows = ["CONTAINER ID   IMAGE     NAMES"]
        rows += [f"{c.id[:12]}   {c.image:9} {c.name}" for c in shown]
        return Outcome(0, "\n".join(rows) + "\n")

    def _each(self, me: Learner, command: Command, act: Callable[[FakeContainer], str | None],
              key: str) -> Outcome:
        out, code, done = [], 0, []
        for ref in command.args:
            container = me.containers.get(ref)
            if container is None:
                out.append(NOT_FOUND.format(ref))
                code = 1
                continue
            fact = {"id": container.id, "name": container.name}
            error = act(container)
            if error:
                out.append(error + "\n")
                code = 1
            else:
                out.append(ref + "\n")
                done.append(fact)
        return Outcome(code, "".join(out), facts={key: done})

    def _stop(self, me: Learner, command: Command, plan: Plan) -> Outcome:
        def act(container: FakeContainer) -> None:
            container.running = False
        return self._each(me, command, act, "stopped")

    def _start(self, me: Learner, command: Command, plan: Plan) -> Outcome:
        def act(container: FakeContainer) -> None:
            container.running = True
        return self._each(me, command, act, "started")

    def _rm(self, me: Learner, command: Command, plan: Plan) -> Outcome:
        force = command.flag("force")

        def act(container: FakeContainer) -> str | None:
            if container.running and not force:
                return (f"Error response from daemon: You cannot remove a running container "
                        f"{container.id}. Stop the container before attempting removal or "
                        "force remove")
            del me.containers[container.name]
            return None

        outcome = self._each(me, command, act, "removed")
        if force and all("No such container" in line for line in outcome.output.splitlines()
                          if line.startswith("Error")):
            outcome.exit_code = 0
        return outcome

    def _volume_create(self, me: Learner, command: Command, plan: Plan) -> Outcome:
        name = plan.name or anonymous_name()
        volume = me.volumes.setdefault(name, VolumeView(name, new_uid(), False))
        return Outcome(0, name + "\n", facts={"volume": {"name": name, "uid": volume.uid}})

    def _volume_ls(self, me: Learner, command: Command, plan: Plan) -> Outcome:
        names = sorted(me.volumes)
        if command.flag("quiet"):
            return Outcome(0, "".join(n + "\n" for n in names))
        return Outcome(0, "DRIVER    VOLUME NAME\n" + "".join(f"local     {n}\n" for n in names))

    def _volume_rm(self, me: Learner, command: Command, plan: Plan) -> Outcome:
        out, code, removed = [], 0, []
        for name in command.args:
            if name not in me.volumes:
                out.append(f"Error response from daemon: get {name}: no such volume\n")
                code = 1
                continue
            users = [c.id for c in me.containers.values() if any(m.name == name for m in c.mounts)]
            if users:
                out.append(f"Error response from daemon: remove {name}: volume is in use - "
                           f"[{', '.join(users)}]\n")
                code = 1
                continue
            removed.append({"name": name, "uid": me.volumes.pop(name).uid})
            out.append(name + "\n")
        return Outcome(code, "".join(out), facts={"removed_volumes": removed})

    # -- what the tutor and the checks read -----------------------------------------------

    def container(self, person: Person, name: str) -> ContainerView | None:
        """The person's container called ``name``, or ``None``."""
        self._engine()
        found = self.learner(person).containers.get(name)
        return None if found is None else found.view()

    def containers(self, person: Person) -> list[ContainerView]:
        """Every container of the person."""
        self._engine()
        return [c.view() for c in self.learner(person).containers.values()]

    def container_names(self, person: Person) -> list[str]:
        """The names of the person's containers, sorted."""
        return sorted(c.name for c in self.containers(person))

    def volume(self, person: Person, name: str) -> VolumeView | None:
        """The person's volume called ``name``, or ``None``."""
        self._engine()
        return self.learner(person).volumes.get(name)

    def volumes(self, person: Person) -> list[VolumeView]:
        """Every volume of the person."""
        self._engine()
        return list(self.learner(person).volumes.values())

    def exec_capture(self, person: Person, name: str, argv: list[str], *,
                     timeout: float = 10.0) -> tuple[int, str] | None:
        """The scripted answer for ``argv``; ``None`` when the container does not run."""
        self._engine()
        container = self.learner(person).containers.get(name)
        if container is None or not container.running:
            return None
        answer = self._execs.get((name, tuple(argv)))
        if answer is None:
            raise AssertionError(f"FakeSandbox has no exec script for {argv!r} in {name!r}")
        return answer

    def redis_get(self, person: Person, name: str, key: str) -> tuple[bool, str | None]:
        """``key`` from the container's Redis keys (:attr:`Learner.redis`)."""
        self._engine()
        container = self.learner(person).containers.get(name)
        if container is None or not container.running:
            return False, None
        return True, self.learner(person).redis.get(name, {}).get(key)

    def network(self, person: Person, name: str) -> NetworkView | None:
        """The person's network called ``name`` (:attr:`Learner.networks`), or ``None``."""
        self._engine()
        return self.learner(person).networks.get(name)

    def witness_http(self, person: Person, network: str, host: str, port: int,
                     path: str = "/") -> WitnessReport | None:
        """What :attr:`Learner.witnessed` says a GET of ``path`` from ``host:port`` sees."""
        return self._witnessed(person, network, host, f"http:{port}:{path}")

    def witness_redis(self, person: Person, network: str, host: str,
                      key: str) -> WitnessReport | None:
        """What :attr:`Learner.witnessed` says a Redis read of ``key`` from ``host`` sees."""
        return self._witnessed(person, network, host, f"redis:{key}")

    def _witnessed(self, person: Person, network: str, host: str,
                   request: str) -> WitnessReport | None:
        self._engine()
        me = self.learner(person)
        if network not in me.networks:
            return None
        return me.witnessed.get((network, host, request), WitnessReport(1, "nc: bad address\n"))
    def image(self, person: Person, name: str) -> ImageView | None:
        """The learner's image ``name`` (:attr:`Learner.images`)."""
        self._engine()
        return self.learner(person).images.get(name)

    def image_run(self, person: Person, name: str, argv: list[str] | None = None,
                  *, timeout: float = 10.0) -> tuple[int, str] | None:
        """What a witness run of the image prints (:attr:`Learner.image_output`)."""
        self._engine()
        mine = self.learner(person)
        return None if name not in mine.images else mine.image_output.get(name, (0, ""))

    def image_path(self, person: Person, name: str, path: str) -> bool | None:
        """Whether ``path`` is among the image's files (:attr:`Learner.image_files`)."""
        self._engine()
        mine = self.learner(person)
        return None if name not in mine.images else path in mine.image_files.get(name, set())

    def redis_witness(self, person: Person, name: str, key: str, target: str,
                      options: Mapping[str, str], *, wait: float = 10.0) -> dict[str, Any]:
        """What a witness would load: ``key`` from the container's Redis keys, database 0."""
        self._engine()
        container = self.learner(person).containers.get(name)
        if container is None:
            return {"reachable": False, "why": "no container"}
        value = self.learner(person).redis.get(name, {}).get(key)
        return {"reachable": True, "values": {} if value is None else {"0": value},
                "others": {}, "aof": options.get("appendonly") == "yes", "witness": True}

    def container_file(self, person: Person, name: str, path: str) -> tuple[bool, str | None]:
        """A file as the scripted ``cat PATH`` (or ``test -e PATH``) answer says it is."""
        self._engine()
        if name not in self.learner(person).containers:
            return False, None
        cat = self._execs.get((name, ("cat", path)))
        if cat is not None:
            return (True, cat[1]) if cat[0] == 0 else (False, None)
        test = self._execs.get((name, ("test", "-e", path)))
        return (test is not None and test[0] == 0), None

    def ending(self, person: Person, name: str) -> dict[str, Any] | None:
        """How the container ended: its exit code, no OOM, no log."""
        self._engine()
        container = self.learner(person).containers.get(name)
        if container is None:
            return None
        return {"exit": 0, "oom": False, "cause": "", "running": container.running}

    def read_workspace_file(self, person: Person, path: str) -> str | None:
        """The text of ``path`` in the person's workspace, or ``None``."""
        self._engine()
        return self.learner(person).files.get(clean_path(path))

    # -- what the tutor changes besides commands ------------------------------------------

    def write_workspace_file(self, person: Person, path: str, text: str) -> int:
        """Keep ``text`` as ``path`` of the person's workspace; the bytes written."""
        self._engine()
        self.learner(person).files[clean_path(path)] = text
        return len(text.encode())

    def remove_all(self, person: Person) -> tuple[int, int]:
        """Remove every container, volume and workspace file of the person."""
        self._engine()
        me = self.learners.pop(person.key, Learner())
        return len(me.containers), len(me.volumes)

    # -- plumbing -------------------------------------------------------------------------

    def namespace(self, person: Person) -> Namespace:
        """The person's namespace under this fake's prefix."""
        return Namespace.for_key(self.prefix, person.key)

    def engine_address(self, person: Person) -> str:
        """Where the person's commands go: nowhere real."""
        return "fake"

    def janitors(self) -> list[Janitor]:
        """No engine, so nothing for housekeeping to list or remove."""
        return []

    def ping(self) -> bool:
        """Whether the fake engine is up."""
        return not self.down

    def close(self) -> None:
        """Remember that the tutor closed it."""
        self.closed = True


_VERBS: dict[str, Callable[[FakeSandbox, Learner, Command, Plan], Outcome]] = {
    "run": FakeSandbox._run,
    "ps": FakeSandbox._ps,
    "stop": FakeSandbox._stop,
    "start": FakeSandbox._start,
    "rm": FakeSandbox._rm,
    "volume create": FakeSandbox._volume_create,
    "volume ls": FakeSandbox._volume_ls,
    "volume rm": FakeSandbox._volume_rm,
}
"""The verbs the fake models; every other one must be scripted."""

_satisfies: type[LearnerSandbox] = FakeSandbox
"""mypy (``mypy tests/fake_sandbox.py``) checks here that the fake is a LearnerSandbox."""
