"""The engine-pool benchmark (bench/bench_pool.py): its figures and its rows in the results table."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from bench import BenchSession, SuiteRun, render
from bench.__main__ import main
from bench.bench_pool import (
    OPTIONS,
    STEP_NAMES,
    ClassRun,
    LearnerRun,
    by_step,
    comparison,
    note,
    percentile,
    rows,
    run,
)
from tests.engines import PARENT, PREFIX, missing


def learner(engine: str, confirmed: bool = True, errors: tuple[str, ...] = (),
            base: float = 0.1) -> LearnerRun:
    """A learner who ran six commands lasting ``base``, 2 x ``base``... one after the other."""
    latencies = [base * (i + 1) for i in range(len(STEP_NAMES))]
    starts = [sum(latencies[:i]) for i in range(len(latencies))]
    return LearnerRun(engine=engine, latencies=latencies, errors=list(errors), confirmed=confirmed,
                      finished=sum(latencies),
                      spans=[(start, start + took) for start, took in zip(starts, latencies, strict=True)])


def test_commands_in_flight_tell_parallel_from_one_at_a_time() -> None:
    """Two learners side by side keep two commands in flight; one after the other keeps one."""
    side_by_side = ClassRun("x", [learner("a"), learner("b")], wall=2.1)
    mean, peak = side_by_side.in_flight()
    assert mean == pytest.approx(2.0) and peak == 2
    second = learner("b")
    second.spans = [(start + 2.1, end + 2.1) for start, end in second.spans]
    in_turn = ClassRun("x", [learner("a"), second], wall=4.2)
    mean, peak = in_turn.in_flight()
    assert mean == pytest.approx(1.0) and peak == 1


def test_percentile_is_nearest_rank() -> None:
    """p50 and p95 pick the nearest-rank values; an empty list gives NaN, not an error."""
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([], 95) != percentile([], 95)  # NaN


def test_rows_and_notes_render_as_well_formed_table_lines(tmp_path: Path) -> None:
    """Each setup gives a latency row and a wall-time row with the counts, in the shared table."""
    hosts = ["unix:///a.sock", "unix:///b.sock"]
    result = ClassRun("tutor, 2 engines",
                      [learner(hosts[0]), learner(hosts[1], confirmed=False,
                                                  errors=("docker rm redis-1: exit 1: busy",))],
                      wall=2.5, client_cpu=1.25, engine_cpu=3.5)
    assert result.per_engine(hosts) == [1, 1]
    assert by_step(result)["stop"] == pytest.approx([0.3, 0.3])
    session = BenchSession(scratch=tmp_path, runs=1, suite="pool")
    session.results.extend(rows(result, "pool"))
    session.note(note(result))
    text = render({"pool": SuiteRun("pool", "now", 3.0, True, "here", 1.0,
                                    measurements=session.results, notes=session.notes["pool"])})
    table = [line for line in text.splitlines() if line.startswith("| pool |")]
    assert len(table) == 2
    header_cells = next(line for line in text.splitlines() if line.startswith("| suite |")).count("|")
    assert all(line.count("|") == header_cells for line in table)  # no stray pipe splits a cell
    latency, wall = table
    assert "| tutor, 2 engines: docker command latency | 350.0 |" in latency
    assert "p95 600 ms over 12 commands; 1/2 confirmed, 1 errors" in latency
    assert "| tutor, 2 engines: whole class wall time | 2500.0 |" in wall
    assert ("- tutor, 2 engines: 1/2 confirmed, 1 errors, command latency p50 350 ms p95 600 ms, "
            "class wall time 2.5 s; commands in flight mean 1.7 peak 2; CPU s: client 1.2, "
            "dockerd 3.5; p50 by command: run redis-1 100") in text
    assert "first error: docker rm redis-1: exit 1: busy" in text


def test_comparison_gives_tutor_to_cli_ratios_per_engine_count() -> None:
    """The ratios line pairs each tutor setup with the CLI on as many engines, and skips a lone one."""
    tutor = ClassRun("tutor, 1 engine", [learner("a")], wall=4.2, engine_cpu=3.0,
                     requests=Counter({"GET /containers/{id}/json": 30}))
    cli = ClassRun("CLI, 1 engine", [learner("a")], wall=2.1, engine_cpu=1.0,
                   requests=Counter({"HEAD /_ping": 20}))
    alone = ClassRun("tutor, 2 engines", [learner("a")], wall=2.1, engine_cpu=1.0)
    assert comparison([tutor, cli, alone]) == (
        "Tutor / CLI: 1 engine: wall 2.00x, dockerd CPU 3.00x, engine requests 30 vs 20 (1.50x), "
        "commands in flight 0.5 vs 1.0")
    assert comparison([alone]) is None


def test_without_root_the_suite_records_why_it_skipped(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where private engines cannot start (not root), the suite notes the reason and measures nothing."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    session = BenchSession(scratch=tmp_path, runs=1, quick=True, suite="pool")
    run(session)
    assert session.results == []
    assert session.notes["pool"] == [
        "skipped: starting an extra dockerd needs root (run the suite as root, as CI does)"]


@pytest.mark.docker
@pytest.mark.slow
def test_quick_run_measures_every_setup_and_leaves_no_engine(tmp_path: Path) -> None:
    """`python -m bench --quick --only pool`: four setups, every learner confirmed, engines gone."""
    reason = missing(OPTIONS[0])
    if reason:
        pytest.skip(reason)
    before = set(PARENT.glob(f"{PREFIX}bpool*"))
    output = tmp_path / "results.md"
    assert main(["--quick", "--only", "pool", "--output", str(output)]) == 0
    text = output.read_text()
    for setup in ("tutor, 1 engine", "tutor, 2 engines", "CLI, 1 engine", "CLI, 2 engines"):
        assert f"| pool | {setup}: docker command latency |" in text
        assert f"| pool | {setup}: whole class wall time |" in text
        assert f"- {setup}: 6/6 confirmed, 0 errors," in text
    assert text.count("learners per engine [3, 3]") == 2
    assert "quick mode" in text and f"this machine's {os.cpu_count()} cores" in text
    assert set(PARENT.glob(f"{PREFIX}bpool*")) == before


def test_request_logs_count_the_engines_debug_lines_after_the_mark(tmp_path: Path) -> None:
    """Only `Calling` lines written after mark() count, by kind, over every engine's log."""
    from types import SimpleNamespace

    from bench.bench_pool import RequestLogs

    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    logs[0].write_text('level=debug msg="Calling HEAD /_ping"\n', encoding="utf-8")
    logs[1].write_text("", encoding="utf-8")
    counted = RequestLogs([SimpleNamespace(log=path) for path in logs])  # type: ignore[misc]
    counted.mark()
    with logs[0].open("a", encoding="utf-8") as log:
        log.write('level=debug msg="Calling GET /v1.41/containers/abc/json"\nother line\n')
    with logs[1].open("a", encoding="utf-8") as log:
        log.write('level=debug msg="Calling GET /v1.41/containers/def/json"\n'
                  'level=debug msg="Calling POST /v1.41/containers/create?name=x"\n')
    assert counted.since() == {"GET /containers/{id}/json": 2, "POST /containers/create": 1}


@pytest.mark.docker
def test_the_logging_proxy_counts_the_clis_requests_by_kind() -> None:
    """`docker ps` through the proxy shows the CLI's ping and its list, and answers as usual."""
    import subprocess

    from bench.engine_proxy import RequestLog

    with RequestLog() as log:
        result = subprocess.run(["docker", "ps", "-q", "--filter", "label=none-such"],
                                env={**os.environ, "DOCKER_HOST": log.docker_host},
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        counted = log.take()
    assert counted["GET /containers/json"] == 1
    assert set(counted) <= {"HEAD /_ping", "GET /_ping", "GET /containers/json"}
