"""The engine's own disk report (``GET /system/df``), per learner: for the operators' report.

One engine-wide operation, one at a time per engine, whose cost grows with every file of
every container and volume on the engine: the watcher no longer uses it (see
:mod:`bot.sandbox.disk.meter`); ``docker-tutor engines`` still shows its total, and the
watcher falls back to it only on an engine that refuses the meter container.
"""

from __future__ import annotations

import time
from typing import Any

import docker
import docker.errors

from bot.sandbox.disk.meter import Measure
from bot.sandbox.policy.naming import LABEL_LEARNER, LABEL_MANAGED, LABEL_NAMESPACE, own_image_bytes
from bot.sandbox.workspace.names import LABEL_HELPER, LABEL_WORKSPACE


def owner_of(prefix: str, labels: dict[str, str] | None, hidden: str) -> str:
    """The learner hash an engine object of deployment ``prefix`` belongs to, or ``""``.

    ``hidden`` is the label naming the learner on objects without the learner label (a
    workspace volume, a workspace helper container).
    """
    labels = labels or {}
    if labels.get(LABEL_MANAGED) != "1" or labels.get(LABEL_NAMESPACE) != prefix:
        return ""
    return labels.get(LABEL_LEARNER) or labels.get(hidden) or ""


def measure(api: docker.APIClient, prefix: str, *, patience: float = 5.0) -> Measure:
    """The deployment's disk use per learner, as the engine sizes it (one ``df`` request).

    The engine runs one disk-usage operation at a time and answers another caller's
    ``df`` meanwhile with an error: that is retried for up to ``patience`` seconds.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            data: dict[str, Any] = api.df()
            break
        except docker.errors.APIError as exc:
            if not engine_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    found = Measure()
    for container in data.get("Containers") or []:
        learner = owner_of(prefix, container.get("Labels"), LABEL_HELPER)
        if not learner:
            continue
        size = max(0, int(container.get("SizeRw") or 0))
        found.layers[str(container.get("Id", ""))] = (learner, size)
        found.by_learner[learner] += size
        if container.get("State") == "running":
            found.running[learner].append(container)
    for volume in data.get("Volumes") or []:
        learner = owner_of(prefix, volume.get("Labels"), LABEL_WORKSPACE)
        if not learner:
            continue
        size = max(0, int((volume.get("UsageData") or {}).get("Size") or 0))
        found.volumes[str(volume.get("Name", ""))] = (learner, size)
        found.by_learner[learner] += size
    for learner, size in own_image_bytes(data.get("Images") or [], prefix).items():
        found.by_learner[learner] += size  # built images and their build cache
    return found


def engine_busy(exc: docker.errors.APIError) -> bool:
    """Whether the engine refused only because it is busy (another disk-usage operation)."""
    return "already running" in str(exc.explanation or exc)
