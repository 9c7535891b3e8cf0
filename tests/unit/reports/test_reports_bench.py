"""The benchmark harness: suites are discovered, run and written to one results table."""

from __future__ import annotations

import random
from pathlib import Path

from bench import BenchSession, Measurement, SuiteRun, discover, load, render, run_suite, save
from bench.__main__ import main
from bench.bench_reports import outline_of, seed
from bot.lessons.model import Catalog
from bot.progress import ProgressStore, lesson_summary
from bot.progress.records import utcnow


def test_suites_are_discovered_from_file_names() -> None:
    """Every bench/bench_*.py module is a suite, found without registering it."""
    assert "reports" in discover()


def test_quick_run_writes_the_results_table_and_keeps_other_suites(tmp_path: Path) -> None:
    """`python -m bench --quick --only reports` times every report and keeps other suites' rows."""
    output = tmp_path / "results.md"
    other = SuiteRun("other", "2026-01-01 00:00 UTC", 1.0, False, "elsewhere", 10.0,
                     measurements=[Measurement("other", "kept row", [0.001])], notes=["kept note"])
    save(output.with_suffix(".json"), {"other": other})
    assert main(["--quick", "--only", "reports", "--runs", "1", "--output", str(output)]) == 0
    text = output.read_text()
    assert "| suite | measurement | median ms |" in text
    for name in ("seed (bulk insert, Core executemany)", "class summary, SQL only",
                 "learner timeline reply", "CSV export, every learner", "funnel chart (PNG)"):
        assert f"| reports | {name} |" in text
    assert "quick mode" in text and "300 learners" in text
    assert "| other | kept row | 1.0 |" in text and "- kept note" in text
    assert set(load(output.with_suffix(".json"))) == {"other", "reports"}


def test_a_failing_suite_is_recorded_not_raised(tmp_path: Path) -> None:
    """A suite that raises is marked failed with its error; the session goes on."""
    session = BenchSession(scratch=tmp_path, runs=1)
    run = run_suite(session, "does_not_exist")
    assert run.error is not None and "ModuleNotFoundError" in run.error
    text = render({"does_not_exist": run})
    assert "| does_not_exist | **failed** |" in text and "- **Failed**: ModuleNotFoundError" in text


def test_render_marks_targets(tmp_path: Path) -> None:
    """A measurement with a target says whether its median met it."""
    session = BenchSession(scratch=tmp_path, runs=1, quick=True)
    session.suite = "demo"
    session.time("fast", lambda: 1, target_ms=10_000, memory=False)
    session.time("slow", lambda: sum(range(10_000)), target_ms=0.0, memory=True)
    session.note("a note")
    run = SuiteRun("demo", "now", 0.1, False, "here", 1.0, measurements=session.results,
                   notes=session.notes["demo"])
    text = render({"demo": run})
    assert "| demo | fast |" in text and "| yes |" in text and "| **no** |" in text
    assert "- a note" in text


def test_seed_is_consistent_with_the_summary(database_url: str, catalog: Catalog) -> None:
    """The bulk seeder writes a class the reports read back with matching totals."""
    store = ProgressStore(database_url)
    try:
        outline = outline_of(catalog.get("data-persistence"))
        seeded = seed(store, outline, learners=50, commands=500, now=utcnow(), rng=random.Random(3))  # noqa: S311
        summary = lesson_summary(store, outline)
        assert summary.started == seeded.lesson_rows == 50
        assert summary.challenge_completions == summary.finished == seeded.challenge_rows
        assert sum(summary.step_completions.values()) == seeded.completed_steps
    finally:
        store.close()


def test_the_dashboard_bench_runs_quick(tmp_path: Path) -> None:
    """`python -m bench --quick --only dashboard` seeds a class and times its live view."""
    output = tmp_path / "results.md"
    assert main(["--quick", "--only", "dashboard", "--runs", "1", "--output", str(output)]) == 0
    text = output.read_text()
    assert "| dashboard | dashboard refresh of 40 learners (figures + HTML) |" in text
    assert "| dashboard | live figures, SQL only |" in text
