"""Reading what a container or an exec prints, bounded in size and in time."""

from __future__ import annotations

import socket
import time
from typing import NamedTuple

READ_LIMIT = 1024 * 1024
"""Stop keeping a command's output past this many bytes (the rest is counted as cut)."""

DRAIN_LIMIT = 16 * 1024 * 1024
"""Count (without keeping) an exec's output up to this many bytes, then stop reading."""


class ExecResult(NamedTuple):
    """What one exec produced."""

    code: int
    output: str
    cut: int
    timed_out: bool


def cap_output(text: str, limit: int, extra_cut: int = 0) -> tuple[str, int]:
    """Cut ``text`` to ``limit`` characters; return it and how much was cut."""
    if len(text) <= limit:
        return text, extra_cut
    return text[:limit], len(text) - limit + extra_cut


def read_stream(
    raw: socket.socket, *, tty: bool, deadline: float, limit: int, first: bytes = b""
) -> tuple[bytes, int, bool]:
    """Read an exec's output until it ends, :data:`DRAIN_LIMIT` bytes are read, or ``deadline``.

    Past ``limit`` bytes the output is only counted, so that the learner is told how
    much was cut; past :data:`DRAIN_LIMIT` the tutor stops reading.

    Without a TTY the engine multiplexes stdout and stderr in frames (an 8-byte header
    whose last 4 bytes are the payload length); both streams are kept, in order.

    ``first`` is what was already read from ``raw`` past the engine's answer headers.

    Returns:
        The first ``limit`` bytes of output, how many bytes were read in all, and
        whether the deadline passed first.
    """
    kept = bytearray()
    pending = bytearray()
    frame_left = 0
    size = 0
    while size <= DRAIN_LIMIT:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(kept), size, True
        raw.settimeout(left)
        try:
            chunk, first = (first, b"") if first else (raw.recv(65536), b"")
        except TimeoutError:
            return bytes(kept), size, True
        except OSError:
            break
        if not chunk:
            break
        if tty:
            payload = bytes(chunk)
        else:
            pending += chunk
            parts = []
            while pending:
                if frame_left == 0:
                    if len(pending) < 8:
                        break
                    frame_left = int.from_bytes(pending[4:8], "big")
                    del pending[:8]
                    continue
                take = min(frame_left, len(pending))
                parts.append(bytes(pending[:take]))
                del pending[:take]
                frame_left -= take
            payload = b"".join(parts)
        size += len(payload)
        room = limit - len(kept)
        if room > 0:
            kept += payload[:room]
    return bytes(kept), size, False
