"""The terminal console: the same tutor, one line at a time.

Each line is what a learner would type after ``/tutor`` (``start``, ``next``, ...) or a
``docker ...`` command. With piped input (no TTY) it prints plain text and exits at end
of input, so a whole lesson can be scripted.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.errors import TutorError
from bot.identity import Person
from bot.render_text import render, render_error
from bot.tutor import Tutor

BANNER = (
    "docker-tutor console. Type `start` to begin, `help` for the words I know, "
    "`quit` to leave."
)


def run_console(
    tutor: Tutor,
    user: str,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Read lines from ``stdin`` until it ends (or ``quit``); answer each on ``stdout``.

    Returns:
        The exit status: 0.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    person = Person("console", user, user)
    interactive = stdin.isatty()
    if interactive:
        print(BANNER, file=stdout)
    while True:
        if interactive:
            stdout.write(f"{user}> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line in ("quit", "exit"):
            break
        if not interactive:
            print(f"> {line}", file=stdout)
        try:
            text = render(tutor.handle(person, line))
        except TutorError as error:
            text = render_error(error)
        print(text, file=stdout)
        print(file=stdout)
        stdout.flush()
    return 0
