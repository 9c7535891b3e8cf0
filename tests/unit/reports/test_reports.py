"""Class reports on a seeded class with known answers, through the real store and tutor.

The class is seeded with :class:`ProgressStore`'s own API on the test's database
(SQLite, or PostgreSQL when ``TEST_DATABASE_URL`` is set) while a frozen clock sets
every timestamp, then every figure of the summary, the export and the timeline is
checked against the answers worked out by hand below.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import struct
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_mock import MockerFixture

from bot.config import Settings
from bot.errors import NotAllowed, UsageError
from bot.identity import Person
from bot.lessons.model import Catalog
from bot.progress import ProgressStore, StuckRules, learner_rows, lesson_summary
from bot.progress import records as progress_records
from bot.reply import File, Image
from bot.reports.chart import chart_height
from bot.reports.exports import CSV_COLUMNS, LessonInfo, class_records, csv_bytes, export_csv
from bot.reports.replies import REFUSAL, parse_learner, resolve_learner, summary_reply
from bot.sandbox.engine.sandbox import Sandbox
from bot.tutor.core import Tutor
from tests.conftest import NO_ENGINE

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
"""The class starts at 09:00 UTC; every event below is minutes after it."""
NOW = T0 + timedelta(minutes=120)
"""The moment the instructor asks: 11:00 UTC."""
LESSON = "class-demo"
STEPS = ("intro", "build", "volumes", "mounts", "challenge", "cleanup")
TITLES = ("Intro", "Build", "Volumes", "Mounts", "The challenge", "Clean up")
NAMES = ("Ada", "Ben", "Cleo", "Jo", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivy")

ADA = Person("slack", "U_ADA", "Ada")
BEN = Person("slack", "U_BEN", "Ben")
CLEO = Person("slack", "U_CLEO", "Cleo")
JO = Person("console", "jo", "Jo")
DAN = Person("slack", "U_DAN", "Dan")
EVE = Person("slack", "U_EVE", "Eve")
FINN = Person("slack", "U_FINN", "Finn")
GUS = Person("console", "gus", "Gus")
HANA = Person("slack", "U_HANA", "Hana")
IVY = Person("slack", "U_IVY", "Ivy")
INSTRUCTOR = Person("slack", "UINSTRUCTOR", "Teacher")


class Clock:
    """A frozen clock for the store: ``at(m)`` sets it to ``T0 + m`` minutes."""

    def __init__(self) -> None:
        self.now = T0

    def at(self, minutes: float) -> None:
        """Move the clock to ``minutes`` after ``T0``."""
        self.now = T0 + timedelta(minutes=minutes)


@pytest.fixture
def clock(mocker: MockerFixture) -> Clock:
    """Freeze the clock every store timestamp comes from (column defaults included)."""
    frozen = Clock()

    class FrozenDateTime(datetime):
        @classmethod
        def now(cls, tz: object = None) -> FrozenDateTime:  # type: ignore[override]
            return frozen.now if tz is not None else frozen.now.replace(tzinfo=None)  # type: ignore[return-value]

    mocker.patch.object(progress_records, "datetime", FrozenDateTime)
    return frozen


def write_lesson(root: Path) -> Path:
    """A small lesson of six steps whose fifth is the challenge, written under ``root``."""
    folder = root / "01-class-demo"
    folder.mkdir(parents=True)
    lines = [f'id = "{LESSON}"', "number = 1", 'title = "Class Demo"', 'summary = "For tests."',
             'images = ["busybox"]']
    for step, title in zip(STEPS, TITLES, strict=True):
        (folder / f"{step}.md").write_text(f"# {title}\n", encoding="utf-8")
        lines += ["", "[[steps]]", f'id = "{step}"', f'title = "{title}"', f'file = "{step}.md"']
        if step == "challenge":
            lines.append("challenge = true")
    (folder / "lesson.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def lessons_dir(tmp_path: Path) -> Path:
    """A lessons folder holding only the test lesson."""
    return write_lesson(tmp_path / "lessons")


@pytest.fixture
def info(lessons_dir: Path) -> LessonInfo:
    """The test lesson as the reports see it."""
    return LessonInfo.of(Catalog(lessons_dir).get(LESSON))


@dataclass(frozen=True)
class Seeded:
    """The seeded store."""

    store: ProgressStore
    info: LessonInfo


def _complete(store: ProgressStore, clock: Clock, person: Person, steps: dict[str, float]) -> None:
    for step, minutes in steps.items():
        clock.at(minutes)
        store.move_to(person, LESSON, step)
        store.complete_step(person, LESSON, step)


def _start(store: ProgressStore, clock: Clock, person: Person, minutes: float) -> None:
    clock.at(minutes)
    store.start_lesson(person, LESSON, STEPS[0])


def _docker(store: ProgressStore, clock: Clock, person: Person, minutes: float, *, step: str,
            status: int, text: str = "docker ps", kind: str = "docker", output: str = "") -> None:
    clock.at(minutes)
    store.log(person, kind=kind, text=text, exit_status=status, lesson_id=LESSON, step_id=step,
              output=output)


def seed_class(store: ProgressStore, clock: Clock) -> None:
    """Ten learners with hand-checked figures (minutes after 09:00 in brackets).

    * Ada, Ben, Cleo, Jo completed the challenge after 40, 60, 20 and 90 minutes
      (median 50); Ada also completed the whole lesson; Jo has been idle 30 min, but
      finished learners are never stuck.
    * Dan (volumes) completed his last step at 40: idle 80 min, stuck.
    * Eve (volumes) has 2 failed checks and 2 failed docker commands on it (plus a failed
      one on intro and a failed `edit`, which don't count): 4 failed attempts, stuck.
    * Finn (volumes): 1 failed check + 1 failed command, idle 15: not stuck.
    * Gus (intro) started at 110: not stuck. Hana (mounts) last completed at 100: not stuck.
    * Ivy failed 3 commands on intro, then started over at 100: they no longer count.
    """
    _start(store, clock, ADA, 0)
    _complete(store, clock, ADA, {"intro": 5, "build": 10, "volumes": 15, "mounts": 20, "challenge": 40})
    store.record_challenge(ADA, LESSON, "challenge", {"value": "Hello"})
    _complete(store, clock, ADA, {"cleanup": 45})
    clock.at(50)
    store.complete_lesson(ADA, LESSON)

    _start(store, clock, BEN, 10)
    _complete(store, clock, BEN, {"intro": 20, "build": 30, "volumes": 40, "mounts": 50, "challenge": 70})
    store.record_challenge(BEN, LESSON, "challenge", {})
    clock.at(70.5)
    store.move_to(BEN, LESSON, "cleanup")
    for n in range(12):
        _docker(store, clock, BEN, 71 + n, step="cleanup", status=0, text=f"docker ps #{n + 1}")

    _start(store, clock, CLEO, 0)
    _complete(store, clock, CLEO, {"intro": 5, "build": 8, "volumes": 11, "mounts": 14, "challenge": 20})
    store.record_challenge(CLEO, LESSON, "challenge", {})
    store.move_to(CLEO, LESSON, "cleanup")

    _start(store, clock, JO, 0)
    _complete(store, clock, JO, {"intro": 10, "build": 30, "volumes": 50, "mounts": 70, "challenge": 90})
    store.record_challenge(JO, LESSON, "challenge", {})
    store.move_to(JO, LESSON, "cleanup")

    _start(store, clock, DAN, 30)
    _complete(store, clock, DAN, {"intro": 35, "build": 40})
    store.move_to(DAN, LESSON, "volumes")

    _start(store, clock, EVE, 90)
    _docker(store, clock, EVE, 94, step="intro", status=1, text="docker run busybox cat /nope",
            output="cat: can't open '/nope'")
    _complete(store, clock, EVE, {"intro": 95})
    store.move_to(EVE, LESSON, "volumes")
    for minutes in (100, 101):
        clock.at(minutes)
        store.record_check(EVE, LESSON, "volumes", passed=False)
    _docker(store, clock, EVE, 102, step="volumes", status=1, text="docker volume rm notes",
            output="Error response from daemon: remove notes: volume is in use\nmore detail")
    _docker(store, clock, EVE, 103, step="volumes", status=125, text="docker run --name writer busybox",
            output="docker: Error response from daemon: Conflict.")
    _docker(store, clock, EVE, 104, step="volumes", status=0, text="docker volume ls")
    _docker(store, clock, EVE, 105, step="volumes", status=1, text="edit notes.txt", kind="edit")

    _start(store, clock, FINN, 100)
    _complete(store, clock, FINN, {"intro": 105})
    store.move_to(FINN, LESSON, "volumes")
    clock.at(106)
    store.record_check(FINN, LESSON, "volumes", passed=False)
    _docker(store, clock, FINN, 107, step="volumes", status=125, text="docker run --privileged busybox")

    _start(store, clock, GUS, 110)

    _start(store, clock, HANA, 20)
    _complete(store, clock, HANA, {"intro": 30, "build": 60, "volumes": 100})
    store.move_to(HANA, LESSON, "mounts")

    _start(store, clock, IVY, 0)
    for minutes in (5, 6, 7):
        _docker(store, clock, IVY, minutes, step="intro", status=1, text="docker run --rm busybox false")
    clock.at(100)
    store.reset_lesson(IVY, LESSON)
    store.start_lesson(IVY, LESSON, STEPS[0])

    clock.at(120)


_SEEDED_SQLITE: list[Path] = []
"""The class seeded once into a SQLite file, copied into each test's database."""


@pytest.fixture
def seeded(store: ProgressStore, clock: Clock, info: LessonInfo,
           tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The class above, in the test's database, with the clock at 11:00.

    On SQLite the class is seeded once (by :func:`seed_class`, with the frozen clock) and
    each test gets its own copy of that database; on PostgreSQL each test seeds its own.
    """
    if store.engine.dialect.name != "sqlite":
        seed_class(store, clock)
        return Seeded(store, info)
    if not _SEEDED_SQLITE:
        template = tmp_path_factory.mktemp("seeded") / "class.db"
        seeding = ProgressStore(f"sqlite:///{template}")
        seed_class(seeding, clock)
        seeding.close()
        _SEEDED_SQLITE.append(template)
    store.engine.dispose()
    source = sqlite3.connect(_SEEDED_SQLITE[0])
    target = sqlite3.connect(str(store.engine.url.database))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    clock.at(120)
    return Seeded(store, info)


@pytest.fixture
def class_tutor(settings: Settings, store: ProgressStore, lessons_dir: Path) -> Tutor:
    """A tutor on the test lesson; its sandbox points at no engine (these tests never use one)."""
    offline = replace(settings, lessons_dir=lessons_dir, docker_host=NO_ENGINE)
    return Tutor(offline, store, Sandbox(offline), Catalog(lessons_dir))


# -- the summary ------------------------------------------------------------------------------


def test_summary_figures_match_the_hand_worked_answers(seeded: Seeded) -> None:
    """Started, per-step completions, challenge, median, stuck step and stuck learners are exact."""
    summary = lesson_summary(seeded.store, seeded.info.outline, now=NOW)
    assert summary.started == 10
    assert summary.step_completions == {"intro": 8, "build": 6, "volumes": 5, "mounts": 4,
                                        "challenge": 4, "cleanup": 1}
    assert list(summary.step_completions) == list(STEPS)
    assert summary.challenge_completions == 4
    assert summary.lesson_completions == 1
    assert summary.finished == 4
    assert summary.unfinished == 6
    assert summary.median_minutes == pytest.approx(50.0)
    assert (summary.stuck_step, summary.stuck_step_learners) == ("volumes", 3)
    assert [row.name for row in summary.stuck] == ["Eve", "Dan"]
    eve, dan = summary.stuck
    assert eve.stuck_reasons(NOW, summary.rules) == ("4 failed attempts",)
    assert (eve.failed_checks, eve.failed_commands) == (2, 2)
    assert dan.stuck_reasons(NOW, summary.rules) == ("no progress for 80 min",)
    assert summary.generated_at == NOW


def test_stuck_rules_are_configurable(seeded: Seeded) -> None:
    """A shorter idle time or a lower failure threshold flags more learners, in a stable order."""
    outline = seeded.info.outline
    idle = lesson_summary(seeded.store, outline, now=NOW,
                          rules=StuckRules(idle_after=timedelta(minutes=12)))
    assert [row.name for row in idle.stuck] == ["Eve", "Finn", "Dan", "Hana", "Ivy"]
    exact = lesson_summary(seeded.store, outline, now=NOW,
                           rules=StuckRules(idle_after=timedelta(minutes=10)))
    assert "Gus" in [row.name for row in exact.stuck]  # idle exactly 10 min counts
    failures = lesson_summary(seeded.store, outline, now=NOW, rules=StuckRules(failed_attempts=2))
    assert [row.name for row in failures.stuck] == ["Eve", "Finn", "Dan"]


def test_median_of_an_odd_count_and_of_nobody(
    store: ProgressStore, clock: Clock, info: LessonInfo
) -> None:
    """With three finishers the median is the middle time; with none it is None."""
    assert lesson_summary(store, info.outline).median_minutes is None
    for person, start, done in ((ADA, 0, 30), (BEN, 0, 10), (CLEO, 5, 105)):
        _start(store, clock, person, start)
        clock.at(done)
        store.record_challenge(person, LESSON, "challenge", {})
    summary = lesson_summary(store, info.outline)
    assert summary.median_minutes == pytest.approx(30.0)
    assert summary.stuck_step is None and summary.stuck == ()


def test_summary_reply_states_every_figure_and_has_the_chart(seeded: Seeded) -> None:
    """The reply names the figures, the stuck step and learners, and carries a funnel PNG."""
    summary = lesson_summary(seeded.store, seeded.info.outline, now=NOW)
    reply = summary_reply([(seeded.info, summary)])
    text = reply.text()
    for expected in (
        "**10** started \u00b7 **4** completed the challenge (40%) \u00b7 **1** completed the whole lesson",
        "Median time to complete: **50 min** (lesson start to challenge completion, 4 learners)",
        "1. \u201cIntro\u201d: 8 (80%)", "2. \u201cBuild\u201d: 6 (60%)", "3. \u201cVolumes\u201d: 5 (50%)",
        "4. \u201cMounts\u201d: 4 (40%)", "5. \u201cThe challenge\u201d (challenge): 4 (40%)",
        "6. \u201cClean up\u201d: 1 (10%)",
        "Most learners still working are on 3. \u201cVolumes\u201d (3 of 6).",
        "**Look stuck (2):**",
        "\u2022 Eve: 3. \u201cVolumes\u201d, 4 failed attempts",
        "\u2022 Dan: 3. \u201cVolumes\u201d, no progress for 80 min",
        "lesson start to their challenge completion",
    ):
        assert expected in text
    for name in ("Finn", "Gus", "Hana", "Ivy", "Jo"):
        assert f"\u2022 {name}:" not in text
    [image] = [part for part in reply.parts if isinstance(part, Image)]
    assert image.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", image.png[16:24]) == (900, chart_height(len(STEPS)))


def test_summary_reply_caps_the_names_it_lists(seeded: Seeded) -> None:
    """Past the cap the reply says how many more look stuck instead of naming them."""
    summary = lesson_summary(seeded.store, seeded.info.outline, now=NOW,
                             rules=StuckRules(idle_after=timedelta(minutes=1)))
    assert len(summary.stuck) == 6
    from bot.reports import replies as reports
    original = reports.MAX_NAMES
    reports.MAX_NAMES = 4
    try:
        text = summary_reply([(seeded.info, summary)], chart=False).text()
    finally:
        reports.MAX_NAMES = original
    assert "**Look stuck (6):**" in text
    assert "\u2026 and 2 more (`progress export` lists everyone)." in text


def test_empty_class_says_so(store: ProgressStore, info: LessonInfo) -> None:
    """With nobody started the summary says so rather than showing zeros."""
    reply = summary_reply([(info, lesson_summary(store, info.outline))])
    assert reply.text() == "No learner has started a lesson yet."


# -- the export -------------------------------------------------------------------------------


def _csv(data: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def test_csv_has_the_documented_columns_and_one_row_per_learner(seeded: Seeded) -> None:
    """One row per learner, by key, exact for a finisher, a stuck learner and one who started over."""
    rows = _csv(export_csv(seeded.store, [seeded.info], now=NOW))
    assert [row["learner_key"] for row in rows] == [
        "console:gus", "console:jo", "slack:U_ADA", "slack:U_BEN", "slack:U_CLEO", "slack:U_DAN",
        "slack:U_EVE", "slack:U_FINN", "slack:U_HANA", "slack:U_IVY",
    ]
    by_name = {row["name"]: row for row in rows}
    assert by_name["Ada"] == {
        "learner_key": "slack:U_ADA", "name": "Ada", "lesson": LESSON,
        "started_at": "2025-03-03T09:00:00Z", "current_step": "cleanup", "current_step_number": "6",
        "steps_completed": "6", "steps_total": "6",
        "challenge_completed_at": "2025-03-03T09:40:00Z", "lesson_completed_at": "2025-03-03T09:50:00Z",
        "minutes_to_complete": "40.0", "failed_checks": "0", "failed_commands": "0",
        "failed_attempts": "0", "last_progress_at": "2025-03-03T09:45:00Z",
        "last_active_at": "2025-03-03T09:50:00Z", "idle_minutes": "", "stuck": "no", "stuck_reason": "",
    }
    assert by_name["Eve"] == {
        "learner_key": "slack:U_EVE", "name": "Eve", "lesson": LESSON,
        "started_at": "2025-03-03T10:30:00Z", "current_step": "volumes", "current_step_number": "3",
        "steps_completed": "1", "steps_total": "6", "challenge_completed_at": "",
        "lesson_completed_at": "", "minutes_to_complete": "", "failed_checks": "2",
        "failed_commands": "2", "failed_attempts": "4", "last_progress_at": "2025-03-03T10:35:00Z",
        "last_active_at": "2025-03-03T10:45:00Z", "idle_minutes": "25", "stuck": "yes",
        "stuck_reason": "4 failed attempts",
    }
    assert by_name["Ivy"] == {
        "learner_key": "slack:U_IVY", "name": "Ivy", "lesson": LESSON,
        "started_at": "2025-03-03T10:40:00Z", "current_step": "intro", "current_step_number": "1",
        "steps_completed": "0", "steps_total": "6", "challenge_completed_at": "",
        "lesson_completed_at": "", "minutes_to_complete": "", "failed_checks": "0",
        "failed_commands": "0", "failed_attempts": "0", "last_progress_at": "2025-03-03T10:40:00Z",
        "last_active_at": "2025-03-03T10:40:00Z", "idle_minutes": "20", "stuck": "no", "stuck_reason": "",
    }
    assert {row["name"]: row["minutes_to_complete"] for row in rows if row["minutes_to_complete"]} == {
        "Ada": "40.0", "Ben": "60.0", "Cleo": "20.0", "Jo": "90.0"}
    assert {row["name"] for row in rows if row["stuck"] == "yes"} == {"Eve", "Dan"}
    assert by_name["Dan"]["stuck_reason"] == "no progress for 80 min"
    assert by_name["Finn"]["failed_attempts"] == "2"
    assert by_name["Hana"]["steps_completed"] == "3"
    assert by_name["Jo"]["idle_minutes"] == ""


def test_learner_rows_match_the_dataclass_fields(seeded: Seeded) -> None:
    """Rows are built positionally, so the query's columns must be LearnerRow's fields in order."""
    from dataclasses import fields

    from bot.progress.figures import LearnerRow
    from bot.progress.queries import _finishers, _rows_query

    outline = seeded.info.outline
    names = [column.name for column in _rows_query(outline, _finishers(outline)).selected_columns]
    assert names == [field.name for field in fields(LearnerRow)]
    assert len(learner_rows(seeded.store, outline)) == 10


def test_csv_neutralises_spreadsheet_formulas(
    store: ProgressStore, clock: Clock, info: LessonInfo
) -> None:
    """A display name that starts like a formula is exported as text."""
    _start(store, clock, Person("slack", "U_EVIL", "=HYPERLINK(\"http://x\")"), 0)
    [row] = _csv(export_csv(store, [info]))
    assert row["name"] == "'=HYPERLINK(\"http://x\")"


def test_csv_bytes_of_no_records_is_just_the_header() -> None:
    """An empty class exports the header row alone."""
    assert csv_bytes([]).decode() == ",".join(CSV_COLUMNS) + "\r\n"


def test_records_and_summary_agree_on_who_is_stuck(seeded: Seeded) -> None:
    """The export's stuck flags and the summary's stuck list come from one definition."""
    summary = lesson_summary(seeded.store, seeded.info.outline, now=NOW)
    records = class_records(seeded.store, [seeded.info], now=NOW)
    assert {r["learner_key"] for r in records if r["stuck"]} == {row.key for row in summary.stuck}


# -- finding a learner ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "user_id", "name"), [
    ("<@U_EVE|eve>", "U_EVE", "eve"),
    ("<@U0123ABC>", "U0123ABC", ""),
    ("  <@W999|Dana Scully>  ", "W999", "Dana Scully"),
    ("@Eve", None, "Eve"),
    ("Eve", None, "Eve"),
    ("slack:U_EVE", None, "slack:U_EVE"),
])
def test_parse_learner_reads_mentions_and_names(text: str, user_id: str | None, name: str) -> None:
    """Slack mentions with and without a label, @names and plain names are understood."""
    query = parse_learner(text)
    assert (query.user_id, query.name) == (user_id, name)


def test_resolve_learner_by_mention_name_and_key(seeded: Seeded) -> None:
    """A mention finds the Slack id; a plain name finds a display name, a console name or a key."""
    store = seeded.store
    assert resolve_learner(store, "<@U_EVE|whatever>").key == "slack:U_EVE"
    assert resolve_learner(store, "<@U_EVE>").key == "slack:U_EVE"
    assert resolve_learner(store, "eve").key == "slack:U_EVE"
    assert resolve_learner(store, "@Dan").key == "slack:U_DAN"
    assert resolve_learner(store, "gus").key == "console:gus"
    assert resolve_learner(store, "slack:U_HANA").key == "slack:U_HANA"
    assert resolve_learner(store, "U_IVY").key == "slack:U_IVY"


def test_resolve_learner_refuses_unknown_and_ambiguous(seeded: Seeded, clock: Clock) -> None:
    """Nobody matching, or two learners of the same name, is a usage error that says so."""
    with pytest.raises(UsageError, match="no progress for <@UNOBODY>"):
        resolve_learner(seeded.store, "<@UNOBODY>")
    _start(seeded.store, clock, Person("slack", "U_SAM1", "Sam"), 115)
    _start(seeded.store, clock, Person("slack", "U_SAM2", "sam"), 116)
    with pytest.raises(UsageError, match="Several learners match Sam") as error:
        resolve_learner(seeded.store, "Sam")
    assert "slack:U_SAM1" in str(error.value) and "slack:U_SAM2" in str(error.value)


# -- the tutor word -----------------------------------------------------------------------------


@pytest.mark.parametrize("words", ["progress", "progress export", "progress <@U_ADA|ada>",
                                   "progress Dan", f"progress {LESSON}"])
def test_non_instructors_are_refused_and_learn_nothing(
    seeded: Seeded, class_tutor: Tutor, mocker: MockerFixture, words: str
) -> None:
    """A learner asking for class data gets a polite refusal naming nobody, before any query runs."""
    from bot.reports import exports
    from bot.reports import replies as reports
    spies = [mocker.spy(reports, name) for name in
             ("lesson_summary", "learner_timeline", "resolve_learner")]
    spies.append(mocker.spy(exports, "class_records"))
    with pytest.raises(NotAllowed) as error:
        class_tutor.handle(EVE, words)
    message = str(error.value)
    assert message == REFUSAL
    for name in [*NAMES, "U_ADA", "U_DAN", "slack:", "console:"]:
        assert name not in message
    assert all(spy.call_count == 0 for spy in spies)


def test_instructor_gets_the_summary_with_a_chart(seeded: Seeded, class_tutor: Tutor) -> None:
    """`progress` from an instructor (Slack id in TUTOR_INSTRUCTORS) answers with figures and a PNG."""
    reply = class_tutor.handle(INSTRUCTOR, "progress")
    assert reply.ephemeral
    assert "**10** started" in reply.text()
    [image] = [part for part in reply.parts if isinstance(part, Image)]
    assert image.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.title == "Completion funnel Class Demo"


def test_console_instructor_and_one_lesson(seeded: Seeded, class_tutor: Tutor) -> None:
    """A console instructor may ask too, for one lesson by id; an unknown argument is a learner lookup."""
    teacher = Person("console", "teacher")
    assert "**10** started" in class_tutor.handle(teacher, f"progress {LESSON}").text()
    assert "`progress export`" in class_tutor.handle(teacher, "progress help").text()
    with pytest.raises(UsageError, match="no progress for nobody"):
        class_tutor.handle(teacher, "progress nobody")


def test_instructor_export_is_a_csv_file(seeded: Seeded, class_tutor: Tutor) -> None:
    """`progress export` answers with a CSV File part of every learner."""
    reply = class_tutor.handle(INSTRUCTOR, "progress export")
    [file] = [part for part in reply.parts if isinstance(part, File)]
    assert file.filename == "class-progress-20250303-1100.csv"
    rows = _csv(file.content)
    assert len(rows) == 10 and {row["name"] for row in rows} == set(NAMES)
    assert "10 rows (10 learners)" in reply.text()


def test_instructor_sees_a_learner_timeline_and_last_commands(seeded: Seeded, class_tutor: Tutor) -> None:
    """`progress <@U_EVE|eve>` shows Eve's start, completions, current step and commands' exit statuses."""
    text = class_tutor.handle(INSTRUCTOR, "progress <@U_EVE|eve>").text()
    lines = text.splitlines()
    assert "Progress of Eve" in lines
    assert "**Class Demo**: 1 of 6 steps done" in lines
    assert "\u2022 2025-03-03 10:30 started the lesson" in lines
    assert "\u2022 10:35 \u2705 completed 1. \u201cIntro\u201d (5 min in)" in lines
    assert "\u2022 now on 3. \u201cVolumes\u201d: 2 failed of 2 checks, 0 hints" in lines
    assert "**Last 5 commands** (oldest first):" in lines
    commands = [line for line in lines if line.startswith("03-03 ")]
    assert [line.split("exit ")[1].split()[0] for line in commands] == ["1", "1", "125", "0", "1"]
    assert commands[1].endswith("docker volume rm notes")
    assert "\u21b3 Error response from daemon: remove notes: volume is in use" in text
    assert "more detail" not in text


def test_timeline_of_a_finisher_and_the_last_ten_commands(seeded: Seeded, class_tutor: Tutor) -> None:
    """Ben's timeline shows his challenge time, and only his last 10 of 12 commands, oldest first."""
    text = class_tutor.handle(INSTRUCTOR, "progress Ben").text()
    assert "\U0001f3c6 challenge completed, 1 h after the start" in text
    assert "**Last 10 commands** (oldest first):" in text
    shown = [line.rsplit("#", 1)[1] for line in text.splitlines() if "docker ps #" in line]
    assert shown == [str(n) for n in range(3, 13)]


def test_ada_finished_the_lesson(seeded: Seeded, class_tutor: Tutor) -> None:
    """A learner who completed the lesson has it in their timeline and no current-step line."""
    text = class_tutor.handle(INSTRUCTOR, "progress <@U_ADA>").text()
    assert "\u2022 09:50 \U0001f393 completed the lesson" in text
    assert "now on" not in text
    assert "No commands yet." in text


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(seeded: Seeded, settings: Settings, lessons_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`docker-tutor` reads the test's database and lessons from the environment."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TUTOR_LESSONS_DIR", str(lessons_dir))
    monkeypatch.delenv("TUTOR_INSTRUCTORS", raising=False)


def test_cli_csv_is_the_same_export_without_an_instructor_check(
    cli_env: None, seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    """`docker-tutor progress --format csv` prints the Slack export's CSV, with no role check."""
    from bot.cli import main

    assert main(["progress", "--lesson", LESSON, "--format", "csv"]) == 0
    printed = capsys.readouterr().out
    assert printed.encode("utf-8") == export_csv(seeded.store, [seeded.info], now=NOW)
    assert len(_csv(printed.encode("utf-8"))) == 10


def test_cli_json_has_summary_definitions_and_learners(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON output carries the lesson's figures, the definitions used and every learner."""
    import json

    from bot.cli import main

    assert main(["progress", "--format", "json", "--stuck-minutes", "12"]) == 0
    document = json.loads(capsys.readouterr().out)
    [lesson] = document["lessons"]
    assert lesson["started"] == 10
    assert [step["completed"] for step in lesson["steps"]] == [8, 6, 5, 4, 4, 1]
    assert (lesson["challenge_completions"], lesson["lesson_completions"]) == (4, 1)
    assert lesson["median_minutes_to_complete"] == 50.0
    assert (lesson["stuck_step"], lesson["stuck_step_learners"]) == ("volumes", 3)
    assert [s["name"] for s in lesson["stuck_learners"]] == ["Eve", "Finn", "Dan", "Hana", "Ivy"]
    assert document["rules"] == {"idle_minutes": 12.0, "failed_attempts": 3}
    assert "challenge completion" in document["definitions"]["median"]
    assert document["columns"] == list(CSV_COLUMNS)
    assert len(document["learners"]) == 10
    assert document["generated_at"] == "2025-03-03T11:00:00Z"


def test_cli_table_and_chart(cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default table shows the summary and a row per learner; --chart writes the funnel PNG."""
    from bot.cli import main

    chart = tmp_path / "funnel.png"
    assert main(["progress", "--chart", str(chart)]) == 0
    captured = capsys.readouterr()
    assert "== Class progress: Class Demo ==" in captured.out
    assert "Most learners still working are on 3." in captured.out
    header, rule, *rows = captured.out.split("\n\n")[-1].strip().splitlines()
    assert header.split() == ["learner", "name", "lesson", "step", "done", "minutes", "failed", "idle",
                              "stuck", "why"]
    assert set(rule) <= {"-", " "}
    assert len(rows) == 10
    assert f"chart written to {chart}" in captured.err
    png = chart.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (900, chart_height(len(STEPS)))


def test_cli_rejects_an_unknown_lesson_and_bad_rules(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown lesson or a non-positive threshold is a one-line error and exit status 1."""
    from bot.cli import main

    assert main(["progress", "--lesson", "nope"]) == 1
    assert "There is no lesson 'nope'" in capsys.readouterr().err
    assert main(["progress", "--stuck-failures", "0"]) == 1
    assert "must be positive" in capsys.readouterr().err


# -- speed: the plans use the report indexes ------------------------------------------------------


def test_sqlite_plans_read_the_report_indexes(seeded: Seeded) -> None:
    """On SQLite (no ANALYZE), per-learner figures come from the report indexes, never a log scan."""
    import sqlalchemy

    from bot.progress.queries import _finishers, _rows_query

    if seeded.store.engine.dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite; PostgreSQL plans from its statistics")
    outline = seeded.info.outline
    query = _rows_query(outline, _finishers(outline))
    sql = str(query.compile(seeded.store.engine, compile_kwargs={"literal_binds": True}))
    per_step = ("SELECT step_id, count(*) FROM step_progress WHERE lesson_id = 'class-demo' "
                "AND completed_at IS NOT NULL GROUP BY step_id")
    with seeded.store.engine.connect() as connection:
        plan = "\n".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        steps_plan = "\n".join(
            row[3] for row in connection.execute(sqlalchemy.text(f"EXPLAIN QUERY PLAN {per_step}")))
    assert "SEARCH command_log USING COVERING INDEX ix_command_log_attempts" in plan
    assert "SCAN command_log" not in plan
    assert "USING COVERING INDEX ix_step_progress_learner_done" in plan
    assert "USING COVERING INDEX ix_step_progress_lesson_done" in steps_plan
