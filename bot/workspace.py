"""Files in a learner's workspace (the folder ``$(pwd)`` binds), written and read safely.

The tutor word ``edit FILE TEXT`` stands in for the learner's editor on the "host". A
learner's container can change the workspace too (a bind mount works both ways), so it
could plant a symbolic link there pointing anywhere on the sandbox host. Every path is
therefore opened one component at a time with ``O_NOFOLLOW`` relative to the workspace:
no link is ever followed, and nothing outside the workspace can be reached.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from contextlib import suppress
from pathlib import Path

from bot.errors import UsageError
from bot.text import describe_char, first_unsafe

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
    absolute paths, ``..``, hidden names and odd characters are refused.

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
    bad = next((p for p in parts if not _PART.match(p)), None)
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


def _open_folder(root: Path, parts: list[str], *, create: bool) -> int:
    """A descriptor of ``root/parts...``, following no links; create folders if asked."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts:
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_file(root: Path, path: str, text: str) -> int:
    """Write ``text`` (plus a final newline) to ``root/path``; return the bytes written.

    Args:
        root: The workspace folder.
        path: A path from :func:`clean_path`.
        text: The new content of the file.

    Raises:
        UsageError: The text is too long, or the path runs into a link, a folder where
            a file should be, or another file-system obstacle.
    """
    check_text(text)
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    *folders, name = path.split("/")
    root.mkdir(parents=True, exist_ok=True)
    try:
        dir_fd = _open_folder(root, folders, create=True)
        try:
            fd = _regular(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _SAFE, 0o644,
                                  dir_fd=dir_fd))
        finally:
            os.close(dir_fd)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise UsageError(
            f"`edit` could not write `{path}` in your workspace ({reason}). A link or a "
            "folder may be in the way; pick another name."
        ) from None
    return len(data)


def read_file(root: Path, path: str, limit: int = 64 * 1024) -> str | None:
    """The text of ``root/path`` (at most ``limit`` bytes), or ``None`` if unreadable.

    Links are never followed, so a link planted by a container reads as ``None``.
    """
    *folders, name = path.split("/")
    try:
        dir_fd = _open_folder(root, folders, create=False)
        try:
            fd = _regular(os.open(name, os.O_RDONLY | _SAFE, dir_fd=dir_fd))
        finally:
            os.close(dir_fd)
        with os.fdopen(fd, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return None
