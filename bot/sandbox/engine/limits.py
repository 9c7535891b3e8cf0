"""The limits every learner container gets from the engine: the heart of the policy.

Memory (and no swap past it), processes, CPU, capabilities, no new privileges, an init,
private IPC and cgroup namespaces, first in line for the host's OOM killer, a small
``/dev/shm``, bounded logs, no restart by the engine (a lesson asks for one explicitly),
no network unless the learner names one of their own, and the kernel's disk cap where the
engine has one.
"""

from __future__ import annotations

from typing import Any

from bot.config import Limits

CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID"]
"""The only kernel capabilities a learner container keeps (all others are dropped)."""

OOM_SCORE_ADJ = 500
"""Learner containers are the first the host kernel kills if the host runs out of memory."""

SHM_BYTES = 64 * 1024 * 1024
"""Size of each container's ``/dev/shm`` (counted in its memory limit)."""

GVISOR_BASE_TASKS = 64
"""Host tasks an idle gVisor sandbox holds itself (about 50 measured), beside the learner's."""

GVISOR_TASKS_PER_PROCESS = 10
"""Host tasks gVisor adds per process the learner starts inside (about 9 measured)."""


def pids_limit(pids: int, runtime: str | None) -> int:
    """The engine's ``--pids-limit`` that lets a learner start ``pids`` processes.

    Under gVisor (``runsc``) the engine counts the sandbox's own host threads, not the
    learner's processes: the limit is scaled so that ``TUTOR_PIDS`` keeps its meaning.
    """
    if runtime == "runsc":
        return GVISOR_BASE_TASKS + GVISOR_TASKS_PER_PROCESS * pids
    return pids


def host_limits(limits: Limits, runtime: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    """The docker-py host settings of a learner container.

    Args:
        limits: The sandbox's limits.
        runtime: The OCI runtime (``runsc``), or ``None`` for the engine's default.
        extra: More settings (the kernel's storage cap where the engine has one).
    """
    return {
        **({"runtime": runtime} if runtime else {}),
        **extra,
        "network_mode": "none",
        "mem_limit": limits.memory_bytes,
        "memswap_limit": limits.memory_bytes,
        "pids_limit": pids_limit(limits.pids, runtime),
        "nano_cpus": limits.nano_cpus,
        "cap_drop": ["ALL"],
        "cap_add": CAPABILITIES,
        "security_opt": ["no-new-privileges"],
        "init": True,
        "privileged": False,
        "ipc_mode": "private",
        "cgroupns": "private",
        "oom_score_adj": OOM_SCORE_ADJ,
        "shm_size": SHM_BYTES,
        "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
        "restart_policy": {"Name": "no"},
    }


__all__ = ["CAPABILITIES", "OOM_SCORE_ADJ", "SHM_BYTES", "host_limits", "pids_limit"]
