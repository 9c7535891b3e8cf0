"""Files and pictures a reply hands over, written where the console runs.

Slack uploads a reply's :class:`~bot.reply.File` and :class:`~bot.reply.Image` parts (a
``progress export`` CSV, a funnel chart). The console has nowhere to upload them, so
:func:`save_parts` writes each one into a folder (the current directory, or the
console's ``--out DIR``) and puts a line with the written path in its place. A name that
is taken gets a number (``-2``, ``-3``, ...): nothing already there is overwritten.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.reply import Context, File, Image, Notice, Part, Reply, Tone, code_span

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, default: str) -> str:
    """A file name that stays in its folder: letters, digits, ``.``, ``_``, ``-`` only."""
    cleaned = _UNSAFE.sub("-", name).strip(".-")
    return cleaned or default


def free_path(folder: Path, name: str) -> Path:
    """``folder / name``, or ``stem-2.ext``, ``stem-3.ext``... when the name is taken."""
    path = folder / name
    stem, suffix = path.stem, path.suffix
    number = 2
    while path.exists():
        path = folder / f"{stem}-{number}{suffix}"
        number += 1
    return path


def _write(folder: Path, name: str, content: bytes) -> Path:
    """Write ``content`` to a new file in ``folder`` (made if missing); return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        path = free_path(folder, name)
        try:
            with path.open("xb") as handle:  # never over a file made meanwhile
                handle.write(content)
        except FileExistsError:
            continue
        return path.resolve()


def _saved(part: File | Image, folder: Path) -> Part:
    """Write one part; the line that says where it went (or why it could not be written)."""
    if isinstance(part, File):
        name, content, what = safe_name(part.filename, "export"), part.content, part.title
    else:
        name = safe_name(part.title.lower(), "picture") + ".png"
        content, what = part.png, part.title
    try:
        path = _write(folder, name, content)
    except OSError as exc:
        return Notice(f"Could not write {code_span(name)} in {code_span(str(folder))}: "
                      f"{exc.strerror or exc.__class__.__name__}.", Tone.ERROR)
    return Context(f"{what}: written to {code_span(str(path))} ({len(content)} bytes).")


def save_parts(reply: Reply, folder: Path) -> Reply:
    """``reply`` with each File and Image part written to ``folder`` and replaced by its path.

    Args:
        reply: What the tutor answered.
        folder: Where files go (made if missing).

    Returns:
        A reply with the same parts in order, each file or picture replaced by a line
        naming the path written (or an error notice if it could not be written).
    """
    if not any(isinstance(part, File | Image) for part in reply.parts):
        return reply
    parts = [_saved(part, folder) if isinstance(part, File | Image) else part
             for part in reply.parts]
    return Reply(parts=parts, events=list(reply.events), ephemeral=reply.ephemeral)


__all__ = ["free_path", "safe_name", "save_parts"]
