"""`docker-tutor lessons validate`: every problem of a lesson, with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.lessons.toml_lines import Locator
from bot.lessons.validate import validate_lesson, validate_path
from tests.paths import REPO_ROOT, TEST_DATA

ROOT = REPO_ROOT
DATA = TEST_DATA
BROKEN = DATA / "broken-lesson"
TOML = BROKEN / "lesson.toml"

EXPECTED = [
    (BROKEN / "empty.md", 1, "the Markdown file is empty"),
    (TOML, 3, "'id' 'Broken Lesson' must be lower-case"),
    (TOML, 5, "'number' must be a whole number"),
    (TOML, 7, "unknown key 'colour'"),
    (TOML, 12, "file 'missing.md' does not exist"),
    (TOML, 15, "duplicate step id 'intro' (also step 1)"),
    (TOML, 18, "4 hints; a step has at most 3"),
    (TOML, 20, "the sandbox refuses `docker run --privileged busybox`"),
    (TOML, 21, "image 'nginx' is not in the lesson's images"),
    (TOML, 22, "'frobnicate now' is neither a `docker ...` command nor a tutor word"),
    (TOML, 24, "unknown key 'soluton'"),
    (TOML, 27, "unknown check type 'container_exist'"),
    (TOML, 30, "check 'mount_at' needs parameter 'target'"),
    (TOML, 32, "'container' must be a str"),
    (TOML, 37, "'target' must be an absolute path"),
    (TOML, 38, "'kind' must be one of volume, bind, tmpfs (got 'nfs')"),
    (TOML, 43, "check 'volume_exists' has no parameter 'size'"),
    (TOML, 46, "no check of this step reports the state 'volume-gone'"),
    (TOML, 49, "state hint 2: missing 'state'"),
    (TOML, 60, "'choices' must be a list of 2 to 6 strings"),
    (TOML, 64, "duplicate question id 'q1'"),
    (TOML, 67, "'answer' is 3, but there are 2 choices"),
    (TOML, 68, "'feedback' must be a list of strings, one per choice (2)"),
    (TOML, 70, "a hands-on step needs a 'solution'"),
    (TOML, 79, "'quiz_answered' is added by the tutor itself"),
    (TOML, 87, "solution line 1: `edit`: '..' is not a file name"),
    (TOML, 87, "has a solution but nothing to check"),
    (TOML, 88, "'challenge' must be true or false"),
]


def test_the_shipped_lessons_are_valid() -> None:
    """Every lesson under `lessons/` validates without a single problem."""
    folders, problems = validate_path(ROOT / "lessons")
    names = [f.name for f in folders]
    assert problems == [] and {"01-containers", "02-images", "04-data-persistence"} <= set(names)


def test_the_broken_lesson_gets_every_error_with_file_and_line() -> None:
    """Each deliberate mistake in tests/data/broken-lesson is reported, at its exact line."""
    problems = validate_lesson(BROKEN)
    found = [(p.file, p.line, p.message) for p in problems]
    assert len(found) == len(EXPECTED), "\n".join(str(p) for p in problems)
    for (file, line, message), (want_file, want_line, snippet) in zip(found, EXPECTED, strict=True):
        assert (file, line) == (want_file, want_line) and snippet in message, (file, line, message)


def test_the_lines_point_at_what_they_name() -> None:
    """The reported line really holds the key or table the message is about."""
    lines = TOML.read_text().splitlines()
    assert lines[27 - 1] == 'type = "container_exist"'
    assert lines[30 - 1] == "[[steps.checks]]"
    assert lines[38 - 1] == 'kind = "nfs"'
    assert lines[67 - 1] == "answer = 3"


def test_a_toml_syntax_error_has_its_line() -> None:
    """A TOML syntax error is reported at the line the parser stopped on."""
    [problem] = validate_lesson(DATA / "syntax-lesson")
    assert problem.line == 5 and "not valid TOML" in problem.message


def test_the_locator_follows_arrays_of_tables_and_multiline_values() -> None:
    """Keys inside multi-line arrays and strings are not mistaken for keys of the table."""
    text = '''id = "x"
[[steps]]
id = "a"
hints = [
  "b = c",
]
text = """
fake = 1
"""
[[steps.checks]]
type = "t"
[[steps]]
id = "b"
[[steps.checks]]
type = "u"
name = "n"
'''
    at = Locator(text)
    assert at.key((), "id") == 1
    assert at.key(("steps", 0), "hints") == 4 and at.item(("steps", 0), "hints", "b = c") == 5
    assert ("steps", 0, "fake") not in at.keys
    assert at.key(("steps", 0, "checks", 0), "type") == 11
    assert at.table(("steps", 1)) == 12
    assert at.key(("steps", 1, "checks", 0), "name") == 16
    assert at.key(("steps", 1, "checks", 0), "missing") == 14


def test_the_cli_prints_file_and_line_and_exits_non_zero(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lessons validate PATH` prints FILE:LINE: message per problem and exits 1."""
    monkeypatch.chdir(ROOT)
    assert main(["lessons", "validate", "tests/data/broken-lesson"]) == 1
    out = capsys.readouterr()
    assert "tests/data/broken-lesson/lesson.toml:27: step 2 'intro', check 1: unknown check type" in out.out
    assert len(out.out.splitlines()) == len(EXPECTED)
    assert "28 problem(s) in 1 lesson(s)" in out.err
    assert main(["lessons", "validate", "lessons/04-data-persistence/lesson.toml"]) == 0
    assert "OK: 1 lesson(s) valid" in capsys.readouterr().out
    assert main(["lessons", "validate", "tests/data/nothing-here"]) == 1
    assert "no lesson.toml" in capsys.readouterr().err


PROSE_TOML = '''id = "prose"
title = "Prose"
images = ["busybox"]

[[steps]]
id = "one"
title = "One"
file = "one.md"
solution = ["docker run -d --name box busybox sleep 60"]

[[steps.checks]]
type = "container_exists"
name = "box"
'''

PROSE_MD = """## One

**Try it**
1. `docker run -d --name box busybox sleep 60`
2. `docker exec box cat /etc/hostname`

Step 2 prints the host name. Step 3 prints `nothing`.
Then `docker run --privileged busybox` would be refused; `docker rm -f` is a mention.
"""


def test_the_prose_keeps_its_promises(tmp_path: Path) -> None:
    """A Try-it command missing from the solution, a claim about no command, a refused quote."""
    (tmp_path / "lesson.toml").write_text(PROSE_TOML)
    (tmp_path / "one.md").write_text(PROSE_MD)
    found = [(p.file.name, p.line, p.message) for p in validate_lesson(tmp_path)]
    assert len(found) == 3, found
    assert found[0][:2] == ("one.md", 5) and "Try it item 2" in found[0][2]
    assert found[1][:2] == ("one.md", 7) and "what step 3 prints" in found[1][2]
    assert found[2][:2] == ("one.md", 8) and "refuses `docker run --privileged busybox`" in found[2][2]
