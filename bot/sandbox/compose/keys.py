"""Which Compose keys the sandbox honours, and why it refuses the others (as data).

Every key not in :data:`SERVICE_KEYS` or :data:`TOP_KEYS` is refused with a one-line
reason that names it: the reason from :data:`REFUSED_SERVICE_KEYS` when there is one,
else :func:`unsupported`. SECURITY.md lists the same.
"""

from __future__ import annotations

TOP_KEYS = ("name", "services", "networks", "volumes", "version")
"""Top-level keys honoured (``version`` is obsolete and ignored, as the real CLI does;
``x-...`` extension keys are ignored too)."""

SERVICE_KEYS = ("image", "command", "entrypoint", "environment", "volumes", "networks",
                "depends_on", "restart", "working_dir", "user", "hostname", "tmpfs")
"""Service keys honoured, each mapped onto one ``docker run`` option."""

NETWORK_KEYS = ("driver", "internal", "attachable")
"""Keys of a top-level network honoured (``driver: bridge`` only; every network is internal)."""

VOLUME_KEYS = ()
"""Keys of a top-level volume honoured: none (a volume is declared by its name)."""

_HOST = "it would give the container access to the host"
_NO_NETWORK = ("the sandbox has no network to the outside, so nothing can be published: "
               "services reach each other by name on the project's network")

REFUSED_SERVICE_KEYS: dict[str, str] = {
    "ports": _NO_NETWORK,
    "expose": "every service already reaches every port of the others on the project's "
              "network; nothing is exposed beyond it",
    "build": "the sandbox's Compose does not build: build the image with `docker build -t "
             "NAME .` first, then name it with `image:`",
    "privileged": _HOST,
    "cap_add": f"extra kernel capabilities could give {_HOST[8:]}",
    "cap_drop": "the sandbox drops capabilities itself",
    "devices": _HOST,
    "device_cgroup_rules": _HOST,
    "network_mode": "a service joins the project's networks only (`networks:`); "
                    "`host`, `bridge` and `container:` are refused",
    "pid": f"sharing a process namespace could give {_HOST[8:]}",
    "ipc": "containers never share IPC here",
    "uts": "containers never share the host's UTS namespace",
    "userns_mode": "the user namespace setting is fixed",
    "cgroup_parent": "the sandbox places containers itself",
    "cgroup": "the cgroup namespace setting is fixed",
    "security_opt": "the sandbox's security profile is fixed",
    "sysctls": "kernel settings are fixed",
    "ulimits": "the sandbox sets the limits",
    "mem_limit": "the sandbox sets the memory limit",
    "memswap_limit": "the sandbox sets the memory limit",
    "cpus": "the sandbox sets the CPU limit",
    "cpu_shares": "the sandbox sets the CPU limit",
    "pids_limit": "the sandbox sets the process limit",
    "oom_kill_disable": "the memory limit must hold",
    "runtime": "the runtime is fixed",
    "isolation": "the isolation is fixed",
    "init": "the sandbox handles signals for you",
    "container_name": "containers are named `<project>-<service>-1`, as Compose does by "
                      "default",
    "links": "use `networks:`: services find each other by name",
    "external_links": "only the project's own services can be reached",
    "extra_hosts": _NO_NETWORK,
    "dns": _NO_NETWORK,
    "dns_search": _NO_NETWORK,
    "dns_opt": _NO_NETWORK,
    "mac_address": "addresses are the engine's to give",
    "env_file": "it reads a file on the host: list the variables under `environment:`",
    "labels": "the sandbox labels containers itself",
    "label_file": "the sandbox labels containers itself",
    "volumes_from": "name the volume under `volumes:` instead",
    "deploy": "there is one engine and one replica per service here",
    "scale": "there is one replica per service here",
    "healthcheck": "health checks are not run in this sandbox",
    "logging": "the sandbox keeps each container's log itself",
    "secrets": "secrets would be files on the host",
    "configs": "configs would be files on the host",
    "profiles": "every service of the file is started",
    "stdin_open": "the sandbox is not an interactive terminal",
    "tty": "the sandbox is not an interactive terminal",
    "platform": "images are the lesson's own",
    "pull_policy": "the sandbox has no network, so images are never pulled",
    "group_add": "group membership is fixed",
    "shm_size": "the sandbox sets the limits",
    "stop_signal": "containers stop with the image's signal",
    "stop_grace_period": "containers stop after 10 seconds, as `docker stop` does",
    "extends": "write each service out in full",
    "develop": "the sandbox does not watch files",
}
"""Service keys refused, each with why (the key is named in the message)."""

REFUSED_TOP_KEYS: dict[str, str] = {
    "secrets": "secrets would be files on the host",
    "configs": "configs would be files on the host",
    "include": "the sandbox reads one file",
    "models": "there are no models here",
}
"""Top-level keys refused, each with why."""


BUILD_REFUSED = ("`docker compose build` is refused: the sandbox's Compose does not build. "
                 "Build the image with `docker build -t NAME .`, then name it with `image:`.")
"""Why ``compose build`` is refused (before the engine is asked)."""


def unsupported(path: str) -> str:
    """The refusal for a key the sandbox neither honours nor has a reason for."""
    return f"`{path}` is not supported by the sandbox's Compose."


def refused(path: str, reason: str) -> str:
    """The one-line refusal naming the key ``path`` and why."""
    return f"`{path}` is refused: {reason}."


__all__ = ["BUILD_REFUSED", "NETWORK_KEYS", "REFUSED_SERVICE_KEYS", "REFUSED_TOP_KEYS",
           "SERVICE_KEYS", "TOP_KEYS", "VOLUME_KEYS", "refused", "unsupported"]
