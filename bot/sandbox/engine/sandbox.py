"""The sandbox: runs parsed learner commands on the Docker engine, confined and limited.

:class:`Sandbox` is composed from independent parts, one per verb family, as docker-py
composes its ``APIClient`` from its API mixins. Each part builds on the base alone
(:mod:`~bot.sandbox.engine.client`: client, lookups, creating and removing, vetting),
never on another part and never through ``super()``:

* :mod:`~bot.sandbox.resources.run`: ``run``;
* :mod:`~bot.sandbox.resources.containers`: ``rm``, ``stop``, ``start``, ``restart``,
  ``kill``, ``rename``, ``container prune``, and the tutor's container reads;
* :mod:`~bot.sandbox.resources.listing`: ``ps``, ``top``, ``diff``;
* :mod:`~bot.sandbox.resources.execs`: ``exec`` (with what it knows of Redis,
  :mod:`~bot.sandbox.redis.hooks`, which fills the exec part's hooks);
* :mod:`~bot.sandbox.resources.volumes`: ``volume create/ls/rm/inspect/prune``;
* :mod:`~bot.sandbox.resources.inspection`: ``inspect``, ``logs``;
* :mod:`~bot.sandbox.resources.networks`: ``network ...``;
* :mod:`~bot.sandbox.resources.images`: ``images``, ``tag``, ``image rm/prune/inspect``, ``history``;
* :mod:`~bot.sandbox.resources.build`: ``build``;
* :mod:`~bot.sandbox.resources.witness`: the tutor's own runs of an image;
* :mod:`~bot.sandbox.resources.compose`: ``compose up/down/ps/...``, through the other
  verbs (:meth:`Sandbox._dispatch`);
* :mod:`~bot.sandbox.resources.network_witness`: the tutor's own requests to a learner's
  service, from inside their network.

:data:`VERBS` maps every verb of the allow-list to its handler.

``bot.sandbox`` is the only package that imports ``docker``. Every docker-py error is
translated here: a learner sees the docker CLI's wording, an operator sees
:class:`~bot.errors.EngineUnavailable`; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Callable

import docker.errors

from bot.identity import Person
from bot.sandbox.engine import line_budget
from bot.sandbox.engine.client import Plan
from bot.sandbox.engine.recall import KEEPS_NAMES
from bot.sandbox.engine.streams import cap_output
from bot.sandbox.engine.translate import boundary, engine_calls
from bot.sandbox.policy.naming import Namespace
from bot.sandbox.policy.parser import Command
from bot.sandbox.policy.verbs import VERB_OPTIONS
from bot.sandbox.pool.janitor import Janitor
from bot.sandbox.protocol import LearnerSandbox
from bot.sandbox.redis.hooks import RedisMixin
from bot.sandbox.resources.build import BuildMixin
from bot.sandbox.resources.compose import ComposeMixin
from bot.sandbox.resources.containers import ContainersMixin
from bot.sandbox.resources.execs import ExecMixin
from bot.sandbox.resources.images import ImagesMixin
from bot.sandbox.resources.inspection import InspectionMixin
from bot.sandbox.resources.listing import ListingMixin
from bot.sandbox.resources.network_witness import NetworkWitnessMixin
from bot.sandbox.resources.networks import NetworksMixin
from bot.sandbox.resources.run import RunMixin
from bot.sandbox.resources.volumes import VolumesMixin
from bot.sandbox.resources.witness import ImageWitnessMixin
from bot.sandbox.views import Outcome

RUN_HELP = "Run 'docker run --help' for more information\n"
"""The line the docker CLI ends a failed ``docker run`` with (exit status 125)."""

SELF_TIMED = frozenset({"run", "exec", "stop", "restart", "build"})
"""Verbs that keep their own clock (a build has three times the line's); every other verb
runs under the line's deadline."""


class Sandbox(RunMixin, ContainersMixin, ListingMixin, RedisMixin, VolumesMixin, InspectionMixin,
              NetworksMixin, ImagesMixin, BuildMixin, ImageWitnessMixin, ComposeMixin,
              NetworkWitnessMixin):
    """Learners' docker commands, confined to each learner's own namespace.

    Args:
        settings: Limits, the engine address, the workspaces folder, the name prefix.
        allowed_images: Image names learners may run (``redis``, ``busybox``); ``None``
            allows every image that exists locally (for tests of the sandbox alone).
    """

    @boundary
    def run_command(self, person: Person, command: Command) -> Outcome:
        """Execute a parsed learner command and return what the docker CLI would show.

        Raises:
            CommandRefused: The policy refused it (nothing reached the engine).
            QuotaExceeded: A quota would be exceeded.
            EngineUnavailable: The engine could not be reached.
        """
        plan = self.vet(person, command)
        ns = self.namespace(person)
        handler = VERBS[command.verb]
        self._looks.forget(ns.learner)  # the tutor's reads of this line predate the command
        self._identities.begin(ns.learner)  # kept from the learner's last line, if it was here
        deadline = None if command.verb in SELF_TIMED else self._line_deadline()
        try:
            with engine_calls(), line_budget.under(self.client.api, deadline):
                outcome = handler(self, person, ns, command, plan)
        except line_budget.LineTimedOut:
            outcome = Outcome(1, "", notes=[
                f"`docker {command.verb}` was still waiting for the engine after "
                f"{self.limits.foreground_seconds:g} seconds, so the tutor stopped it there. "
                "Whatever the engine already did stays done."])
        except docker.errors.APIError as exc:
            message = self._rewrite(ns, str(exc.explanation or exc))
            prefix = "docker: " if command.verb == "run" else ""
            outcome = Outcome(125 if command.verb == "run" else 1,
                              f"{prefix}Error response from daemon: {message}\n")
        finally:
            self._looks.settle(ns.learner)  # nor what it read; only what it says it left
            if command.verb not in KEEPS_NAMES:  # names may now pair with other ids
                self._identities.forget(ns.learner)
        if command.verb == "run" and outcome.exit_code == 125 and outcome.output.startswith(
                "docker: ") and not outcome.output.endswith(RUN_HELP):
            outcome.output += "\n" + RUN_HELP
        outcome.notes[:0] = [*self._take_notes(ns), *command.notes]  # overtime and disk notes
        outcome.output, outcome.cut = cap_output(
            outcome.output, self.limits.output_chars, outcome.cut
        )
        outcome.facts.setdefault("verb", command.verb)
        return outcome

    def _dispatch(self, person: Person, ns: Namespace, command: Command, plan: Plan) -> Outcome:
        """Run one verb of :data:`VERBS` (how ``docker compose`` reaches the other parts)."""
        return VERBS[command.verb](self, person, ns, command, plan)

    def janitors(self) -> list[Janitor]:
        """What housekeeping lists and removes on this engine (one janitor)."""
        return [Janitor(self)]


Handler = Callable[[Sandbox, Person, Namespace, Command, Plan], Outcome]

VERBS: dict[str, Handler] = {
    "run": RunMixin._do_run,
    "exec": ExecMixin._do_exec,
    "ps": ListingMixin._do_ps,
    "kill": ContainersMixin._do_kill,
    "rename": ContainersMixin._do_rename,
    "diff": ListingMixin._do_diff,
    "top": ListingMixin._do_top,
    "container prune": ContainersMixin._do_container_prune,
    "rm": ContainersMixin._do_rm,
    "stop": ContainersMixin._do_stop,
    "start": ContainersMixin._do_start,
    "restart": ContainersMixin._do_restart,
    "logs": InspectionMixin._do_logs,
    "inspect": InspectionMixin._do_inspect,
    "images": ImagesMixin._do_images,
    "build": BuildMixin._do_build,
    "tag": ImagesMixin._do_tag,
    "image rm": ImagesMixin._do_image_rm,
    "image prune": ImagesMixin._do_image_prune,
    "history": ImagesMixin._do_history,
    "image inspect": ImagesMixin._do_image_inspect,
    "volume create": VolumesMixin._do_volume_create,
    "volume ls": VolumesMixin._do_volume_ls,
    "volume rm": VolumesMixin._do_volume_rm,
    "volume inspect": VolumesMixin._do_volume_inspect,
    "volume prune": VolumesMixin._do_volume_prune,
    "network create": NetworksMixin._do_network_create,
    "network ls": NetworksMixin._do_network_ls,
    "network inspect": NetworksMixin._do_network_inspect,
    "network rm": NetworksMixin._do_network_rm,
    "network connect": NetworksMixin._do_network_connect,
    "network disconnect": NetworksMixin._do_network_disconnect,
    "network prune": NetworksMixin._do_network_prune,
    "compose up": ComposeMixin._do_compose_up,
    "compose down": ComposeMixin._do_compose_down,
    "compose ps": ComposeMixin._do_compose_ps,
    "compose logs": ComposeMixin._do_compose_logs,
    "compose config": ComposeMixin._do_compose_config,
    "compose exec": ComposeMixin._do_compose_exec,
    "compose restart": ComposeMixin._do_compose_restart,
    "compose stop": ComposeMixin._do_compose_stop,
    "compose start": ComposeMixin._do_compose_start,
    "compose build": ComposeMixin._do_compose_build,
}
"""Every verb the parser accepts (``volume create`` and friends included), to its handler."""


def check_verbs() -> None:
    """Fail loudly when the verb table and the parser's allow-list disagree.

    Raises:
        ImportError: A verb is accepted by the parser but has no handler, or the reverse.
    """
    unhandled = set(VERB_OPTIONS) - set(VERBS)
    unknown = set(VERBS) - set(VERB_OPTIONS)
    if unhandled or unknown:
        raise ImportError(
            f"bot.sandbox.engine.sandbox.VERBS is out of step with the parser: "
            f"no handler for {sorted(unhandled)}, no parser entry for {sorted(unknown)}"
        )


check_verbs()

_satisfies: type[LearnerSandbox] = Sandbox
"""mypy checks here that :class:`Sandbox` is a :class:`~bot.sandbox.protocol.LearnerSandbox`."""
