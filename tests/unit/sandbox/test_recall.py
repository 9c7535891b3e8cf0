"""What the sandbox remembers between engine requests: image facts, link-free targets, identities."""

from __future__ import annotations

import contextlib

from bot.sandbox.engine.recall import (
    IMAGE_SECONDS,
    IMMUTABLE,
    LITE,
    MAX_ENTRIES,
    EmptyTargets,
    Identities,
    ImageFact,
    ImageFacts,
    SafeTargets,
)
from bot.sandbox.engine.request_counts import learner_line, note_line_seq


def test_image_facts_are_read_once_then_again_after_a_while_or_when_forgotten() -> None:
    """An image's facts are asked once per IMAGE_SECONDS; a forgotten or missing image is asked again."""
    now = [0.0]
    facts = ImageFacts(clock=lambda: now[0])
    reads: list[str] = []

    def read() -> ImageFact:
        reads.append("redis")
        return ImageFact("sha256:1", ("/data",))

    assert facts.get("redis", read) == ImageFact("sha256:1", ("/data",))
    assert facts.get("redis", read).volumes == ("/data",)
    assert len(reads) == 1
    now[0] = IMAGE_SECONDS + 1
    facts.get("redis", read)
    assert len(reads) == 2
    facts.forget("redis")
    facts.get("redis", read)
    assert len(reads) == 3
    assert facts.get("nope", lambda: None) is None
    assert facts.get("nope", lambda: None) is None  # a missing image is never remembered


def test_only_top_level_targets_found_safe_are_remembered_per_image() -> None:
    """A target below another mount is always checked; a safe one is per image id."""
    assert SafeTargets.top_level(["/data", "/data/sub", "/srv", "/tmp/"]) == {"/data", "/srv", "/tmp"}
    assert SafeTargets.top_level(["/", "/data"]) == {"/"}
    safe = SafeTargets()
    assert safe.unknown("img1", ["/data", "/data/sub"]) == ["/data", "/data/sub"]
    safe.remember("img1", ["/data"])
    assert safe.unknown("img1", ["/data", "/data/sub"]) == ["/data/sub"]
    assert safe.unknown("img2", ["/data"]) == ["/data"]


def test_run_names_its_created_volumes_under_the_key_the_observer_reads() -> None:
    """The sandbox's facts key for the volumes a run created is the checks' key."""
    from bot.checks.observe import CREATED_VOLUMES as OBSERVED_KEY
    from bot.checks.observe import FRESH_VOLUMES as OBSERVED_FRESH
    from bot.sandbox.views import CREATED_VOLUMES, FRESH_VOLUMES

    assert CREATED_VOLUMES == OBSERVED_KEY
    assert FRESH_VOLUMES == OBSERVED_FRESH


def test_an_images_empty_paths_are_asked_once_per_image_and_path_and_stay_bounded() -> None:
    """Whether an image holds anything at a path is read once per (image id, path); the memory is bounded."""
    known = EmptyTargets()
    reads: list[tuple[str, str]] = []

    def read(image: str, path: str, answer: bool) -> bool:
        reads.append((image, path))
        return answer

    assert known.empty("sha256:1", "/data", lambda: read("sha256:1", "/data", True)) is True
    assert known.empty("sha256:1", "/data", lambda: read("sha256:1", "/data", False)) is True
    assert known.empty("sha256:1", "/etc", lambda: read("sha256:1", "/etc", False)) is False
    assert known.empty("sha256:2", "/data", lambda: read("sha256:2", "/data", False)) is False
    assert reads == [("sha256:1", "/data"), ("sha256:1", "/etc"), ("sha256:2", "/data")]
    for index in range(MAX_ENTRIES + 10):
        known.empty(f"sha256:x{index}", "/data", lambda: True)
    assert len(known._known) == MAX_ENTRIES
    assert known.empty("sha256:1", "/data", lambda: read("sha256:1", "/data", False)) is False


def _in_line(seq: int | None) -> contextlib.AbstractContextManager[object]:
    """A learner line whose store count is ``seq`` (``None``: never said)."""
    stack = contextlib.ExitStack()
    stack.enter_context(learner_line())
    if seq is not None:
        note_line_seq(seq)
    return stack


ATTRS = {"Id": "abc", "Name": "/old", "Config": {"Labels": {"x": "1"}}, "Mounts": [],
         "State": {"Status": "running", "ExitCode": 0}, "RestartCount": 2,
         "HostConfig": {"AutoRemove": False}}


def test_identities_serve_only_the_line_right_after_the_one_that_kept_them() -> None:
    """Kept in line 5, used in line 6; a line 8 (another replica ran 7) or no count uses nothing."""
    ids = Identities()
    with _in_line(5):
        ids.begin("alice")
        ids.remember("alice", "p-alice-c", ATTRS)
        assert ids.recall("alice", "p-alice-c") is not None  # later in the same line, too
    with _in_line(6):
        ids.begin("alice")
        kept = ids.recall("alice", "p-alice-c")
        assert kept is not None and kept["Id"] == "abc" and kept["Name"] == "/p-alice-c"
        assert ids.recall("bob", "p-alice-c") is None  # never another learner's
    with _in_line(8):
        ids.begin("alice")
        assert ids.recall("alice", "p-alice-c") is None
    with _in_line(None):
        ids.begin("alice")
        ids.remember("alice", "p-alice-c", ATTRS)
        assert ids.recall("alice", "p-alice-c") is None
    assert ids.recall("alice", "p-alice-c") is None  # outside any line


def test_identities_keep_no_state_and_forget_on_demand() -> None:
    """What is kept has no state, restart count or network; forget drops one name or all."""
    ids = Identities()
    with _in_line(1):
        ids.begin("alice")
        ids.remember("alice", "a", ATTRS)
        ids.remember("alice", "b", ATTRS)
        kept = ids.recall("alice", "a")
        assert kept is not None
        assert kept["State"] == {"Status": "unknown"} and "RestartCount" not in kept
        assert kept[LITE] is True and set(kept) <= {*IMMUTABLE, "Name", "State", LITE}
        ids.forget("alice", "a")
        assert ids.recall("alice", "a") is None and ids.recall("alice", "b") is not None
        ids.forget("alice")
        assert ids.recall("alice", "b") is None
