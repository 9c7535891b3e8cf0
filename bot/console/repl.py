"""The terminal console: the same tutor, one line at a time.

Each line is what a learner would type after ``/tutor`` (``start``, ``next``, ...) or a
``docker ...`` command. With piped input (no TTY) it prints plain text (no markup, no
escape codes) and exits at end of input, so a whole lesson can be scripted; in a script
``reset`` goes on without asking. In a terminal, replies are styled (bold, code, tables,
via rich, loaded behind the prompt) and ``reset`` first asks for ``yes``.

In a terminal the prompt comes first: the tutor service (database, lessons, engine
client, and the imports they need) is built by a :class:`ServiceStartup` on a background
thread while the learner reads the prompt and types, and the first line waits for it.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.console.exports import save_parts
from bot.console.render import render, render_error
from bot.errors import TutorError
from bot.identity import Person
from bot.printable import printable
from bot.reply import Reply
from bot.service import TutorService

BANNER = (
    "docker-tutor console. Type `start` to begin, `help` for the words I know, "
    "`quit` to leave."
)

CONFIRM_RESET = "Type yes to go on: "
"""The question after the tutor's ``reset ?`` description, in a terminal."""

RESET_KEPT = "Nothing was removed."


class Screen:
    """Where answers go: styled for a terminal (rich, loaded lazily), plain text otherwise.

    Args:
        stdout: The output stream.
        styled: Style replies (a terminal on both ends); plain text when ``False``.
        out_dir: Where a reply's files and pictures are written (default: the current
            directory), see :func:`bot.console.exports.save_parts`.
    """

    def __init__(self, stdout: TextIO, *, styled: bool, out_dir: Path | None = None) -> None:
        self.stdout = stdout
        self.styled = styled
        self.out_dir = out_dir
        self.color = styled and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        self._preload: threading.Thread | None = None

    def preload(self) -> None:
        """Import the terminal renderer on a background thread (the prompt is already shown)."""
        if self.styled and self._preload is None:
            from bot.console import render as render_text
            self._preload = threading.Thread(target=render_text.preload, name="rich-preload",
                                             daemon=True)
            self._preload.start()

    def banner(self) -> str:
        """:data:`BANNER` for this screen, without rich (it shows before rich is loaded)."""
        if not self.styled:
            return BANNER
        code = "\x1b[1;36m\\1\x1b[0m" if self.color else "\\1"
        return re.sub(r"`([^`]+)`", code, BANNER)

    def _width(self) -> int:
        return shutil.get_terminal_size(fallback=(80, 24)).columns

    def show(self, reply: Reply) -> None:
        """Write a reply, its files and pictures written to :attr:`out_dir` first."""
        reply = save_parts(reply, self.out_dir or Path.cwd())
        if self.styled:
            from bot.console.render import render_styled

            text = render_styled(reply, self._width(), color=self.color)
        else:
            text = render(reply)
        if text:
            print(text, file=self.stdout)
        self.stdout.flush()

    def error(self, error: TutorError) -> None:
        """Write a tutor error (one or two lines)."""
        if self.styled:
            from bot.console.render import render_styled_error

            text = render_styled_error(error, self._width(), color=self.color)
        else:
            text = render_error(error)
        print(text, file=self.stdout)
        self.stdout.flush()


class ServiceStartup:
    """Builds the tutor service once, on a background thread, and hands it out when ready.

    Args:
        build: Makes the service (``lambda: build_service(settings)``); it may raise a
            :class:`~bot.errors.TutorError` (a database that will not open), which
            :meth:`get` raises in the caller's thread.
    """

    def __init__(self, build: Callable[[], TutorService]) -> None:
        self._build = build
        self._service: TutorService | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start building in the background (a second call does nothing)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tutor-startup",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            self._service = self._build()
        except BaseException as exc:  # handed to the caller of get(), in its thread
            self._error = exc

    def get(self) -> TutorService:
        """The service, waiting for it to be built (building it now if not started).

        Raises:
            TutorError: It could not be built (whatever ``build`` raised is raised here).
        """
        self.start()
        assert self._thread is not None  # noqa: S101 - start() made it
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._service is not None  # noqa: S101 - built, or the error was raised
        return self._service

    def close(self) -> None:
        """Wait for a build in progress, then close the service if one was built."""
        if self._thread is not None:
            self._thread.join()
        if self._service is not None:
            self._service.close()
            self._service = None


def run_console(
    tutor: TutorService | ServiceStartup,
    user: str,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    out_dir: Path | None = None,
) -> int:
    """Read lines from ``stdin`` until it ends (or ``quit``); answer each on ``stdout``.

    Args:
        tutor: The tutor service, or its startup (built once the first prompt is shown).
        user: The console user's name.
        stdin: Where lines come from (default ``sys.stdin``).
        stdout: Where answers go (default ``sys.stdout``).
        out_dir: Where exports and charts are written (default: the current directory).

    Returns:
        The exit status: 0.

    Raises:
        TutorError: The service could not be built (a database that will not open).
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    person = Person("console", user, user)
    interactive = stdin.isatty()
    screen = Screen(stdout, styled=interactive and stdout.isatty(), out_dir=out_dir)
    startup = tutor if isinstance(tutor, ServiceStartup) else None
    service = None if isinstance(tutor, ServiceStartup) else tutor
    if startup is not None and not interactive:
        service = startup.get()  # a script has no prompt to show first
    if interactive:
        print(screen.banner(), file=stdout)
    while True:
        if interactive:
            stdout.write(f"{user}> ")
            stdout.flush()
            if service is None and startup is not None:
                startup.start()  # the prompt is on screen: build while the learner types
            screen.preload()
        line = stdin.readline()
        if not line:
            break
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line in ("quit", "exit"):
            break
        line = _heredoc(line, stdin, stdout if interactive else None)
        if not interactive:
            print(f"> {printable(line)}", file=stdout)
        if service is None and startup is not None:
            service = startup.get()
        assert service is not None  # noqa: S101 - given, or built just above
        try:
            if interactive and line.lower() == "reset" and not _confirmed(service, person, screen,
                                                                          stdin):
                continue
            screen.show(service.handle(person, line))
        except TutorError as error:
            screen.error(error)
    return 0


_HEREDOC = re.compile(r"^(edit\s+\S+)\s+<<-?\s*'?([A-Za-z_][A-Za-z0-9_]*)'?$")
"""``edit FILE <<EOF``: the lines that follow, up to ``EOF``, are the file's text."""


def _heredoc(line: str, stdin: TextIO, prompt: TextIO | None) -> str:
    """``edit FILE <<EOF`` and the lines up to ``EOF`` as one ``edit FILE TEXT`` (several lines).

    A Dockerfile takes several lines; the console reads them as a shell heredoc does.
    Other lines are returned as they are.
    """
    match = _HEREDOC.match(line)
    if match is None:
        return line
    head, end = match.groups()
    body: list[str] = []
    while True:
        if prompt is not None:
            prompt.write("... ")
            prompt.flush()
        more = stdin.readline()
        if not more or more.rstrip("\r\n") == end:
            break
        body.append(more.rstrip("\r\n"))
    return f"{head} " + "\n".join(body)


def _confirmed(service: TutorService, person: Person, screen: Screen, stdin: TextIO) -> bool:
    """In a terminal, say what ``reset`` removes and go on only if the learner types ``yes``.

    Raises:
        TutorError: The tutor could not say what would be removed.
    """
    screen.show(service.handle(person, "reset ?"))
    screen.stdout.write(CONFIRM_RESET)
    screen.stdout.flush()
    if stdin.readline().strip().lower() == "yes":
        return True
    print(RESET_KEPT, file=screen.stdout)
    screen.stdout.flush()
    return False


__all__ = ["BANNER", "CONFIRM_RESET", "RESET_KEPT", "Screen", "ServiceStartup", "run_console"]
