"""The newest part of each learner's log, kept between their lines (RecentHistory)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import sqlalchemy

from bot.identity import Person
from bot.progress import ProgressStore
from bot.progress.recent import RecentHistory
from bot.progress.records import CommandEntry

ALICE = Person("T1", "U1")
BOB = Person("T1", "U2")
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def _entry(entry_id: int, text: str = "docker ps", diagnosis: str | None = None) -> CommandEntry:
    return CommandEntry(entry_id, SINCE + timedelta(seconds=entry_id), "l", "s", "docker", text,
                        0, 1, "", {"verb": "ps"}, diagnosis)


class FakeLog:
    """A log in memory that counts what each read asked for."""

    def __init__(self) -> None:
        self.rows: list[CommandEntry] = []
        self.whole_reads = 0
        self.newer_rows = 0

    def whole(self, limit: int) -> list[CommandEntry]:
        """The last ``limit`` rows."""
        self.whole_reads += 1
        return list(self.rows[-limit:])

    def newer(self, first_id: int) -> list[CommandEntry]:
        """The rows from ``first_id`` on."""
        found = [r for r in self.rows if r.id >= first_id]
        self.newer_rows += len(found)
        return found


def test_later_reads_ask_only_for_the_newest_kept_row_and_those_after_it() -> None:
    """After the first read, each read fetches the newest kept row again plus the new ones."""
    log, memory = FakeLog(), RecentHistory()
    for i in range(1, 51):
        log.rows.append(_entry(i))
        assert memory.read("alice", SINCE, 2000, log.whole, log.newer) == log.rows
    assert log.whole_reads == 1
    assert log.newer_rows == 2 * 49  # each later read: the newest kept row and one new row


def test_a_change_to_the_newest_row_is_seen() -> None:
    """The diagnosis noted on a line's own row after it was read is read on the next line."""
    log, memory = FakeLog(), RecentHistory()
    log.rows += [_entry(1), _entry(2)]
    memory.read("alice", SINCE, 2000, log.whole, log.newer)
    log.rows[-1] = _entry(2, diagnosis="no-volume")
    got = memory.read("alice", SINCE, 2000, log.whole, log.newer)
    assert [e.diagnosis for e in got] == [None, "no-volume"]


def test_a_vanished_newest_row_starts_the_read_over() -> None:
    """If the newest kept row is no longer in the database, everything is read again."""
    log, memory = FakeLog(), RecentHistory()
    log.rows += [_entry(1), _entry(2)]
    memory.read("alice", SINCE, 2000, log.whole, log.newer)
    log.rows = [_entry(1), _entry(3)]
    assert memory.read("alice", SINCE, 2000, log.whole, log.newer) == log.rows
    assert log.whole_reads == 2


def test_the_limit_keeps_only_the_newest_rows() -> None:
    """A learner past the limit gets the newest ``limit`` rows, and a larger limit reads again."""
    log, memory = FakeLog(), RecentHistory()
    for i in range(1, 21):
        log.rows.append(_entry(i))
        assert memory.read("alice", SINCE, 5, log.whole, log.newer) == log.rows[-5:]
    assert memory.size == 5
    assert memory.read("alice", SINCE, 10, log.whole, log.newer) == log.rows[-10:]
    assert log.whole_reads == 2


def test_memory_is_bounded_over_all_learners() -> None:
    """The least recently read learners are dropped first, so no more than the bound is kept."""
    memory = RecentHistory(max_rows=30)
    logs = {name: FakeLog() for name in ("a", "b", "c", "d")}
    for name, log in logs.items():
        log.rows += [_entry(i) for i in range(1, 11)]
        memory.read(name, SINCE, 2000, log.whole, log.newer)
    assert memory.size <= 30
    memory.read("a", SINCE, 2000, logs["a"].whole, logs["a"].newer)
    assert logs["a"].whole_reads == 2  # "a" was the least recently read: dropped


def test_learners_and_lesson_starts_are_kept_apart() -> None:
    """Another learner, or the same learner after restarting a lesson, never share rows."""
    log_a, log_b, memory = FakeLog(), FakeLog(), RecentHistory()
    log_a.rows += [_entry(1, "docker a")]
    log_b.rows += [_entry(2, "docker b")]
    assert memory.read("a", SINCE, 2000, log_a.whole, log_a.newer)[0].text == "docker a"
    assert memory.read("b", SINCE, 2000, log_b.whole, log_b.newer)[0].text == "docker b"
    later = SINCE + timedelta(days=1)
    memory.read("a", later, 2000, log_a.whole, log_a.newer)
    assert log_a.whole_reads == 2
    memory.forget("a")
    assert memory.size == 1


def _log(store: ProgressStore, person: Person, text: str) -> int:
    return store.log(person, kind="docker", text=text, exit_status=0, lesson_id="l",
                     step_id="s", facts={"verb": "ps"})


def test_a_second_replica_sees_every_line_and_diagnosis_of_the_first(database_url: str,
                                                                    store: ProgressStore) -> None:
    """Two stores on one database (two replicas) taking turns read what the other wrote."""
    other = ProgressStore(database_url)
    since = SINCE.replace(tzinfo=None)
    try:
        rng = random.Random(7)  # noqa: S311 - the same turns each run
        for turn in range(40):
            writer, reader = (store, other) if rng.random() < 0.5 else (other, store)
            entry = _log(writer, ALICE, f"docker ps #{turn}")
            writer.history(ALICE, limit=2000, since=since)  # the writer's checks read it
            writer.note_diagnosis(entry, found="state", diagnosis=f"d{turn}", said="s")
            _log(writer, BOB, f"docker ps bob #{turn}")
            seen = reader.history(ALICE, limit=2000, since=since)
            assert [e.text for e in seen] == [f"docker ps #{t}" for t in range(turn + 1)]
            assert seen[-1].diagnosis == f"d{turn}"
            assert (seen[-1].facts or {}).get("found") == "state"
            assert seen == store.history_of(ALICE.key, limit=2000, since=since, kind="docker")
        assert store._recent.size > 0 and other._recent.size > 0  # both read from memory
    finally:
        other.close()


def _statements(store: ProgressStore) -> list[str]:
    seen: list[str] = []
    sqlalchemy.event.listen(store.engine, "before_cursor_execute",
                            lambda *args: seen.append(str(args[2]).split()[0].upper()))
    return seen


def test_noting_a_diagnosis_on_a_row_this_process_wrote_reads_nothing(
        database_url: str, store: ProgressStore) -> None:
    """The line's own row is updated in one statement, its facts kept and added to."""
    entry = _log(store, ALICE, "docker ps")
    seen = _statements(store)
    store.note_diagnosis(entry, found="no-volume", diagnosis="no-volume", said="Start over")
    assert seen == ["UPDATE"]
    store.note_diagnosis(entry, found="again")
    assert seen == ["UPDATE", "UPDATE"]
    (row,) = store.history(ALICE)
    assert row.facts == {"verb": "ps", "found": "again", "said": "Start over"}
    assert row.diagnosis == "no-volume"


def test_noting_a_diagnosis_on_another_processs_row_reads_it_first(
        database_url: str, store: ProgressStore) -> None:
    """A row another store wrote is read before its facts are added to, so none are lost."""
    other = ProgressStore(database_url)
    try:
        entry = _log(other, ALICE, "docker ps")
        seen = _statements(store)
        store.note_diagnosis(entry, found="x")
        assert seen == ["SELECT", "UPDATE"]
        (row,) = other.history(ALICE)
        assert row.facts == {"verb": "ps", "found": "x"}
    finally:
        other.close()
