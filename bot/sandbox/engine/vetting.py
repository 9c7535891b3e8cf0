"""Vetting: every value of a learner's command checked against the policy, into a :class:`Plan`.

Nothing here talks to the engine: a refused command never reaches it. The verb parts of
:class:`~bot.sandbox.engine.sandbox.Sandbox` act on the plan, never on raw values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import CommandRefused
from bot.printable import one_line
from bot.sandbox.compose.keys import BUILD_REFUSED
from bot.sandbox.compose.spec import check_project_name
from bot.sandbox.policy import mounts, naming
from bot.sandbox.policy import rules as policy
from bot.sandbox.policy import values as option_values
from bot.sandbox.policy.mounts import MountRequest
from bot.sandbox.policy.parser import Command
from bot.sandbox.workspace.names import refuse_sub_folder


@dataclass
class Plan:
    """A learner command after vetting: every value checked, nothing sent to the engine.

    Attributes:
        image_name: For ``run``: the image name the learner knows (``redis``).
        tag: For ``run``: the local tag to create from (``redis:latest``).
        name: For ``run`` and ``volume create``: the learner's name (given or invented).
        env: For ``run`` and ``exec``: ``NAME=value`` items.
        mounts: For ``run``: the mounts asked for (a ``bind`` is the whole workspace).
        user: ``-u`` for ``run`` and ``exec``.
        workdir: ``-w`` for ``run`` and ``exec``.
        hostname: ``-h`` for ``run``.
        entrypoint: ``--entrypoint`` for ``run``, split into words.
        own_image: For ``run``: the image is to be found among the learner's own.
        seconds: ``-t`` for ``stop`` and ``restart``.
        tail: ``--tail`` for ``logs``.
        network: For ``run``: the learner's network to join (``None``: no network).
        aliases: For ``run`` and ``network connect``: extra names on that network.
        labels: Extra labels for what ``run``, ``network create`` or ``volume create``
            makes: never from the learner's line (``--label`` is refused), only from
            ``docker compose`` (the labels the real Compose sets).
    """

    image_name: str = ""
    tag: str = ""
    name: str = ""
    env: list[str] = field(default_factory=list)
    mounts: list[MountRequest] = field(default_factory=list)
    user: str | None = None
    workdir: str | None = None
    hostname: str | None = None
    entrypoint: list[str] | None = None
    own_image: bool = False
    seconds: int = 10
    tail: int | str = "all"
    network: str | None = None
    aliases: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


def vet_command(command: Command, allowed_images: frozenset[str] | None) -> Plan:
    """Check every value of ``command`` against the policy and return what to do.

    A bind of the workspace is kept as asked (``run`` mounts the workspace volume); a
    bind of a workspace sub-folder is refused with the way to do it.

    Args:
        command: The parsed learner command.
        allowed_images: Image names learners may run (``None``: any local image).

    Raises:
        CommandRefused: With a one-line reason naming what was refused.
    """
    plan = Plan()
    verb = command.verb
    if verb == "run":
        plan.image_name, plan.tag, plan.own_image = option_values.check_run_image(
            command.args[0], allowed_images)
        name = command.value("name")
        plan.name = (policy.check_name(name, "container") if name
                     else naming.random_container_name())
        plan.env = option_values.check_env(command.values("env"))
        plan.mounts = mounts.requested_mounts(
            command.values("volume"), command.values("mount"), command.values("tmpfs")
        )
        plan.user = option_values.check_user(command.value("user"))
        plan.workdir = option_values.check_workdir(command.value("workdir"))
        plan.hostname = option_values.check_hostname(command.value("hostname"))
        plan.entrypoint = option_values.check_entrypoint(command.value("entrypoint"))
        plan.network = option_values.check_network(command.value("network"))
        plan.aliases = option_values.check_aliases(command.values("network_alias"))
        if plan.aliases and plan.network is None:
            raise CommandRefused("`--network-alias` needs `--network NAME`: an alias is a "
                                 "name on one of your networks.", option="--network-alias")
        for request in plan.mounts:
            if request.kind == "bind" and request.source:
                raise refuse_sub_folder("-v", request.source)
    elif verb == "exec":
        plan.env = option_values.check_env(command.values("env"))
        plan.user = option_values.check_user(command.value("user"))
        plan.workdir = option_values.check_workdir(command.value("workdir"))
    elif verb in ("stop", "restart"):
        plan.seconds = option_values.check_seconds(command.value("time"), 10)
    elif verb == "logs":
        plan.tail = option_values.check_tail(command.value("tail"))
    elif verb == "volume create" and command.args:
        plan.name = policy.check_name(command.args[0], "volume")
    elif verb == "network create":
        plan.name = policy.check_name(command.args[0], "network")
        option_values.check_network(plan.name)  # not `host`, `bridge`, ...
        driver = command.value("driver")
        if driver not in (None, "bridge"):
            raise CommandRefused(f"`--driver {one_line(driver)}` is refused: networks here "
                                 "use the `bridge` driver.", option="--driver")
    elif verb == "compose build":
        raise CommandRefused(BUILD_REFUSED, option="compose build")
    elif verb.startswith("compose ") and command.value("project") is not None:
        check_project_name(str(command.value("project")), "-p")
    elif verb == "network connect":
        option_values.check_network(command.args[0])
        plan.aliases = option_values.check_aliases(command.values("alias"), "--alias")
    return plan


__all__ = ["Plan", "vet_command"]
