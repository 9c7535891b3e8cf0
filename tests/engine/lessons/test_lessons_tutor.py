"""The lesson as the tutor runs it: loading, the `edit` word, and state-dependent hints."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.errors import UsageError
from bot.identity import Person
from bot.lessons.model import QUIZ_CHECK, Catalog, StateHint
from bot.reply import Event, Notice
from bot.tutor.core import Tutor

LESSON = "data-persistence"


def test_loader_reads_state_hints_and_adds_the_quiz_check(catalog: Catalog) -> None:
    """State hints load as `StateHint`; the quiz step gets its implicit `quiz_answered` check."""
    lesson = catalog.get(LESSON)
    ephemeral = lesson.step("ephemeral")
    assert isinstance(ephemeral.state_hints[0], StateHint)
    hint = ephemeral.state_hint("writer-alive")
    assert hint is not None and "docker rm -f scratchpad" in hint.text
    assert ephemeral.state_hint("") is None
    quiz = lesson.step("comparison")
    assert quiz.hands_on and [c.type for c in quiz.checks] == [QUIZ_CHECK]
    assert quiz.checks[0].params == {"step": "comparison",
                                     "questions": ["keep", "live-code", "restart"]}
    assert [s.id for s in lesson.steps if not s.hands_on] == ["intro", "insight"]
    assert all(s.solution for s in lesson.steps if s.hands_on)


def test_a_catalog_of_one_lesson(catalog: Catalog) -> None:
    """`Catalog.of` holds exactly the lessons given, for self-testing a lesson by path."""
    only = Catalog.of(catalog.get(LESSON))
    assert [lesson.id for lesson in only] == [LESSON] and only.first().id == LESSON


@pytest.mark.docker
def test_edit_writes_the_workspace_file_and_logs_it(tutor: Tutor, alice: Person) -> None:
    """`edit notes.txt TEXT` writes `$(pwd)/notes.txt` and records the edit with its facts."""
    reply = tutor.handle(alice, "edit ./notes.txt   hello from the host")
    assert "Saved `notes.txt`" in reply.text()
    assert tutor.sandbox.read_workspace_file(alice, "notes.txt") == "hello from the host\n"
    tutor.handle(alice, "edit src/app.py print('hi')")
    assert tutor.sandbox.read_workspace_file(alice, "src/app.py") == "print('hi')\n"
    entry = tutor.store.history(alice, kind="edit")[0]
    assert entry.facts == {"edit": {"path": "notes.txt", "text": "hello from the host",
                                    "bytes": 20}}


@pytest.mark.docker
@pytest.mark.parametrize("line", [
    "edit /etc/passwd x", "edit ../escape x", "edit notes.txt", "edit", "edit .hidden x",
    "edit a/b/c/d/e/f.txt x", "edit ~/x y",
])
def test_edit_refuses_paths_outside_the_workspace(tutor: Tutor, alice: Person, line: str) -> None:
    """Absolute paths, `..`, hidden names, deep paths and a missing text are refused."""
    with pytest.raises(UsageError):
        tutor.handle(alice, line)
    assert tutor.store.history(alice, kind="edit") == []


def edit_within(tutor: Tutor, person: Person, line: str, seconds: float) -> object:
    """Send an `edit` line in a thread; return the error it raised, `None`, or "hung"."""
    outcome: list[object] = []

    def attempt() -> None:
        try:
            tutor.handle(person, line)
            outcome.append(None)
        except UsageError as error:
            outcome.append(error)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    return outcome[0] if outcome else "hung"


@pytest.mark.docker
def test_edit_never_follows_links_or_blocks_on_fifos(
    tutor: Tutor, alice: Person, tmp_path: Path
) -> None:
    """Links a container plants in the workspace are not followed; a FIFO does not hang `edit`."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "target.txt"
    target.write_text("untouched\n")
    tutor.handle(alice, "docker run -d --name devbox -v $(pwd):/app busybox sleep 600")
    tutor.handle(alice, f"docker exec devbox ln -s {target} /app/evil")
    tutor.handle(alice, f"docker exec devbox ln -s {outside} /app/dir")
    tutor.handle(alice, "docker exec devbox mkfifo /app/pipe")
    for line in ("edit evil pwned", "edit dir/new.txt pwned", "edit pipe pwned"):
        assert isinstance(edit_within(tutor, alice, line, seconds=5), UsageError), line
    assert target.read_text() == "untouched\n"
    assert not (outside / "new.txt").exists()


@pytest.mark.docker
def test_hint_gives_the_state_hint_first_once_per_situation(tutor: Tutor, alice: Person) -> None:
    """A state hint answers the situation once; asking again climbs the ladder; acting resets it."""
    tutor.handle(alice, f"start {LESSON}")
    tutor.handle(alice, "next")
    first = tutor.handle(alice, "hint")
    assert "Hint 1/3" in first.text()
    tutor.handle(alice, "docker run -d --name scratchpad busybox sleep 600")
    tutor.handle(alice, "docker exec scratchpad sh -c 'echo remember me > /note.txt'")
    situated = tutor.handle(alice, "hint")
    assert "still in scratchpad's writable layer" in situated.text()
    assert "where you are right now" in situated.text()
    assert "Hint 2/3" in tutor.handle(alice, "hint").text()
    tutor.handle(alice, "docker ps")
    assert "still in scratchpad's writable layer" in tutor.handle(alice, "hint").text()
    tutor.handle(alice, "docker rm -f scratchpad")
    assert "prove the note went with it" in tutor.handle(alice, "hint").text()
    done = tutor.handle(alice, "docker run --rm --name scratchpad2 busybox cat /note.txt")
    assert Event.STEP_COMPLETED in done.events
    assert "Hint 3/3" in tutor.handle(alice, "hint").text()


@pytest.mark.docker
def test_the_auto_check_volunteers_only_real_mistakes(tutor: Tutor, alice: Person) -> None:
    """Being on the way says nothing; a container run without the bind mount is pointed out."""
    tutor.handle(alice, f"start {LESSON}")
    tutor.store.move_to(alice, LESSON, "bind-mounts")
    quiet = tutor.handle(alice, "docker volume ls")
    assert not [p for p in quiet.parts if isinstance(p, Notice)]
    wrong = tutor.handle(alice, "docker run -d --name devbox busybox sleep 600")
    assert "has nothing mounted at `/app`" in wrong.text()
    tutor.handle(alice, "docker rm -f devbox")
    on_the_way = tutor.handle(alice, "docker run -d --name devbox -v $(pwd):/app busybox sleep 600")
    assert not [p for p in on_the_way.parts if isinstance(p, Notice)]
    tutor.handle(alice, "edit notes.txt hello from the host")
    done = tutor.handle(alice, "docker exec devbox cat /app/notes.txt")
    assert Event.STEP_COMPLETED in done.events and "saw it at once" in done.text()


@pytest.mark.docker
def test_bind_and_tmpfs_steps_accept_any_container_name(tutor: Tutor, alice: Person) -> None:
    """The bind-mount and tmpfs steps confirm containers called anything, as their text says."""
    tutor.handle(alice, f"start {LESSON}")
    tutor.store.move_to(alice, LESSON, "bind-mounts")
    for line in ("docker run -d --name editor -v $(pwd):/app busybox sleep 600",
                 "edit notes.txt hello from the host"):
        tutor.handle(alice, line)
    done = tutor.handle(alice, "docker exec editor cat /app/notes.txt")
    assert Event.STEP_COMPLETED in done.events
    tutor.store.move_to(alice, LESSON, "tmpfs")
    wrong = tutor.handle(alice, "docker run -d --name memo busybox sleep 600")
    assert "`memo` has no tmpfs mount at `/cache`" in wrong.text()
    for line in ("docker rm -f memo", "docker run -d --name memo --tmpfs /cache busybox sleep 600",
                 "docker exec memo sh -c 'echo temp > /cache/x.txt'", "docker restart memo"):
        tutor.handle(alice, line)
    done = tutor.handle(alice, "docker exec memo cat /cache/x.txt")
    assert Event.STEP_COMPLETED in done.events
    text = (Path(tutor.catalog.get(LESSON).path) / "04-bind-mounts.md").read_text()
    assert "Call the container what you like" in text
