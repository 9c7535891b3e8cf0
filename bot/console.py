"""The terminal console: the same tutor, one line at a time.

Each line is what a learner would type after ``/tutor`` (``start``, ``next``, ...) or a
``docker ...`` command. With piped input (no TTY) it prints plain text and exits at end
of input, so a whole lesson can be scripted.

In a terminal the prompt comes first: the tutor service (database, lessons, engine
client, and the imports they need) is built by a :class:`ServiceStartup` on a background
thread while the learner reads the prompt and types, and the first line waits for it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TextIO

from bot.errors import TutorError
from bot.identity import Person
from bot.render_text import render, render_error
from bot.service import TutorService

BANNER = (
    "docker-tutor console. Type `start` to begin, `help` for the words I know, "
    "`quit` to leave."
)


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
) -> int:
    """Read lines from ``stdin`` until it ends (or ``quit``); answer each on ``stdout``.

    Args:
        tutor: The tutor service, or its startup (built once the first prompt is shown).
        user: The console user's name.
        stdin: Where lines come from (default ``sys.stdin``).
        stdout: Where answers go (default ``sys.stdout``).

    Returns:
        The exit status: 0.

    Raises:
        TutorError: The service could not be built (a database that will not open).
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    person = Person("console", user, user)
    interactive = stdin.isatty()
    startup = tutor if isinstance(tutor, ServiceStartup) else None
    service = None if isinstance(tutor, ServiceStartup) else tutor
    if startup is not None and not interactive:
        service = startup.get()  # a script has no prompt to show first
    if interactive:
        print(BANNER, file=stdout)
    while True:
        if interactive:
            stdout.write(f"{user}> ")
            stdout.flush()
            if service is None and startup is not None:
                startup.start()  # the prompt is on screen: build while the learner types
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
        if service is None and startup is not None:
            service = startup.get()
        assert service is not None  # noqa: S101 - given, or built just above
        try:
            text = render(service.handle(person, line))
        except TutorError as error:
            text = render_error(error)
        print(text, file=stdout)
        print(file=stdout)
        stdout.flush()
    return 0


__all__ = ["BANNER", "ServiceStartup", "run_console"]
