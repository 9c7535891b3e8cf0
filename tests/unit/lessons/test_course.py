"""The course: its file, its validation, and how the tutor and the App Home show it (no engine)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import UsageError
from bot.identity import Person
from bot.lessons.course import course_problems, load_course
from bot.lessons.model import Catalog
from bot.lessons.validate import validate_path
from bot.progress.store import ProgressStore
from bot.reply import Actions
from bot.sandbox.engine.sandbox import Sandbox
from bot.tutor.core import Tutor
from handlers.listeners import home
from handlers.render.blocks import reply_blocks
from tests.paths import REPO_ROOT

LESSONS = REPO_ROOT / "lessons"


def test_the_shipped_course_orders_the_lessons_and_lists_those_to_come(catalog: Catalog) -> None:
    """The course file puts containers first, keeps data-persistence's id, and lists 02, 03, 05."""
    written = [lesson.id for lesson in catalog]
    assert written[0] == "containers" and "data-persistence" in written
    rows = [(entry.label, entry.id, lesson is not None) for entry, lesson in catalog.entries()]
    assert rows[0] == ("01", "containers", True)
    assert ("04", "data-persistence", True) in rows
    assert [(label, lesson_id) for label, lesson_id, _ in rows] == [
        ("01", "containers"), ("02", "images"), ("03", "networking"), ("04", "data-persistence"),
        ("05", "compose")]
    assert [lesson_id for _, lesson_id, present in rows if present] == written
    assert [label for label, _, _ in rows] == sorted(label for label, _, _ in rows)
    assert catalog.requires("data-persistence") == ("containers",)
    following = catalog.after("containers")
    assert following is not None and following.id == [lesson.id for lesson in catalog][1]
    assert course_problems(LESSONS) == []


def test_a_lesson_still_to_come_cannot_be_started(
        settings: Settings, store: ProgressStore, tmp_path: Path, alice: Person) -> None:
    """`start later` says the lesson is coming, in one line, and starts nothing."""
    _lesson(tmp_path / "01-a", "alpha", 1)
    (tmp_path / "course.toml").write_text(
        '[[lessons]]\nid = "alpha"\nnumber = 1\ntitle = "A"\nfolder = "01-a"\n\n'
        '[[lessons]]\nid = "later"\nnumber = 2\ntitle = "Later"\nfolder = "02-later"\n'
        'requires = ["alpha"]\n', encoding="utf-8")
    offline = replace(settings, lessons_dir=tmp_path)
    catalog = Catalog(tmp_path)
    box = Sandbox(offline, allowed_images=catalog.images)
    tutor = Tutor(offline, store, box, catalog)
    try:
        with pytest.raises(UsageError, match=r"02 Later .* is coming"):
            tutor.handle(alice, "start later")
        assert tutor.store.current_lesson(alice) is None
    finally:
        box.close()


def _lesson(folder: Path, lesson_id: str, number: int) -> None:
    folder.mkdir()
    (folder / "lesson.toml").write_text(
        f'id = "{lesson_id}"\nnumber = {number}\ntitle = "T"\n\n[[steps]]\nid = "s"\n'
        'title = "S"\nfile = "s.md"\n', encoding="utf-8")
    (folder / "s.md").write_text("## S\n\nRead me.\n", encoding="utf-8")


def test_every_course_mistake_is_reported_at_its_line(tmp_path: Path) -> None:
    """Unknown keys, numbers that go back, later prerequisites, mismatched ids, unlisted folders."""
    _lesson(tmp_path / "01-a", "alpha", 1)
    _lesson(tmp_path / "02-b", "beta", 2)
    _lesson(tmp_path / "09-stray", "stray", 9)
    (tmp_path / "course.toml").write_text(
        'title = "C"\ncolour = "blue"\n\n'                                    # lines 1-2
        '[[lessons]]\nid = "alpha"\nnumber = 2\ntitle = "A"\nfolder = "01-a"\n'
        'requires = ["beta"]\n\n'                                             # lines 4-9
        '[[lessons]]\nid = "beta"\nnumber = 2\ntitle = "B"\nfolder = "02-b"\n'
        'requires = []\nlevel = 3\n\n'                                        # lines 11-17
        '[[lessons]]\nid = "gamma"\nnumber = 3\ntitle = "G"\nfolder = "../up"\n',
        encoding="utf-8")
    problems = {(line, message.split(": ", 1)[-1]) for _, line, message in course_problems(tmp_path)}
    assert (2, "unknown key 'colour' (allowed: title, summary, lessons)") in problems
    assert (9, "requires 'beta', which is not a lesson earlier in the course") in problems
    assert (6, "01-a/lesson.toml has number 1") in problems
    assert (13, "number 2 must be larger than the lesson before it (2)") in problems
    assert (17, "unknown key 'level' (allowed: id, number, title, folder, requires)") in problems
    assert (23, "'folder' must be a folder name directly under lessons/") in problems
    assert any("'09-stray' is not in the course" in message for _, message in problems)
    _, found = validate_path(tmp_path)
    assert any(p.file.name == "course.toml" and p.line == 2 for p in found)


def test_a_course_folder_may_name_lessons_not_written_yet(tmp_path: Path) -> None:
    """An entry without its folder is a lesson to come: valid, listed, not loaded."""
    _lesson(tmp_path / "01-a", "alpha", 1)
    (tmp_path / "course.toml").write_text(
        '[[lessons]]\nid = "alpha"\nnumber = 1\ntitle = "A"\nfolder = "01-a"\n\n'
        '[[lessons]]\nid = "later"\nnumber = 2\ntitle = "Later"\nfolder = "02-later"\n'
        'requires = ["alpha"]\n', encoding="utf-8")
    assert course_problems(tmp_path) == []
    course = load_course(tmp_path)
    assert course is not None and [e.id for e in course.entries] == ["alpha", "later"]
    catalog = Catalog(tmp_path)
    assert [lesson.id for lesson in catalog] == ["alpha"]
    assert [(e.id, lesson is None) for e, lesson in catalog.entries()] == [
        ("alpha", False), ("later", True)]
    assert catalog.after("alpha") is None


def test_lessons_shows_the_course_in_order_with_each_lessons_state(
    tutor_no_engine: Tutor, alice: Person
) -> None:
    """`lessons` lists 01 to 05 in order: states, lessons to come, the advice and what is next."""
    tutor_no_engine.handle(alice, "start data-persistence")
    text = tutor_no_engine.handle(alice, "lessons").text()
    order = [text.index(title) for title in ("01 Containers", "02 Images", "03 Networking",
                                             "04 Data Persistence", "05 Compose")]
    assert order == sorted(order)
    written = [lesson.id for lesson in tutor_no_engine.catalog]
    assert f"Your progress: 0 of {len(written)} lessons finished." in text
    for entry, lesson in tutor_no_engine.catalog.entries():
        assert (f"{entry.label} {entry.title}*: coming soon." in text) is (lesson is None)
    assert "State: in progress, 0/9 steps done \u00b7 builds on Containers: recommended first" in text
    assert "Next for you: `start containers`" in text


def test_start_recommends_prerequisites_but_never_locks(tutor_no_engine: Tutor, alice: Person) -> None:
    """A lesson whose prerequisite is unfinished starts anyway, after its section, with the advice."""
    reply = tutor_no_engine.handle(alice, "start data-persistence")
    text = reply.text()
    assert "Containers are disposable" in text
    assert "builds on Containers (`start containers`)" in text and "nothing is locked" in text
    assert text.index("Containers are disposable") < text.index("nothing is locked")
    assert tutor_no_engine.store.current_lesson(alice) == "data-persistence"
    first = tutor_no_engine.handle(alice, "start containers").text()
    assert "What is a container?" in first and "nothing is locked" not in first


def test_a_bare_start_resumes_or_begins_the_course(tutor_no_engine: Tutor, alice: Person,
                                                   bob: Person) -> None:
    """`start` begins a newcomer at lesson 01 and brings anyone else back to their lesson."""
    assert "What is a container?" in tutor_no_engine.handle(bob, "start").text()
    tutor_no_engine.handle(alice, "start data-persistence")
    tutor_no_engine.handle(alice, "next")
    assert "The ephemeral writable layer" in tutor_no_engine.handle(alice, "start").text()


def _finish(tutor: Tutor, person: Person, lesson_id: str) -> str:
    """Complete every step of a lesson in the store and `next` past its end."""
    lesson = tutor.catalog.get(lesson_id)
    tutor.handle(person, f"start {lesson_id}")
    for step in lesson.steps:
        tutor.store.complete_step(person, lesson.id, step.id)
    tutor.store.move_to(person, lesson.id, lesson.steps[-1].id)
    reply = tutor.handle(person, "next")
    blocks, _ = reply_blocks(reply)
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    offered = [part for part in reply.parts if isinstance(part, Actions)]
    return reply.text() + "".join(f"\n[button {b['value']}]" for b in buttons) + (
        "\n[actions]" if offered else "")


def test_finishing_a_lesson_offers_the_next_one_with_a_button(tutor_no_engine: Tutor,
                                                              alice: Person) -> None:
    """Lesson 01 done: a line names the next lesson and a Slack button starts it."""
    text = _finish(tutor_no_engine, alice, "containers")
    assert "You finished Containers" in text
    following = tutor_no_engine.catalog.after("containers")
    assert following is not None
    assert f"Next in the course: {following.title}. Type `start {following.id}`" in text
    assert f"[button start {following.id}]" in text
    written = [lesson.id for lesson in tutor_no_engine.catalog]
    for lesson_id in written[1:]:
        last = _finish(tutor_no_engine, alice, lesson_id)
    assert "Next in the course" not in last
    listing = tutor_no_engine.handle(alice, "lessons").text()
    assert f"{len(written)} of {len(written)} lessons finished" in listing
    assert "finished every lesson there is" in listing


def test_the_app_home_shows_the_whole_course(tutor_no_engine: Tutor, alice: Person) -> None:
    """The Home tab: course progress, numbered lessons, lessons to come, the advice on order."""
    tutor_no_engine.handle(alice, "start data-persistence")
    view = home.home_view(tutor_no_engine, alice)
    texts = [str(b.get("text", {}).get("text", "")) + "".join(
        str(e.get("text", "")) for e in b.get("elements", ())) for b in view["blocks"]]
    joined = "\n".join(texts)
    written = [lesson.id for lesson in tutor_no_engine.catalog]
    bar = "\u25b1" * len(written)
    assert f"*Your course:* {bar} 0/{len(written)} lessons finished" in joined
    assert "Next up: *Containers*." in joined
    for entry, lesson in tutor_no_engine.catalog.entries():
        assert (f"*{entry.label} {entry.title}*: coming soon." in joined) is (lesson is None)
    assert joined.index("*01 Containers*") < joined.index("*04 Data Persistence*")
    buttons = [b["accessory"]["value"] for b in view["blocks"] if "accessory" in b]
    assert buttons == written


def test_instructors_progress_covers_every_lesson_in_course_order(
    settings: Settings, store: ProgressStore, catalog: Catalog, alice: Person
) -> None:
    """`progress` has a section for each lesson learners started, in course order (01, 04)."""
    teacher = Person("console", "teacher")
    tutor = Tutor(replace(settings, instructors=frozenset({teacher.user_id})), store,
                  _no_sandbox, catalog)
    tutor.handle(alice, "start data-persistence")
    tutor.handle(alice, "start containers")
    text = tutor.handle(teacher, "progress").text()
    first, fourth = "Class progress: Containers", "Class progress: Data Persistence"
    assert first in text and fourth in text and text.index(first) < text.index(fourth)
    assert "Class progress: Containers" in tutor.handle(teacher, "progress containers").text()


def _no_sandbox() -> Sandbox:
    raise AssertionError("progress needs no engine")
