"""How learners' names map to engine names, and the labels that prove ownership.

A learner types ``redis-1``; the engine sees ``dt-3fa9c2d1e0b4-redis-1``. Ownership is
decided by labels, never by name prefixes, so no name trick can reach another learner.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LABEL_MANAGED = "docker-tutor.managed"
LABEL_NAMESPACE = "docker-tutor.namespace"
LABEL_LEARNER = "docker-tutor.learner"
LABEL_NAME = "docker-tutor.name"
LABEL_UID = "docker-tutor.uid"
LABEL_ANONYMOUS = "docker-tutor.anonymous"
LABEL_WITNESS = "docker-tutor.witness"
"""On a witness container (the tutor's own, on a learner's network): the learner hash,
instead of the learner label, so no learner verb sees it; housekeeping removes it."""
LABEL_VOLUMES = "docker-tutor.volumes"
"""On a container: the learner's names and uids of the volumes it mounts (JSON), recorded
at creation, so that reading the container needs no list of volumes."""

_ADJECTIVES = (
    "brave", "calm", "eager", "fuzzy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
    "nifty", "plucky", "quirky", "sunny", "tidy", "witty", "zesty", "bold", "cosy", "deft",
)
_NOUNS = (
    "turing", "hopper", "lovelace", "ritchie", "thompson", "torvalds", "liskov", "knuth",
    "dijkstra", "hamilton", "shannon", "babbage", "noether", "curie", "wozniak", "kay",
)


@dataclass(frozen=True)
class Namespace:
    """One learner's corner of the engine.

    Attributes:
        prefix: The tutor deployment's prefix (``Settings.namespace``), e.g. ``dt``.
        learner: A short hash of the learner's key.
    """

    prefix: str
    learner: str

    @classmethod
    def for_key(cls, prefix: str, learner_key: str) -> Namespace:
        """The namespace of a learner key such as ``slack:U0123``."""
        digest = hashlib.sha256(learner_key.encode()).hexdigest()[:12]
        return cls(prefix, digest)

    def engine_name(self, name: str) -> str:
        """The engine's name for a learner's container or volume name."""
        return f"{self.prefix}-{self.learner}-{name}"

    def learner_name(self, engine_name: str) -> str | None:
        """The learner's name in one of this namespace's engine names, else ``None``."""
        head = f"{self.prefix}-{self.learner}-"
        name = engine_name.lstrip("/")
        return name[len(head):] if name.startswith(head) and len(name) > len(head) else None

    def labels(self, name: str, **extra: str) -> dict[str, str]:
        """Labels that mark an object as this learner's, under the learner's name."""
        return {
            LABEL_MANAGED: "1",
            LABEL_NAMESPACE: self.prefix,
            LABEL_LEARNER: self.learner,
            LABEL_NAME: name,
            **extra,
        }

    def filters(self) -> dict[str, list[str]]:
        """Docker API label filters that select exactly this learner's objects."""
        return {"label": [f"{LABEL_NAMESPACE}={self.prefix}", f"{LABEL_LEARNER}={self.learner}"]}


def random_container_name() -> str:
    """A friendly random name, like the ones docker invents (``jolly_hopper``)."""
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}"


def new_uid() -> str:
    """A unique id for a volume, so that a re-created volume is told apart from the old."""
    return secrets.token_hex(8)


def owned(labels: dict[str, str], ns: Namespace) -> bool:
    """Whether labels mark an object as belonging to exactly this namespace."""
    return (
        labels.get(LABEL_MANAGED) == "1"
        and labels.get(LABEL_NAMESPACE) == ns.prefix
        and labels.get(LABEL_LEARNER) == ns.learner
    )


def volume_records(labels: dict[str, str]) -> dict[str, dict[str, str]]:
    """The volumes recorded in a container's :data:`LABEL_VOLUMES`, by engine name.

    Each record is the part of the volume's labels that views need (its learner name,
    uid and anonymous mark). A missing or malformed label records nothing.
    """
    try:
        raw = json.loads(labels.get(LABEL_VOLUMES) or "{}")
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    records: dict[str, dict[str, str]] = {}
    for engine_name, record in raw.items():
        if isinstance(record, list) and len(record) == 3 and all(isinstance(v, str) for v in record):
            name, uid, anonymous = record
            records[str(engine_name)] = {LABEL_NAME: name, LABEL_UID: uid, LABEL_ANONYMOUS: anonymous}
    return records


def record_volumes(volumes: Mapping[str, Mapping[str, str]]) -> str:
    """The :data:`LABEL_VOLUMES` value for a container that mounts ``volumes``.

    Args:
        volumes: Each mounted volume's labels, by its engine name (what
            :func:`volume_records` reads back).
    """
    records = {}
    for engine_name, labels in volumes.items():
        records[engine_name] = [labels.get(LABEL_NAME, ""), labels.get(LABEL_UID, ""),
                                "1" if labels.get(LABEL_ANONYMOUS) == "1" else ""]
    return json.dumps(records, separators=(",", ":"), sort_keys=True)


def anonymous_name() -> str:
    """A name for a volume the learner did not name (64 hex digits, as docker makes)."""
    return new_uid() + new_uid() + new_uid() + new_uid()


def own_image_bytes(images: list[dict[str, Any]], prefix: str) -> dict[str, int]:
    """Bytes of image layers per learner, from the engine's image list (``/system/df``).

    Each image of a learner counts what it adds to its parent (its ``Size`` less its
    parent's), so every layer of a build, cache included, counts once, and a lesson
    image's layers count for no one.
    """
    sizes = {str(i.get("Id", "")): int(i.get("Size") or 0) for i in images}
    out: dict[str, int] = {}
    for image in images:
        labels = image.get("Labels") or {}
        if labels.get(LABEL_MANAGED) != "1" or labels.get(
                LABEL_NAMESPACE) != prefix:
            continue
        learner = labels.get(LABEL_LEARNER, "")
        parent = sizes.get(str(image.get("ParentId") or ""), 0)
        out[learner] = out.get(learner, 0) + max(0, int(image.get("Size") or 0) - parent)
    return out
