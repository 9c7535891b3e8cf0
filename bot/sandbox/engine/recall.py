"""What the sandbox remembers between engine requests, and why each memory is safe.

* :class:`ImageFacts`: what ``run`` needs of an image (its id and declared volumes),
  kept for a short while per image reference. Learners cannot change images (no
  ``pull``, ``build``, ``rmi``, ``tag``: see the policy), so no learner's command can
  make it wrong; an operator who rebuilds an image is seen within :data:`IMAGE_SECONDS`,
  and an image removed meanwhile makes ``create`` fail with the engine's own
  "No such image", which forgets the entry (:meth:`ImageFacts.forget`). Shared by every
  learner of the engine: it holds nothing of any learner.
* :class:`SafeTargets`: mount targets already found free of symbolic links in an
  image's own files (``HEAD /containers/{id}/archive``), for a container new from the
  image (``run``; never one that has run). An image's files never change (its id is its
  content; ``run -d`` creates from that very id), so ``(image id, target)`` found safe
  stays safe, for a target with no other mount above it (below another mount, the path runs through that
  mount's files, which learners write: always checked). Bounded; holds no learner data.
* :class:`EmptyTargets`: whether an image's own files hold anything at a path (a new
  volume mounted there starts empty: the engine copies nothing into it). Same reasoning:
  an image id's files never change.

:class:`LineLooks`: the tutor's own reads of a learner's containers, once per line.
After a learner's command, the tutor reads their containers several times over: the
checks' observer lists them, the witness finds the Redis it reads, and each check's
diagnosis looks a name up. What those reads see cannot change between them except by
the learner's own command or by time, so within one line (:func:`bot.sandbox.engine.request_counts.
learner_line`, under the learner's lock) the first read is kept and the others reuse it:

* kept per learner *and* per line: a new line (or a read outside any line, as in tests
  and housekeeping) never sees an earlier line's reads, and one learner never another's;
* forgotten whenever the learner's command runs (:meth:`Sandbox.run_command` calls
  :meth:`LineLooks.forget` before it and :meth:`LineLooks.settle` after it) or their
  objects are reset: only what was read after the last change of this line is reused,
  and what the command itself says it left (``run``: the names of the learner's
  containers, listed for its quota, and the new one, read once started; ``rm``: the
  names it removed; :meth:`LineLooks.after_command`);
* only the tutor's reads use it (:meth:`container`, :meth:`containers`, the running
  check of :meth:`exec_capture`); a learner's command always reads the engine afresh;
* bounded: one entry per learner, at most :data:`MAX_LEARNERS`.

A container that exits on its own between two reads of one line is seen as it was at
the first (milliseconds earlier), as it would be by checks that read all at once.

:class:`Identities`: what never changes about a learner's container (its id, labels,
configuration and mounts), by engine name, kept from one of the learner's lines to the
next, so that ``stop NAME`` and ``rm NAME`` act by id without reading the container first
(as the CLI does). Why what it hands out is true:

* an id names one container for ever, and its labels, configuration and mounts never
  change (no ``docker update`` for learners); its state is never kept;
* the name-to-id pairing changes only by a learner's ``run``, ``rm``, ``rename``,
  ``compose``, ``container prune`` or reset: every line whose verb is not in
  :data:`KEEPS_NAMES` forgets the learner's pairs after it runs, and a reset forgets them;
* those lines may run on another replica: the store counts each learner's lines
  (``learners.line_seq``, one more per line, under the learner's lock on every replica),
  and the pairs are used only in the line right after the one that kept them, as that
  count proves. A line with no count (tests of the sandbox alone, housekeeping) uses none;
* what removes containers behind a learner's back (housekeeping, the disk watcher,
  ``--rm``) leaves an id that the engine answers 404 for: the caller then forgets the pair
  and looks the name up afresh.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from docker.models.containers import Container

from bot.sandbox.engine.request_counts import current_line, line_seq

IMAGE_SECONDS = 30.0
"""How long an image's facts are reused before the engine is asked again."""

MAX_ENTRIES = 4096
"""Bound on each memory (least recently used goes first)."""


@dataclass(frozen=True)
class ImageFact:
    """What ``run`` reads of an image: its id and the volumes its config declares."""

    id: str
    volumes: tuple[str, ...]



class ImageFacts:
    """Image facts by reference, each for :data:`IMAGE_SECONDS` (see the module docstring).

    Args:
        clock: Monotonic clock (tests pass a fake).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._facts: OrderedDict[str, tuple[float, ImageFact]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ref: str, read: Callable[[], ImageFact | None]) -> ImageFact | None:
        """The facts of ``ref``: remembered, or ``read()`` now (``None``: no such image)."""
        now = self._clock()
        with self._lock:
            kept = self._facts.get(ref)
            if kept is not None and kept[0] > now:
                self._facts.move_to_end(ref)
                return kept[1]
        fact = read()
        if fact is not None:
            with self._lock:
                self._facts[ref] = (now + IMAGE_SECONDS, fact)
                self._facts.move_to_end(ref)
                while len(self._facts) > MAX_ENTRIES:
                    self._facts.popitem(last=False)
        return fact

    def forget(self, ref: str) -> None:
        """Ask the engine next time (the image was not where it was remembered)."""
        with self._lock:
            self._facts.pop(ref, None)


class SafeTargets:
    """``(image id, target)`` pairs whose path has no symbolic link in the image's files."""

    def __init__(self) -> None:
        self._safe: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def top_level(targets: Iterable[str]) -> set[str]:
        """The targets with no other target above them (only those may be remembered)."""
        listed = [t.rstrip("/") or "/" for t in targets]
        return {t for t in listed
                if not any(o != t and (o == "/" or t.startswith(o + "/")) for o in listed)}

    def unknown(self, image_id: str, targets: Iterable[str]) -> list[str]:
        """Those of ``targets`` not known safe for ``image_id`` (to be checked), in order."""
        with self._lock:
            return [t for t in targets if (image_id, t) not in self._safe]

    def remember(self, image_id: str, targets: Iterable[str]) -> None:
        """Note ``targets`` (top-level ones, checked and found safe) for ``image_id``."""
        with self._lock:
            for target in targets:
                self._safe[(image_id, target)] = None
                self._safe.move_to_end((image_id, target))
            while len(self._safe) > MAX_ENTRIES:
                self._safe.popitem(last=False)


class EmptyTargets:
    """Whether an image's own files hold anything at a path, by ``(image id, path)``.

    An image's files never change (its id is its content), so the answer holds for
    every container new from that id. Bounded; holds no learner data.
    """

    def __init__(self) -> None:
        self._known: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._lock = threading.Lock()

    def empty(self, image_id: str, path: str, read: Callable[[], bool]) -> bool:
        """Whether ``path`` is empty in ``image_id``; ``read`` asks the engine the first time."""
        key = (image_id, path)
        with self._lock:
            if key in self._known:
                self._known.move_to_end(key)
                return self._known[key]
        found = read()
        with self._lock:
            self._known[key] = found
            while len(self._known) > MAX_ENTRIES:
                self._known.popitem(last=False)
        return found


# -- the tutor's reads of one learner line ----------------------------------------

MAX_LEARNERS = 1024
"""Bound on the learners whose current line's reads are kept."""


@dataclass
class _Look:
    line: object | None
    named: dict[str, Container | None] = field(default_factory=dict)
    names: list[str] | None = None
    """The engine names of all the learner's containers, when this line knows them."""


class LineLooks:
    """The current line's reads of each learner's containers (see the module docstring)."""

    def __init__(self) -> None:
        self._looks: OrderedDict[str, _Look] = OrderedDict()
        self._pending: dict[str, _Look] = {}
        self._lock = threading.Lock()

    def _look(self, learner: str) -> _Look | None:
        line = current_line()
        if line is None:
            return None
        look = self._looks.get(learner)
        if look is None or look.line is not line:
            look = self._looks[learner] = _Look(line)
        self._looks.move_to_end(learner)
        while len(self._looks) > MAX_LEARNERS:
            self._looks.popitem(last=False)
        return look

    def named(self, learner: str, engine_name: str) -> tuple[bool, Container | None]:
        """``(known, container)`` for the engine name: ``known`` is ``False`` when not read yet.

        A name absent from this line's whole listing of the learner's names is known absent.
        """
        with self._lock:
            look = self._look(learner)
            if look is None:
                return False, None
            if engine_name in look.named:
                return True, look.named[engine_name]
            if look.names is not None and engine_name not in look.names:
                return True, None
            return False, None

    def names(self, learner: str) -> list[str] | None:
        """The engine names of all the learner's containers, if this line knows them."""
        with self._lock:
            look = self._look(learner)
            return None if look is None or look.names is None else list(look.names)

    def keep_named(self, learner: str, engine_name: str, container: Container | None) -> None:
        """Keep what the engine name was found to be in this line."""
        with self._lock:
            look = self._look(learner)
            if look is not None:
                look.named[engine_name] = container

    def keep_listing(self, learner: str, containers: list[Container]) -> None:
        """Keep this line's whole listing of the learner's containers (each inspected)."""
        with self._lock:
            look = self._look(learner)
            if look is not None:
                look.names = [str(c.name) for c in containers]
                look.named.update({str(c.name): c for c in containers})

    def keep_names(self, learner: str, names: list[str]) -> None:
        """Keep this line's list of the engine names of all the learner's containers."""
        with self._lock:
            look = self._look(learner)
            if look is not None:
                look.names = list(names)

    def after_command(self, learner: str, names: list[str] | None = None,
                      gone: tuple[str, ...] = ()) -> None:
        """What the running command knows the learner's containers will be once it is done.

        ``run`` lists the learner's containers (for its quota) and adds one (``names``);
        ``rm`` removed the engine names ``gone``. Kept for :meth:`settle`, which
        installs it after the command, so the tutor's reads of the line need not ask again.
        """
        with self._lock:
            pending = self._pending_of(learner)
            if names is not None:
                pending.names = list(names)
            pending.named.update(dict.fromkeys(gone))

    def keep_after(self, learner: str, engine_name: str, container: Container) -> None:
        """Like :meth:`after_command`: the command read ``container`` after its last change."""
        with self._lock:
            self._pending_of(learner).named[engine_name] = container

    def _pending_of(self, learner: str) -> _Look:
        line = current_line()
        pending = self._pending.get(learner)
        if pending is None or pending.line is not line:
            pending = self._pending[learner] = _Look(line)
        return pending

    def forget(self, learner: str) -> None:
        """Forget the learner's reads (their command is about to run)."""
        with self._lock:
            self._looks.pop(learner, None)
            self._pending.pop(learner, None)

    def settle(self, learner: str) -> None:
        """The learner's command has run: forget its reads; keep what it said it left."""
        with self._lock:
            self._looks.pop(learner, None)
            pending = self._pending.pop(learner, None)
            if pending is not None and pending.line is not None \
                    and pending.line is current_line():
                self._looks[learner] = pending


KEEPS_NAMES = frozenset({
    "exec", "stop", "start", "restart", "kill", "logs", "inspect", "ps", "top", "diff",
    "images", "volume create", "volume ls", "volume inspect", "volume rm", "volume prune",
    "network ls", "network inspect", "network create", "network rm", "network prune",
    "network connect", "network disconnect",
})
"""Verbs that never create, remove or rename a container: after any other verb the
learner's name-to-id pairs are forgotten (``--rm`` containers that a ``stop`` or ``kill``
ends leave an id the engine answers 404 for)."""

IMMUTABLE = ("Id", "Created", "Path", "Args", "Image", "Config", "HostConfig", "Mounts")
"""The parts of an inspected container that never change for its id."""

LITE = "docker-tutor.lite"
"""Marks the attributes of a container rebuilt from :class:`Identities` (no state)."""

NAMES_PER_LEARNER = 64
"""The most engine names kept per learner."""


@dataclass
class _Pairs:
    seq: int
    attrs: dict[str, dict[str, Any]] = field(default_factory=dict)


class Identities:
    """Learners' containers' unchanging facts by engine name, between their lines.

    See the module docstring for why they hold.
    """

    def __init__(self) -> None:
        self._pairs: OrderedDict[str, _Pairs] = OrderedDict()
        self._lock = threading.Lock()

    def begin(self, learner: str) -> None:
        """A command of the learner begins: keep the pairs only if the last line was theirs here."""
        seq = line_seq()
        with self._lock:
            pairs = self._pairs.get(learner)
            if seq is None:
                self._pairs.pop(learner, None)
                return
            if pairs is None or seq not in (pairs.seq, pairs.seq + 1):
                pairs = self._pairs[learner] = _Pairs(seq)
            pairs.seq = seq
            self._pairs.move_to_end(learner)
            while len(self._pairs) > MAX_LEARNERS:
                self._pairs.popitem(last=False)

    def remember(self, learner: str, engine_name: str, attrs: dict[str, Any]) -> None:
        """Keep the unchanging parts of a container the learner owns, read in this line."""
        seq = line_seq()
        kept = {part: attrs[part] for part in IMMUTABLE if part in attrs}
        kept["Name"] = "/" + engine_name
        kept["State"] = {"Status": "unknown"}  # never kept: ask the engine
        kept[LITE] = True
        with self._lock:
            pairs = self._pairs.get(learner)
            if pairs is None or seq is None or pairs.seq != seq:
                return
            pairs.attrs.pop(engine_name, None)
            pairs.attrs[engine_name] = kept
            while len(pairs.attrs) > NAMES_PER_LEARNER:
                pairs.attrs.pop(next(iter(pairs.attrs)))

    def recall(self, learner: str, engine_name: str) -> dict[str, Any] | None:
        """The kept facts of the learner's container ``engine_name`` (a copy), if this line may use them."""
        seq = line_seq()
        with self._lock:
            pairs = self._pairs.get(learner)
            if pairs is None or seq is None or pairs.seq != seq:
                return None
            kept = pairs.attrs.get(engine_name)
            return None if kept is None else dict(kept)

    def forget(self, learner: str, engine_name: str | None = None) -> None:
        """Forget one engine name of the learner, or (``None``) all of them."""
        with self._lock:
            pairs = self._pairs.get(learner)
            if pairs is None:
                return
            if engine_name is None:
                pairs.attrs.clear()
            else:
                pairs.attrs.pop(engine_name, None)


def is_lite(container: Container) -> bool:
    """Whether ``container`` was rebuilt from :class:`Identities` (its state is unknown)."""
    return bool(container.attrs.get(LITE))


def restarts_never(container: Container) -> bool:
    """Whether the engine never restarts ``container`` by itself (restart policy ``no``).

    Then its ``RestartCount`` is 0 for ever: a kept container's view may say so without
    reading it.
    """
    policy = ((container.attrs.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name")
    return policy in (None, "", "no")


def known_running(container: Container) -> Container:
    """A kept (:func:`is_lite`) container the engine just accepted an exec in: running then.

    The engine creates an exec only in a container that runs, is not paused and is not
    restarting; nothing else of its state (start time, process id) is known, so it stays
    marked :data:`LITE` and is never kept as a look of the line.
    """
    attrs = dict(container.attrs)
    attrs["State"] = {"Status": "running", "Running": True, "Paused": False,
                      "Restarting": False, "ExitCode": 0}
    running: Container = container.client.containers.prepare_model(attrs) \
        if container.client is not None else Container(attrs)
    return running


__all__ = ["IMAGE_SECONDS", "IMMUTABLE", "KEEPS_NAMES", "LITE", "MAX_ENTRIES", "MAX_LEARNERS",
           "EmptyTargets", "Identities", "ImageFact", "ImageFacts", "LineLooks", "SafeTargets",
           "is_lite", "known_running", "restarts_never"]
