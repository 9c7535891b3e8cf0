"""Owner ids in an archive taken from an engine with user-namespace remapping.

An engine with ``userns-remap`` (the hardened profile) hands out ``GET .../archive`` with
the *host's* ids (container root as ``100000``), while ``PUT .../archive`` expects the
*container's* ids and maps them itself; an archive passed from one such engine to another
unchanged is refused ("Container ID 100999 cannot be mapped"). :func:`remap_base` reads an
engine's remapping from its ``info`` (the remapped data root is named ``<uid>.<gid>``), and
:func:`shift_ids` rewrites a streamed archive, member by member, with the ids lowered by it
(in a thread of its own, through a small bounded queue: memory stays a few chunks).
"""

from __future__ import annotations

import io
import queue
import tarfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any

import docker

CHUNK = 64 * 1024
_QUEUE_CHUNKS = 16
_PUT_SECONDS = 1.0


def remap_base(client: docker.DockerClient) -> tuple[int, int]:
    """The host ``(uid, gid)`` that container root maps to on this engine; ``(0, 0)`` without remapping."""
    info: dict[str, Any] = client.info()
    if not any("userns" in str(option) for option in info.get("SecurityOptions") or ()):
        return 0, 0
    uid, _, gid = PurePosixPath(str(info.get("DockerRootDir", ""))).name.partition(".")
    if uid.isdigit() and gid.isdigit():
        return int(uid), int(gid)
    return 0, 0


class _Reader(io.RawIOBase):
    """A readable over an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            self._buffer = next(self._chunks, b"")
            if not self._buffer:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class _Abandoned(Exception):
    """The consumer of the rewritten archive stopped reading."""


class _Writer(io.RawIOBase):
    """A writable that hands each write to a bounded queue (until the reader gives up)."""

    def __init__(self, out: queue.Queue[bytes | BaseException | None], gone: threading.Event) -> None:
        self._out = out
        self._gone = gone

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        while True:
            if self._gone.is_set():
                raise _Abandoned
            try:
                self._out.put(chunk, timeout=_PUT_SECONDS)
                return len(chunk)
            except queue.Full:
                continue


def _hand(out: queue.Queue[bytes | BaseException | None], gone: threading.Event,
          item: BaseException | None) -> None:
    """Put the last item for the consumer, unless it stopped reading."""
    while not gone.is_set():
        try:
            out.put(item, timeout=_PUT_SECONDS)
            return
        except queue.Full:
            continue


def _lowered(value: int, base: int) -> int:
    return value - base if base and value >= base else value


def shift_ids(chunks: Iterable[bytes], base: tuple[int, int]) -> Iterator[bytes]:
    """The archive of ``chunks`` with every member's uid and gid lowered by ``base``.

    ``(0, 0)`` passes the chunks through untouched. A broken archive raises
    :class:`tarfile.TarError` to the consumer.
    """
    if base == (0, 0):
        yield from chunks
        return
    out: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
    gone = threading.Event()

    def pump() -> None:
        try:
            writer = io.BufferedWriter(_Writer(out, gone), CHUNK)
            with tarfile.open(fileobj=io.BufferedReader(_Reader(chunks), CHUNK), mode="r|") as source, \
                    tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as sink:
                for member in source:
                    member.uid = _lowered(member.uid, base[0])
                    member.gid = _lowered(member.gid, base[1])
                    member.pax_headers = {k: v for k, v in member.pax_headers.items()
                                          if k not in ("uid", "gid", "uname", "gname")}
                    member.uname = member.gname = ""
                    sink.addfile(member, source.extractfile(member) if member.isreg() else None)
            writer.flush()
            _hand(out, gone, None)
        except _Abandoned:
            return
        except BaseException as exc:  # handed to the consumer, raised there
            _hand(out, gone, exc)

    thread = threading.Thread(target=pump, name="tar-ids", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        gone.set()
        thread.join(5)


__all__ = ["remap_base", "shift_ids"]
