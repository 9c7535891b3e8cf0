"""Benchmarks of docker-tutor: ``python -m bench`` (``make bench``) runs them all.

Every module ``bench/bench_<name>.py`` is a benchmark suite. It defines::

    def run(session: bench.BenchSession) -> None: ...

and records its figures into the shared results table with ``session.time(...)`` (a
function timed over several runs; the median is reported), ``session.record(...)`` (a
one-off duration, e.g. seeding) or by appending a :class:`Measurement` to
``session.results``, plus free-form ``session.note(...)`` lines. ``__main__`` discovers
the modules and runs them in name order. Adding a suite is adding a file: nothing needs
registering by hand.

Results are kept per suite in ``bench/results.json`` and rendered to
``bench/results.md``: running one suite (``--only NAME``) replaces that suite's rows
and keeps the others', so one table holds every suite's latest figures. A suite that
raises is recorded as failed (with the error) and the others still run.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import pkgutil
import platform
import resource
import sqlite3
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PACKAGE_DIR = Path(__file__).resolve().parent
RESULTS_FILE = PACKAGE_DIR / "results.md"
PREFIX = "bench_"


@dataclass
class Measurement:
    """One row of the results table.

    Attributes:
        suite: The suite (module name without ``bench_``).
        name: What was measured.
        seconds: The duration of each timed run.
        target_ms: An optional goal; the table says whether the median met it.
        peak_kib: Peak Python heap of one run (tracemalloc), if measured.
        notes: A short remark for the table.
    """

    suite: str
    name: str
    seconds: list[float]
    target_ms: float | None = None
    peak_kib: float | None = None
    notes: str = ""

    @property
    def median_ms(self) -> float:
        """The median duration in milliseconds."""
        return statistics.median(self.seconds) * 1000

    @property
    def min_ms(self) -> float:
        """The fastest run in milliseconds."""
        return min(self.seconds) * 1000

    @property
    def max_ms(self) -> float:
        """The slowest run in milliseconds."""
        return max(self.seconds) * 1000


@dataclass
class SuiteRun:
    """One suite's latest run: where, when, its measurements and notes.

    Attributes:
        suite: The suite's name.
        started: When it ran (ISO 8601, UTC).
        seconds: How long the whole suite took.
        quick: Whether it ran on small data.
        machine: Python, SQLite, CPU and database it ran with.
        peak_rss_mib: The process's peak RSS when the suite ended.
        error: The exception that ended it, if it failed.
        measurements: Its rows.
        notes: Its free-form lines.
    """

    suite: str
    started: str
    seconds: float
    quick: bool
    machine: str
    peak_rss_mib: float
    error: str | None = None
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SuiteRun:
        """Read a run written by :func:`save`."""
        measurements = [Measurement(**m) for m in data.pop("measurements", [])]
        return cls(**data, measurements=measurements)


@dataclass
class BenchSession:
    """What every suite gets: options, a scratch folder and the shared results.

    Attributes:
        scratch: A folder the suite may fill (removed by ``__main__`` afterwards).
        quick: Small data sets, for a smoke test; the figures then mean little.
        database_url: A database to benchmark on instead of a scratch SQLite file.
        runs: Timed runs per measurement.
        results: Every measurement so far (all suites).
        notes: Free-form lines by suite.
        suite: The suite now running (set by :func:`run_suite`).
    """

    scratch: Path
    quick: bool = False
    database_url: str | None = None
    runs: int = 7
    results: list[Measurement] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    suite: str = ""

    def time(
        self,
        name: str,
        fn: Callable[[], T],
        *,
        runs: int | None = None,
        warmup: int = 1,
        target_ms: float | None = None,
        memory: bool = True,
        notes: str = "",
    ) -> T:
        """Time ``fn`` over several runs (after ``warmup`` untimed ones) and record it.

        With ``memory``, one more run under tracemalloc records the peak Python heap.
        Each timed run starts after a full garbage collection, except in quick mode: there
        the figures mean little, a collection of a large heap (a test process's) can cost
        more than the run, and ``--runs`` caps the runs a suite asks for.

        Returns:
            What the last run of ``fn`` returned, so the suite can check it.
        """
        for _ in range(warmup):
            fn()
        seconds = []
        result = None
        count = max(runs or self.runs, 1)
        if self.quick:
            count = min(count, max(self.runs, 1))
        for _ in range(count):
            self._collect()
            start = time.perf_counter()
            result = fn()
            seconds.append(time.perf_counter() - start)
        peak = None
        if memory:
            self._collect()
            tracemalloc.start()
            try:
                fn()
                peak = tracemalloc.get_traced_memory()[1] / 1024
            finally:
                tracemalloc.stop()
        self.results.append(Measurement(self.suite, name, seconds, target_ms, peak, notes))
        return result  # type: ignore[return-value]

    def _collect(self) -> None:
        """Collect garbage before a timed run, so no earlier run's garbage is collected in it."""
        if not self.quick:
            gc.collect()

    def record(self, name: str, seconds: float, *, notes: str = "") -> None:
        """Record a one-off duration (seeding, building) measured by the suite itself."""
        self.results.append(Measurement(self.suite, name, [seconds], notes=notes))

    def note(self, text: str) -> None:
        """Add a line under the suite's heading in the results file."""
        self.notes.setdefault(self.suite, []).append(text)


def discover() -> list[str]:
    """The names of every suite (``bench_<name>.py`` gives ``<name>``), sorted."""
    return sorted(
        info.name.removeprefix(PREFIX)
        for info in pkgutil.iter_modules([str(PACKAGE_DIR)])
        if info.name.startswith(PREFIX)
    )


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine(database_url: str | None) -> str:
    """A one-line description of what the figures were measured on."""
    database = database_url.split("://", 1)[0] if database_url else "SQLite file"
    return (f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"{platform.machine()} x {os.cpu_count() or 1} cores, database: {database}")


def run_suite(session: BenchSession, name: str) -> SuiteRun:
    """Import ``bench.bench_<name>`` and run it; a failure is recorded, not raised."""
    from datetime import UTC, datetime

    session.suite = name
    started = datetime.now(UTC)
    clock = time.perf_counter()
    error = None
    try:
        module = importlib.import_module(f"{__name__}.{PREFIX}{name}")
        module.run(session)
    except Exception as exc:  # one broken suite must not hide the others
        error = f"{exc.__class__.__name__}: {exc}"
    return SuiteRun(
        suite=name,
        started=started.strftime("%Y-%m-%d %H:%M UTC"),
        seconds=time.perf_counter() - clock,
        quick=session.quick,
        machine=machine(session.database_url),
        peak_rss_mib=peak_rss_mib(),
        error=error,
        measurements=[m for m in session.results if m.suite == name],
        notes=list(session.notes.get(name, [])),
    )


def load(path: Path) -> dict[str, SuiteRun]:
    """The suites' latest runs kept in ``path`` (JSON), or none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: SuiteRun.from_json(run) for name, run in data.items()}
    except (OSError, ValueError, TypeError):
        return {}


def save(path: Path, runs: dict[str, SuiteRun]) -> None:
    """Keep the suites' latest runs in ``path`` (JSON)."""
    data = {name: asdict(run) for name, run in sorted(runs.items())}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "" if value is None else format(value, spec)


def render(runs: dict[str, SuiteRun]) -> str:
    """Every suite's latest figures as Markdown: one table, then each suite's notes."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` (`make bench`). Each suite keeps its latest run; see its",
        "heading below for when and on what it ran. Times are the median of the timed runs",
        "(min and max beside it) after one warm-up run; peak heap is tracemalloc's peak for one",
        "extra run (Python objects only).",
        "",
        "| suite | measurement | median ms | min ms | max ms | runs | target ms | met | peak heap KiB "
        "| notes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for run in sorted(runs.values(), key=lambda r: r.suite):
        if run.error:
            lines.append(f"| {run.suite} | **failed** |  |  |  |  |  |  |  | see below |")
        for m in run.measurements:
            met = "" if m.target_ms is None else ("yes" if m.median_ms <= m.target_ms else "**no**")
            lines.append(
                f"| {m.suite} | {m.name} | {m.median_ms:.1f} | {m.min_ms:.1f} | {m.max_ms:.1f} "
                f"| {len(m.seconds)} | {_fmt(m.target_ms, '.0f')} | {met} | {_fmt(m.peak_kib, '.0f')} "
                f"| {m.notes} |"
            )
    for run in sorted(runs.values(), key=lambda r: r.suite):
        quick = " (quick mode: small data, figures not meaningful)" if run.quick else ""
        lines += ["", f"## {run.suite}", "",
                  f"Ran {run.started} in {run.seconds:.0f} s{quick}; {run.machine}; "
                  f"peak RSS {run.peak_rss_mib:.0f} MiB.", ""]
        if run.error:
            lines.append(f"- **Failed**: {run.error}")
        lines += [f"- {note}" for note in run.notes]
    return "\n".join(lines) + "\n"


__all__ = [
    "RESULTS_FILE",
    "BenchSession",
    "Measurement",
    "SuiteRun",
    "discover",
    "load",
    "machine",
    "peak_rss_mib",
    "render",
    "run_suite",
    "save",
]
