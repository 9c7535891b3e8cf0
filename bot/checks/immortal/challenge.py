"""The Immortal Database challenge: did a Redis key survive the deletion of its container?

The proof is built so that no learner write can fake it (see :mod:`bot.checks.immortal.survival`):
the tutor reads the key itself, with its own witness container, from the volume of each
new Redis container the moment it starts (:func:`observe_reader`, run inside the
learner's turn; :mod:`bot.sandbox.redis.witness`), and counts a learner's
``get`` in ``reader`` only when that look found the writer's value, the volume was made
during the lesson, and nothing but the writer may have written the key into it.

When the proof does not hold, the message says why
(:func:`bot.checks.immortal.diagnoses.diagnose`), from what the history and the engine
show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.immortal import redis_ops as ops
from bot.checks.immortal.diagnoses import diagnose
from bot.checks.immortal.survival import CHECK, Proof, Trail
from bot.checks.library import absolute, check
from bot.checks.observe import observer
from bot.identity import Person

if TYPE_CHECKING:
    from bot.checks.reader import EngineReader

STATES = (
    "no-write", "writer-alive", "no-reader", "reader-wrong-mount", "volume-recreated",
    "reader-unseen", "reader-early", "reader-not-plain", "volume-old", "volume-tainted",
    "reader-wrote", "reader-stopped", "reader-starting", "no-read", "wrong-db",
    "wrong-value", "aof-mismatch", "aof-reader-only", "trap", "stop-now", "killed",
    "nosave", "save-off", "overwritten", "not-saved", "other-names", "no-volume",
    "wrong-path", "wrong-volume",
)
"""Every failure state of ``redis_key_survived``."""


@observer(CHECK)
def observe_reader(sandbox: EngineReader, person: Person, params: dict[str, Any],
                   started: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Read ``key`` in every Redis container a command started with a volume at ``target``.

    Any name counts (the check decides which container matters). A container whose own
    command is not a plain ``redis-server`` is recorded without a reading; one on a volume
    its own ``run`` created empty is recorded as holding nothing, without a witness.
    """
    key, target = str(params["key"]), str(params["target"])
    records: list[dict[str, Any]] = []
    existing: list[dict[str, str]] | None = None
    for container in started:
        mount = next((m for m in container.get("mounts") or [] if m.get("target") == target),
                     None)
        if mount is None or mount.get("kind") != "volume" or mount.get("anonymous"):
            continue  # any named volume: a proof with other names is acknowledged too
        server = ops.classify_server(container.get("command") or [])
        if server.kind == "read":
            continue  # no Redis to read (`redis sleep 3600`)
        if existing is None:
            existing = [{"id": c.id, "name": c.name} for c in sandbox.containers(person)]
        record: dict[str, Any] = {
            "check": CHECK, "key": key, "target": target, "id": container.get("id", ""),
            "name": container.get("name", ""), "how": container.get("how", ""),
            "uid": mount.get("uid", ""), "server": server.kind, "existing": existing,
            "reachable": False,
        }
        if server.kind == "redis" and mount.get("uid") in (container.get("fresh") or []):
            # A volume this `run` created, empty as it started (the image holds nothing
            # there: the sandbox asked the engine): its Redis loaded nothing. No witness.
            aof = server.options.get("appendonly", "no").lower() == "yes"
            record.update(reachable=True, values={}, others={}, aof=aof, fresh=True)
        elif server.kind == "redis":  # read by the tutor's witness, never in the container
            record.update(sandbox.redis_witness(person, str(container.get("name", "")), key,
                                                target, server.options))
        records.append(record)
    return records


@check("redis_key_survived", ParamSpec("writer"), ParamSpec("reader"), ParamSpec("volume"),
       ParamSpec("target"), ParamSpec("key"), states=STATES, validate=absolute("target"))
def redis_key_survived(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A key written by ``writer`` on ``volume`` survives into a new ``reader`` container.

    Passes at the learner's read of the key in ``reader`` (``get``, in the database it
    was written to) when: ``writer`` set the key, with the volume mounted at ``target``;
    ``reader`` was created after every ``writer`` container was gone and runs a plain
    ``redis-server`` on the *same* volume (by unique id); the tutor's own look as it
    started found the written value; the volume was created during the lesson; and no
    container but ``writer`` may have written the key into it (any command not known to
    be read-only counts as a possible write). Names are fixed: the lesson text says them.
    """
    names = {k: str(p[k]) for k in ("writer", "reader", "volume", "target", "key")}
    trail = Trail(ctx, names["writer"], names["volume"], names["target"], names["key"])
    proof = trail.proof(names["reader"])
    if proof is not None:
        return _passed(proof, names)
    return diagnose(ctx, trail, names)


def _passed(proof: Proof, n: dict[str, str]) -> CheckResult:
    where = f" (database {proof.read.db})" if proof.read.db else ""
    return CheckResult(
        True,
        f"`{n['key']}` = \"{proof.value}\" survived! `{n['writer']}` is gone, and "
        f"`{n['reader']}` loaded the key from the same volume `{n['volume']}`{where}: I read "
        f"that volume myself as `{n['reader']}` started, and nothing but `{n['writer']}` ever "
        "wrote it. Compute was disposable; the state was not.",
        evidence={"key": n["key"], "value": proof.value, "db": proof.read.db,
                  "writer_id": proof.write.box, "reader_id": proof.read.box,
                  "volume_uid": proof.look.uid},
    )
