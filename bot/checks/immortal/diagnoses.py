"""Why the Immortal Database challenge did not pass, from what the history and engine show.

One message per failure state of :func:`bot.checks.immortal.challenge.redis_key_survived`: the
writer still there, a reader started too early, a write by another container, the SIGKILL
trap and its cousins (``stop -t 0``, ``docker kill``, ``shutdown nosave``), the
append-only file on one side only, another Redis saving its own data over the snapshot,
another database (``-n``), a re-created volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.checks.framework import CheckContext, CheckResult
from bot.checks.immortal import routes
from bot.checks.immortal.endings import Ending, ending, overwrite, saved_since
from bot.checks.immortal.survival import Look, Read, Trail, Write

if TYPE_CHECKING:
    from bot.sandbox import ContainerView

TRAP = (
    "That's the trap: `docker rm -f` sends SIGKILL, and Redis keeps data in memory until it "
    "saves a snapshot (on its schedule, or on a graceful shutdown). {writer} died before "
    "writing {key} to the volume, so there was nothing for {reader} to find. The volume did "
    "its job; the data never reached it. Try again and make Redis write first: "
    "`docker stop {writer}` before `docker rm {writer}`, or `docker exec {writer} redis-cli "
    "save`, or start both containers with `redis-server --appendonly yes`."
)

AGAIN = (
    "Start over: `docker rm -f {reader}`, run a new `{writer}` on the volume, set the key, "
    "and this time {advice} before removing it."
)


def _cli(name: str, db: int, rest: str) -> str:
    flag = f" -n {db}" if db else ""
    return f"`docker exec {name} redis-cli{flag} {rest}`"


def diagnose(ctx: CheckContext, trail: Trail, n: dict[str, str]) -> CheckResult:
    """The failed check, saying why the key did not survive (one of the challenge's states).

    Args:
        ctx: The learner's check context.
        trail: What the history shows of the writer, the volume and the key.
        n: The check's parameters: ``writer``, ``reader``, ``volume``, ``target``, ``key``.
    """
    writer, reader, volume, target, key = (n["writer"], n["reader"], n["volume"],
                                           n["target"], n["key"])
    if not trail.writes:
        return (routes.other_names(ctx, trail, n) or routes.misplaced(ctx, trail, n)
                or _no_write(trail, n))
    current = ctx.sandbox.container(ctx.person, writer)
    if current is not None:
        return _writer_alive(trail, current, n)
    # The names first: right after `docker rm`, no reader yet is the usual answer, and the
    # same list serves the advice's names (routes.existing).
    view = ctx.sandbox.container(ctx.person, reader) \
        if reader in ctx.sandbox.container_names(ctx.person) else None
    if view is None:
        return routes.other_names(ctx, trail, n) or _no_reader(ctx, trail, n)
    mount = view.mount_at(target)
    reads = [r for r in trail.reads if r.box == view.id]
    if mount is None or mount.kind != "volume" or mount.name != volume:
        shown = "nothing" if mount is None else (f"`{mount.name}`" if mount.name else mount.kind)
        return CheckResult(
            False,
            f"`{reader}` has {shown} mounted at `{target}`, not the volume `{volume}`. Remove "
            f"it and run it again with `-v {volume}:{target}`.",
            volunteer=bool(reads), state="reader-wrong-mount")
    if mount.uid not in {w.uid for w in trail.writes}:
        return CheckResult(
            False,
            f"`{reader}` mounts a volume called `{volume}`, but it is not the one `{writer}` "
            f"wrote to: that volume was removed and a new, empty one with the same name was "
            "created. A volume's data goes when the volume goes. Start over: write the key "
            "again and keep the volume this time.",
            volunteer=True, state="volume-recreated")
    box = trail.boxes.get(view.id)
    if box is not None and writer in box.names:
        return CheckResult(
            False,
            f"`{reader}` is the very container that wrote `{key}` (it was called `{writer}` "
            f"then), so reading the key there proves nothing about persistence. Remove it and "
            f"start a new `{reader}` on the volume.",
            volunteer=True, state="reader-wrote")
    creation = trail.creation(view.id)
    if creation is None:
        return CheckResult(
            False,
            f"I didn't see `{reader}` being created, so I can't tell what it loaded from "
            f"`{volume}`. Remove it (`docker rm -f {reader}`) and run it again: I read the key "
            "myself the moment a new container starts.",
            state="reader-unseen")
    if trail.writer_existed(creation):
        return CheckResult(
            False,
            f"`{reader}` was started while `{writer}` still existed, so it proves nothing about "
            f"a deleted container. Remove `{reader}` (`docker rm -f {reader}`) and start a new "
            f"one now that `{writer}` is gone: the challenge is a new container, created after "
            "the old one was deleted, finding the key.",
            volunteer=True, state="reader-early")
    if trail.writer_made_after(creation, len(ctx.history)):
        return CheckResult(
            False,
            f"A new `{writer}` was made after `{reader}` started, so `{reader}` was not created "
            f"after every `{writer}` was gone. Remove `{reader}` (`docker rm -f {reader}`) and "
            f"start a new one now that `{writer}` is gone.",
            volunteer=True, state="reader-early")
    if creation.server != "redis":
        return CheckResult(
            False,
            f"`{reader}` does not run a plain Redis server, so I can't vouch for what it "
            f"holds. Run it as `docker run -d --name {reader} -v {volume}:{target} redis` "
            "(options such as `--appendonly yes` are fine).",
            volunteer=True, state="reader-not-plain")
    if mount.uid not in trail.created:
        return CheckResult(
            False,
            f"`{volume}` was made before you started this lesson (or before I could watch), so "
            "I can't know what was written into it then. Start over on a new volume: remove "
            f"the containers that use it, `docker volume rm {volume}`, then do the challenge "
            "again from its first command.",
            volunteer=True, state="volume-old")
    last = [w for w in trail.writes if w.uid == mount.uid][-1]
    look = trail.last_look(view.id)
    tainted = _tainted(ctx, trail, (mount.uid, look, view.id), n)
    if tainted is not None:
        return tainted
    if not view.running:
        box = trail.boxes.get(view.id)
        if box is not None and look.reachable and not _survived(trail, look, creation) \
                and saved_since(trail, box, look.index):
            aof = (" (it ran with `--appendonly yes`, so it ignored `dump.rdb`)" if look.aof
                   else "")
            return CheckResult(
                False,
                f"`{key}` is gone from `{volume}`: `{reader}` never loaded it{aof}, and when it "
                f"stopped it saved its own data, without `{key}`, over `dump.rdb` (Redis writes "
                "everything it holds when it stops). "
                + AGAIN.format(advice=f"`docker stop {writer}`", **n),
                volunteer=True, state="overwritten")
        return CheckResult(
            False,
            f"`{reader}` is not running; start it with `docker start {reader}` (I'll look at "
            "what it loads as it starts).",
            volunteer=bool(reads), state="reader-stopped")
    if not look.reachable:
        return CheckResult(
            False,
            f"Redis in `{reader}` didn't answer when it started, so I couldn't see what it "
            f"loaded. Restart it with `docker restart {reader}` and I'll look again.",
            volunteer=bool(reads), state="reader-starting")
    return _by_value(_Scene(trail, n, look, last, creation,
                            [r for r in reads if r.index > look.index]))


def _no_write(trail: Trail, n: dict[str, str]) -> CheckResult:
    writer, volume, target, key = n["writer"], n["volume"], n["target"], n["key"]
    message = (
        f"I haven't seen `{writer}` write `{key}` while `{volume}` was mounted at "
        f"`{target}`. Start with `docker run -d --name {writer} -v {volume}:{target} redis`, "
        f"then `docker exec {writer} redis-cli set {key} \"Hello Persistence\"`."
    )
    if trail.opaque:
        message += (
            f" (I saw `{trail.opaque[-1].text}`, but I can only follow a plain "
            f"`redis-cli set {key} VALUE`: write the key that way, so I know its value.)"
        )
    return CheckResult(False, message, state="no-write")


def _writer_alive(trail: Trail, current: ContainerView, n: dict[str, str]) -> CheckResult:
    writer, key = n["writer"], n["key"]
    if current.id not in {w.box for w in trail.writes}:
        return CheckResult(
            False,
            f"`{writer}` is a new container: write `{key}` in it "
            f"(`docker exec {writer} redis-cli set {key} \"Hello Persistence\"`).",
            state="no-write")
    if current.running:
        message = (f"`{writer}` wrote `{key}` and still exists. Now remove that container (the "
                   "volume stays), and think first: has Redis saved the key to the volume yet?")
    else:
        message = (f"`{writer}` is stopped but still exists (`docker ps -a` lists it). Remove "
                   f"it with `docker rm {writer}`; the volume stays.")
        box = trail.boxes.get(current.id)
        if box is not None and box.rm:
            message += (" (Docker removes a container started with `--rm` as it stops; "
                        "this one is still listed, so remove it yourself.)")
    return CheckResult(False, message, state="writer-alive")


def _no_reader(ctx: CheckContext, trail: Trail, n: dict[str, str]) -> CheckResult:
    writer, reader, volume, target = n["writer"], n["reader"], n["volume"], n["target"]
    message = (f"`{writer}` is gone. Now start `{reader}` on the same volume: "
               f"`docker run -d --name {reader} -v {volume}:{target} redis`.")
    uids = {w.uid for w in trail.writes}
    others = routes.existing(ctx, sorted({
        look.name for look in trail.looks
        if look.name not in (writer, reader) and look.how == "run" and look.uid in uids
        and not trail.writer_existed(look)}))
    if others:
        shown = ", ".join(f"`{o}`" for o in others)
        message += (f" (I look for a container named `{reader}`, as the steps say; you "
                    f"started {shown}.)")
    return CheckResult(False, message, volunteer=bool(others), state="no-reader")


def _tainted(ctx: CheckContext, trail: Trail, where: tuple[str, Look, str],
             n: dict[str, str]) -> CheckResult | None:
    """The first possible write by another container before the reader's look.

    Or by the reader itself after its look: what it holds then may be its own write.
    ``where`` is the volume's uid, the reader's last look and the reader's id. The advice
    names only containers that exist now.
    """
    uid, look, reader_id = where
    writer, reader, volume, key = n["writer"], n["reader"], n["volume"], n["key"]
    start = trail.created.get(uid, 0)
    for taint in trail.taints(uid):
        before = start <= taint.index < look.index
        after = taint.box == reader_id and taint.index > look.index
        if not (before or after):
            continue
        if taint.why == "write":
            cause = f"`{taint.name}` wrote `{key}` itself (`{taint.text}`)."
        elif taint.why == "unknown":
            cause = (f"`{taint.text}` ran in `{taint.name}`, and I can't tell what it wrote: "
                     "there I only follow `redis-cli` reads such as `get`.")
        elif taint.why == "command":
            cause = (f"`{taint.name}` mounts `{volume}`, and its own command (`{taint.text}`) "
                     "can write files there.")
        else:
            cause = f"The engine never told me what `{taint.text}` did."
        if after:
            return CheckResult(
                False,
                f"{cause} Reading back a key written in `{reader}` itself proves nothing about "
                f"persistence, and from now on a value in `{volume}` could be `{reader}`'s "
                f"rather than `{writer}`'s. Start over on a fresh volume: "
                f"`docker rm -f {reader}`, `docker volume rm {volume}`, then do the challenge "
                "again from its first command.",
                volunteer=True, state="reader-wrote")
        others = " ".join(routes.existing(ctx, [reader, taint.name]))
        remove = f"`docker rm -f {others}`, " if others else ""
        return CheckResult(
            False,
            f"{cause} So a value found in `{volume}` after that could be `{taint.name}`'s "
            f"rather than `{writer}`'s, and this volume proves nothing any more. Start over on "
            f"a fresh volume: {remove}`docker volume rm {volume}`, then do "
            "the challenge again from its first command.",
            volunteer=True,
            state="reader-wrote" if taint.name == reader else "volume-tainted")
    return None


@dataclass(frozen=True)
class _Scene:
    """Where the diagnosis stands once the reader is known to be a fair witness.

    Attributes:
        trail: The key's history.
        n: The check's names (``writer``, ``reader``, ``volume``, ``target``, ``key``).
        look: The tutor's last look at the reader.
        last: The writer's last write of the key on the reader's volume.
        creation: The tutor's look at the reader as it was created.
        reads: The learner's reads of the key in the reader since the look.
    """

    trail: Trail
    n: dict[str, str]
    look: Look
    last: Write
    creation: Look
    reads: list[Read]


def _survived(trail: Trail, look: Look, creation: Look) -> list[Write]:
    """The writer's writes (before the reader was created) whose value the look found."""
    return [w for w in trail.writes if w.uid == look.uid and w.index < creation.index
            and look.values.get(str(w.db)) == w.value]


def _by_value(scene: _Scene) -> CheckResult:
    """The reader's look found the value, another value, or nothing."""
    trail, n, look, last, creation, reads = (scene.trail, scene.n, scene.look, scene.last,
                                             scene.creation, scene.reads)
    writer, reader, key = n["writer"], n["reader"], n["key"]
    survived = _survived(trail, look, creation)
    if survived:
        found = survived[-1]
        if reads and all(r.db != found.db for r in reads):
            shown = ", ".join(sorted({str(r.db) for r in reads}))
            return CheckResult(
                False,
                f"`{writer}` wrote `{key}` into database {found.db}, but you read database "
                f"{shown}. Each Redis database has its own keys: "
                f"{_cli(reader, found.db, 'get ' + key)}.",
                volunteer=True, state="wrong-db")
        return CheckResult(
            False,
            f"`{reader}` started with `{key}` loaded from the volume. Read it yourself: "
            f"{_cli(reader, found.db, 'get ' + key)}.",
            state="no-read")
    value = look.values.get(str(last.db))
    if value is not None:
        return CheckResult(
            False,
            f"`{reader}` started with `{key}` = {value!r}, which is not what `{writer}` wrote "
            f"({last.value!r}).",
            volunteer=bool(reads), state="wrong-value")
    return _lost(scene)


def _lost(scene: _Scene) -> CheckResult:
    """The key was not in what the reader loaded: why, from how the writer ended."""
    trail, n, look, last, creation = (scene.trail, scene.n, scene.look, scene.last,
                                      scene.creation)
    read_tried = bool(scene.reads)
    writer, reader, volume, key = n["writer"], n["reader"], n["volume"], n["key"]
    end: Ending = ending(trail, last)
    missing = f"`{key}` is not in `{reader}`"
    if end.aof and not look.aof:
        message = (
            f"{missing}. `{writer}` logged it in its append-only file, but `{reader}` was "
            f"started without `--appendonly yes`, so it ignored that file. Run `{reader}` again "
            "with `redis-server --appendonly yes`."
        )
        return CheckResult(False, message, volunteer=read_tried, state="aof-mismatch")
    lost_how = {
        "killed-rm": ("trap", f"`{key}` did not survive. " + TRAP.format(**n)),
        "stop-now": ("stop-now", (
            f"`{key}` did not survive. `docker stop -t 0` gives Redis no time: Docker sends "
            "SIGTERM and, zero seconds later, SIGKILL, so Redis died before it could save, "
            "just as with `docker rm -f`. The volume did its job; the data never reached it. "
            + AGAIN.format(advice=f"`docker stop {writer}` (it waits 10 seconds)", **n))),
        "killed": ("killed", (
            f"`{key}` did not survive. `docker kill` sends SIGKILL: Redis dies on the spot, "
            "without saving. The volume did its job; the data never reached it. "
            + AGAIN.format(advice=f"`docker stop {writer}`", **n))),
        "nosave": ("nosave", (
            f"`{key}` did not survive. `redis-cli shutdown nosave` tells Redis to quit "
            "*without* saving, so the key never reached the volume. "
            + AGAIN.format(advice=f"`redis-cli shutdown` (it saves) or `docker stop {writer}`",
                           **n))),
    }
    if end.how in lost_how and not end.aof and not end.saved:
        state, message = lost_how[end.how]
        return CheckResult(False, message, volunteer=read_tried, state=state)
    other = overwrite(trail, look.uid, last, end.index if end.index >= 0 else last.index,
                      creation.index)
    if other is not None:
        who = f"an earlier `{reader}`" if other.name == reader else f"`{other.name}`"
        if other.server().aof:
            who += " (started with `--appendonly yes`, so it ignored `dump.rdb`)"
        message = (
            f"{missing}. `{writer}` saved it, but then {who}, another Redis on `{volume}` "
            f"that did not hold `{key}`, saved its own data over `dump.rdb`: Redis writes "
            "everything it holds when it stops or saves. "
            + AGAIN.format(advice=f"`docker stop {writer}`", **n)
            + ("" if other.name == reader else
               f" Remove `{other.name}` with `docker rm -f` (no stop) if it is still there.")
        )
        return CheckResult(False, message, volunteer=read_tried, state="overwritten")
    if look.aof and not end.aof:
        saved = " saved the key" if end.how == "graceful" or end.saved else " keeps snapshots"
        message = (
            f"{missing}: you started it with `--appendonly yes`. With the append-only file on, "
            f"Redis loads only that file and ignores `dump.rdb`, which is where `{writer}`"
            f"{saved}. Remove `{reader}` at once with `docker rm -f {reader}` (a `docker stop` "
            "would make it save its own, empty data over `dump.rdb`), then start it again "
            "without `--appendonly yes`. To use the append-only file, turn it on in both "
            "containers from the start."
        )
        return CheckResult(False, message, volunteer=read_tried, state="aof-reader-only")
    if end.saves_off and not end.saved:
        message = (
            f"{missing}. `{writer}` ran with snapshots turned off (`--save \"\"`), so even a "
            "clean stop wrote nothing to the volume. "
            + AGAIN.format(advice=f"leave `--save` alone, or run `docker exec {writer} "
                                  "redis-cli save`", **n))
        return CheckResult(False, message, volunteer=read_tried, state="save-off")
    reason = {
        "graceful": f"`{writer}` stopped cleanly, which normally saves",
        "none": f"I didn't see how `{writer}` ended",
    }.get(end.how, f"`{writer}` ended")
    if end.bgsave:
        reason += "; `bgsave` saves in the background, and removing the container right after "\
                  "can cut it short"
    message = (
        f"{missing}: it was not in what `{reader}` loaded from `{volume}` ({reason}). Make "
        f"sure Redis has saved before you remove `{writer}`: `docker stop {writer}` first, or "
        f"`docker exec {writer} redis-cli save`."
    )
    return CheckResult(False, message, volunteer=read_tried, state="not-saved")
