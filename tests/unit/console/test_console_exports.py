"""The console writes `progress export` and the chart as real files and prints their paths."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from bot.console.exports import free_path, safe_name, save_parts
from bot.console.render import render
from bot.console.repl import run_console
from bot.reply import Context, File, Image, Notice, Reply
from bot.reports.exports import CSV_COLUMNS
from bot.tutor.core import Tutor

WRITTEN = re.compile(r"written to `([^`]+)` \((\d+) bytes\)")


def _console(tutor: Tutor, user: str, lines: list[str], out_dir: Path | None) -> str:
    out = io.StringIO()
    stdin = io.StringIO("\n".join(lines) + "\n")
    assert run_console(tutor, user, stdin=stdin, stdout=out, out_dir=out_dir) == 0
    return out.getvalue()


def test_progress_export_writes_the_csv_it_announces(tutor_no_engine: Tutor,
                                                    tmp_path: Path) -> None:
    """`progress export` at the console: a CSV in --out, its path printed, one row per learner."""
    _console(tutor_no_engine, "ada", ["start data-persistence"], None)
    _console(tutor_no_engine, "grace", ["start data-persistence", "next"], None)
    out_dir = tmp_path / "exports"
    output = _console(tutor_no_engine, "teacher", ["progress export"], out_dir)
    [(path, size)] = WRITTEN.findall(output)
    written = Path(path)
    assert written.parent == out_dir.resolve()
    assert re.fullmatch(r"class-progress-\d{8}-\d{4}\.csv", written.name)
    assert written.stat().st_size == int(size)
    rows = list(csv.DictReader(written.read_text(encoding="utf-8").splitlines()))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert sorted((row["learner_key"], row["current_step_number"]) for row in rows) == [
        ("console:ada", "1"), ("console:grace", "2")]
    assert "[file:" not in output


def test_the_chart_is_written_as_a_png_in_the_current_directory(
        tutor_no_engine: Tutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`progress` at the console: each funnel chart is a PNG file here, its path printed."""
    monkeypatch.chdir(tmp_path)
    _console(tutor_no_engine, "ada", ["start data-persistence"], None)
    output = _console(tutor_no_engine, "teacher", ["progress", "progress"], None)
    found = WRITTEN.findall(output)
    assert [Path(path).name for path, _ in found] == [
        "completion-funnel-data-persistence.png", "completion-funnel-data-persistence-2.png"]
    for path, size in found:
        data = Path(path).read_bytes()
        assert Path(path).parent == tmp_path.resolve()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) == int(size)
    assert "[picture:" not in output


def test_save_parts_never_overwrites_and_keeps_names_in_the_folder(tmp_path: Path) -> None:
    """A taken name gets a number; a name with slashes or dots cannot leave the folder."""
    (tmp_path / "a.csv").write_text("mine")
    reply = Reply().add(Notice("before"), File(b"x,y\n", "a.csv", "A"),
                        File(b"z", "../../etc/passwd", "P"), Image(b"\x89PNG", "My chart"))
    saved = save_parts(reply, tmp_path)
    assert (tmp_path / "a.csv").read_text() == "mine"
    assert (tmp_path / "a-2.csv").read_bytes() == b"x,y\n"
    assert (tmp_path / "etc-passwd").read_bytes() == b"z"
    assert (tmp_path / "my-chart.png").read_bytes() == b"\x89PNG"
    assert [type(part) for part in saved.parts] == [Notice, Context, Context, Context]
    assert render(saved).splitlines()[1] == (
        f"(A: written to `{tmp_path.resolve() / 'a-2.csv'}` (4 bytes).)")
    assert safe_name("..", "export") == "export"
    assert free_path(tmp_path, "b.txt") == tmp_path / "b.txt"


def test_a_folder_that_cannot_be_written_is_said_not_raised(tmp_path: Path) -> None:
    """Writing into a path that is a file: an error line in place of the file, no traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    saved = save_parts(Reply().add(File(b"1", "x.csv", "X")), blocker / "sub")
    [notice] = saved.parts
    assert isinstance(notice, Notice)
    assert render(saved).startswith("\u2718 Could not write `x.csv` in ")
