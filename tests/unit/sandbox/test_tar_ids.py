"""Owner ids of an archive from a remapped engine, lowered in a stream (no engine needed)."""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Iterator

import pytest

from bot.sandbox.workspace.tar_ids import shift_ids


def archive(uid: int, gid: int, body: bytes = b"hello\n") -> bytes:
    """A tar archive of a folder ``v`` and a file ``v/f`` owned by ``uid:gid``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folder = tarfile.TarInfo("v")
        folder.type, folder.uid, folder.gid, folder.mode = tarfile.DIRTYPE, uid, gid, 0o750
        tar.addfile(folder)
        member = tarfile.TarInfo("v/f")
        member.size, member.uid, member.gid = len(body), uid, gid
        tar.addfile(member, io.BytesIO(body))
    return out.getvalue()


def chunks(data: bytes, size: int = 700) -> Iterator[bytes]:
    """The bytes in small pieces, as an engine streams them."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def members(data: bytes) -> list[tuple[str, int, int, bytes]]:
    """Name, uid, gid and content of each member."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m.name, m.uid, m.gid, (tar.extractfile(m) or io.BytesIO()).read() if m.isreg() else b"")
                for m in tar]


def test_host_ids_of_a_remapped_engine_become_the_containers() -> None:
    """Ids at or past the remap base are lowered by it; names, modes and contents stay."""
    big = b"x" * 300_000
    out = b"".join(shift_ids(chunks(archive(100999, 101000, big)), (100000, 100000)))
    assert members(out) == [("v", 999, 1000, b""), ("v/f", 999, 1000, big)]


def test_without_remapping_the_archive_passes_untouched() -> None:
    """A base of (0, 0) yields the very same bytes."""
    data = archive(999, 999)
    assert b"".join(shift_ids(chunks(data), (0, 0))) == data


def test_a_broken_archive_fails_the_reader() -> None:
    """Garbage in the stream raises to whoever reads the rewritten archive."""
    with pytest.raises(tarfile.TarError):
        b"".join(shift_ids(iter([b"not a tar archive" * 100]), (100000, 100000)))


def test_a_reader_that_stops_early_releases_the_rewriter() -> None:
    """Closing the stream after one chunk ends the rewriting thread (no thread left waiting)."""
    stream = shift_ids(chunks(archive(100000, 100000, b"y" * 2_000_000), 4096), (100000, 100000))
    next(stream)
    stream.close()
    assert not any(t.name == "tar-ids" and t.is_alive() for t in threading.enumerate())
