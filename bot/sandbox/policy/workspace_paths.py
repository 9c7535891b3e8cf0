"""The rules for a learner's workspace paths and ``edit`` text, checked before the engine.

The tutor word ``edit FILE TEXT`` stands in for the learner's editor on the "host". The
workspace itself is a volume in the engine (:mod:`bot.sandbox.workspace.volume` writes
and reads it); nothing here touches a file.
"""

from __future__ import annotations

import errno
import os
import re
import stat

from bot.errors import UsageError
from bot.printable import describe_char, first_unsafe

MAX_EDIT_CHARS = 4000
"""The most text one ``edit`` may write."""

MAX_DEPTH = 5
"""The deepest folder an ``edit`` may write into."""

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_SAFE = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | _SAFE


def _regular(fd: int) -> int:
    """``fd`` if it is a regular file; otherwise close it and raise (a FIFO, a device)."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    return fd


def clean_path(raw: str) -> str:
    """A learner's file path as a relative path inside the workspace.

    ``notes.txt``, ``./notes.txt``, ``$(pwd)/notes.txt`` and ``src/app.py`` are fine;
    absolute paths, ``..``, hidden names (but ``.dockerignore``, which a build reads) and
    odd characters are refused.

    Raises:
        UsageError: With the reason, for the learner.
    """
    text = raw.strip()
    for prefix in ("$(pwd)/", "${PWD}/", "$PWD/", "./"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    if not text or text.startswith("/") or text.startswith("~"):
        raise UsageError(
            f"`edit` writes files in your workspace (`$(pwd)`), so give a path inside it, "
            f"like `notes.txt` (not {raw!r})."
        )
    parts = [p for p in text.split("/") if p not in ("", ".")]
    bad = next((p for p in parts if not _PART.match(p) and p != ".dockerignore"), None)
    if bad is not None or not parts:
        raise UsageError(
            f"`edit`: {bad or raw!r} is not a file name I can write: use letters, digits, "
            "`_`, `-` and `.` (not `..`, and not starting with a dot)."
        )
    if len(parts) > MAX_DEPTH:
        raise UsageError(f"`edit`: that path is more than {MAX_DEPTH} folders deep.")
    return "/".join(parts)


def check_text(text: str) -> str:
    """The text of an ``edit``, or refuse it: at most :data:`MAX_EDIT_CHARS`, plain text.

    Control characters other than newline and tab (``ESC``, ``NUL``), bytes that were
    not UTF-8 and bidirectional overrides are refused: such text could not be written
    as UTF-8, and would later reach an instructor's terminal raw.

    Raises:
        UsageError: With the reason, for the learner.
    """
    if len(text) > MAX_EDIT_CHARS:
        raise UsageError(f"`edit` takes at most {MAX_EDIT_CHARS} characters of text.")
    bad = first_unsafe(text)
    if bad is not None:
        raise UsageError(f"`edit` writes plain text; the text holds a control character "
                         f"({describe_char(bad)}).")
    return text
