"""The tar archives a workspace travels in to and from the engine.

The engine puts and gets files of a container as tar streams: :func:`file_archive` builds
the one :meth:`~bot.sandbox.workspace.volume.EngineWorkspace.write` puts, and
:func:`first_file` and :func:`entries` read, within a byte cap, the ones that
:meth:`~bot.sandbox.workspace.volume.EngineWorkspace.read` and
:meth:`~bot.sandbox.workspace.volume.EngineWorkspace.listing` get.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One thing in a workspace listing.

    Attributes:
        path: Relative to the workspace (``notes.txt``, ``src/app.py``).
        kind: ``file``, ``dir``, ``link`` or ``other``.
        size: Bytes (files only).
    """

    path: str
    kind: str
    size: int = 0


class Capped(io.RawIOBase):
    """A readable over an archive stream that stops (as if it ended) after ``cap`` bytes.

    Attributes:
        cut: Whether the stream held more than ``cap`` bytes (so it was cut short).
    """

    def __init__(self, chunks: Iterator[bytes], cap: int) -> None:
        self._chunks = chunks
        self._left = cap
        self._buffer = b""
        self.cut = False

    def readable(self) -> bool:
        """Always: this is a reader."""
        return True

    def readinto(self, target: Any) -> int:
        """Fill ``target`` from the stream; 0 at its end or at the cap."""
        while not self._buffer and self._left > 0:
            chunk = next(self._chunks, b"")
            if not chunk:
                return 0
            self._buffer = chunk[: self._left]
            self.cut = self.cut or len(chunk) > self._left
            self._left -= len(self._buffer)
        if not self._buffer:
            self.cut = self.cut or bool(next(self._chunks, b""))
            return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def file_archive(path: str, data: bytes, folders: Iterable[str], mtime: float) -> bytes:
    """A tar archive of ``folders`` (mode 0755, in order) and then the file ``path`` (0644).

    Args:
        path: The file's path in the archive.
        data: The file's content.
        folders: Folders to make first, parents before children.
        mtime: The modification time of everything in it.
    """
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        info = tarfile.TarInfo(path)
        info.size, info.mode, info.mtime = len(data), 0o644, mtime
        tar.addfile(info, io.BytesIO(data))
    return archive.getvalue()


def _walk(chunks: Iterable[bytes], cap: int, visit: Callable[[tarfile.TarFile, Capped], T]) -> T | None:
    """``visit`` the archive streamed in ``chunks`` (read at most ``cap`` bytes far).

    ``None`` when the archive is broken; the stream is closed either way.
    """
    stream = Capped(iter(chunks), cap)
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream), mode="r|") as tar:
            return visit(tar, stream)
    except tarfile.TarError:
        return None
    finally:
        close_stream(chunks)


def first_file(chunks: Iterable[bytes], limit: int) -> bytes | None:
    """The first ``limit`` bytes of the archive's first member, or ``None``.

    ``None`` when that member is not a regular file or the archive is broken. The stream
    is read at most ``limit`` plus 128 KiB far (room for headers, PAX records included,
    and tarfile's read-ahead) and closed.
    """
    def visit(tar: tarfile.TarFile, _: Capped) -> bytes | None:
        member = tar.next()
        if member is None or not member.isfile():
            return None
        handle = tar.extractfile(member)
        return handle.read(limit) if handle is not None else b""

    return _walk(chunks, limit + 128 * 1024, visit)


@dataclass(frozen=True)
class FolderFile:
    """A folder's archive header, and the header and bytes of one file directly in it.

    Attributes:
        folder: The folder's own header (its owner and mode).
        file: The file's header, ``None`` when the folder holds no such name.
        data: The file's bytes, ``None`` unless it is a regular file.
    """

    folder: tarfile.TarInfo
    file: tarfile.TarInfo | None
    data: bytes | None


def folder_file(chunks: Iterable[bytes], name: str, limit: int) -> FolderFile | None:
    """Find ``name`` in the archive of a folder (``GET .../archive?path=<folder>``).

    ``None`` when the archive is broken, is not a folder's, or is cut before it tells (the
    stream is read at most ``limit`` plus 128 KiB far); the file itself must be at most
    ``limit`` bytes. The stream is closed.
    """
    def visit(tar: tarfile.TarFile, stream: Capped) -> FolderFile | None:
        folder = tar.next()
        if folder is None or not folder.isdir():
            return None
        wanted = folder.name.rstrip("/") + "/" + name
        for member in tar:
            if member.name.rstrip("/") != wanted:
                continue
            if not member.isfile():
                return FolderFile(folder, member, None)
            if member.size > limit:
                return None
            handle = tar.extractfile(member)
            return FolderFile(folder, member, handle.read() if handle is not None else b"")
        return None if stream.cut else FolderFile(folder, None, None)

    return _walk(chunks, limit + 128 * 1024, visit)


def entries(chunks: Iterable[bytes], max_bytes: int) -> tuple[list[Entry], bool]:
    """What an archive of the whole workspace (``<root>/.``) holds, read up to ``max_bytes``.

    Returns:
        The entries seen (sorted by path) and whether the archive was read to its end
        without a fault. The stream is closed.
    """
    found: list[Entry] = []
    complete = True
    stream = Capped(iter(chunks), max_bytes)
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream), mode="r|") as tar:
            for member in tar:
                name = member.name.split("/", 1)[1] if "/" in member.name else ""
                if not name:
                    continue
                kind = ("file" if member.isfile() else "dir" if member.isdir()
                        else "link" if member.issym() else "other")
                found.append(Entry(name.rstrip("/"), kind,
                                   member.size if member.isfile() else 0))
    except tarfile.TarError:
        complete = False
    finally:
        close_stream(chunks)
    complete = complete and not stream.cut
    return sorted(found, key=lambda e: e.path), complete


def close_stream(chunks: Any) -> None:
    """Close an engine response stream (a generator of docker-py's), if it can be closed."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
