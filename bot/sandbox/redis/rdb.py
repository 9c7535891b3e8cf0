"""What a Redis would load of one key from an RDB file, read strictly in Python.

The tutor's witness proves which value of a key a new Redis container found on its
volume (:mod:`bot.sandbox.redis.witness`). Starting a container of its own for that costs
the engine about as much as the learner's container did. For the common file (an RDB
snapshot of plain keys) this module answers from the file's bytes instead, and says
"cannot tell" (``None``) for anything it does not fully understand, so that the caller
falls back to the container witness. It never guesses:

* the header's format version must be one the reader's Redis loads (the caller passes
  the highest, see :func:`highest_rdb_version`);
* the checksum must match (a zero checksum is what ``rdbchecksum no`` writes: Redis loads
  such a file without checking, and so does this);
* every opcode and value type must be known and its bytes walk to the end marker with
  nothing after it; streams, modules, functions and cluster slot records are not read;
* a database index past ``databases``, or a key twice in one database, is a file Redis
  refuses (``None``);
* a key whose expiry has passed is not loaded (as a primary Redis does), and one that
  expires within :data:`EXPIRY_DOUBT_MS` of now is a doubt (``None``).

Bounded by construction: the caller reads at most :data:`FILE_LIMIT` bytes, and no
string is inflated past :data:`STRING_LIMIT`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

FILE_LIMIT = 256 * 1024
"""The largest RDB file read here (bigger ones go to the container witness; its checksum
costs about 30 ms of CPU at this size)."""

STRING_LIMIT = 16 * 1024 * 1024
"""The largest string inflated (a compressed key or value of the key asked for)."""

EXPIRY_DOUBT_MS = 60_000
"""An expiry this close to now may fall either side of the reader's own load."""

_CRC64_POLY = 0x95AC9329AC4BC9B5  # Jones' polynomial 0xad93d23594c935a9, bit-reversed
_CRC64_TABLE: list[int] = []
for _byte in range(256):
    _crc = _byte
    for _ in range(8):
        _crc = (_crc >> 1) ^ _CRC64_POLY if _crc & 1 else _crc >> 1
    _CRC64_TABLE.append(_crc)


def crc64(data: bytes) -> int:
    """Redis' CRC-64 (Jones, reflected, initial value 0) of ``data``."""
    crc = 0
    table = _CRC64_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


class Unreadable(Exception):
    """The file is not one this module can vouch for (internal: becomes ``None``)."""


def lzf_decompress(data: bytes, length: int) -> bytes:
    """Inflate LZF ``data`` (liblzf's format) that must come to exactly ``length`` bytes.

    Raises:
        Unreadable: The data is not LZF, or not of that length.
    """
    out = bytearray()
    i, end = 0, len(data)
    while i < end:
        ctrl = data[i]
        i += 1
        if ctrl < 32:  # a literal run of ctrl + 1 bytes
            run = ctrl + 1
            if i + run > end or len(out) + run > length:
                raise Unreadable("LZF literal past its end")
            out += data[i:i + run]
            i += run
            continue
        size = ctrl >> 5
        if size == 7:
            if i >= end:
                raise Unreadable("LZF length past its end")
            size += data[i]
            i += 1
        if i >= end:
            raise Unreadable("LZF reference past its end")
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        size += 2
        if ref < 0 or len(out) + size > length:
            raise Unreadable("LZF reference out of range")
        for _ in range(size):  # may overlap what it writes: byte by byte
            out.append(out[ref])
            ref += 1
    if len(out) != length:
        raise Unreadable("LZF data of the wrong length")
    return bytes(out)


TYPE_NAMES = {
    0: "string", 1: "list", 2: "set", 3: "zset", 4: "hash", 5: "zset",
    9: "hash", 10: "list", 11: "set", 12: "zset", 13: "hash", 14: "list",
    16: "hash", 17: "zset", 18: "list", 20: "set",
}
"""The value types read here (by their RDB type id) and what ``TYPE`` calls them; streams
(15, 19, 21), modules (6, 7) and later types are not read."""

_BLOB_TYPES = frozenset({9, 10, 11, 12, 13, 16, 17, 20})
"""Types stored as one string (a ziplist, listpack, intset or zipmap)."""

_AUX, _RESIZEDB, _EXPIRE_MS, _EXPIRE_S, _SELECTDB, _EOF = 250, 251, 252, 253, 254, 255
_IDLE, _FREQ = 248, 249


@dataclass
class RdbLook:
    """What a Redis would have loaded of one key.

    Attributes:
        values: The key's string value per database index (as text, as ``redis-cli``
            prints it).
        others: The key's type per database index where it is not a string.
    """

    values: dict[str, str] = field(default_factory=dict)
    others: dict[str, str] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise Unreadable("short file")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def length(self) -> tuple[int, int | None]:
        """``(length, None)``, or ``(0, encoding)`` for an encoded string's marker."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, None
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), None
        if kind == 3:
            return 0, first & 0x3F
        if first == 0x80:
            return int(struct.unpack(">I", self.take(4))[0]), None
        if first == 0x81:
            return int(struct.unpack(">Q", self.take(8))[0]), None
        raise Unreadable("unknown length")

    def plain_length(self) -> int:
        size, encoding = self.length()
        if encoding is not None:
            raise Unreadable("an encoded length where a length belongs")
        return size

    def string(self, *, keep: bool) -> bytes:
        """The next string (inflated when ``keep``; else only stepped over)."""
        size, encoding = self.length()
        if encoding is None:
            return self.take(size) if keep else self._skip(size)
        if encoding == 0:
            return str(struct.unpack("<b", self.take(1))[0]).encode()
        if encoding == 1:
            return str(struct.unpack("<h", self.take(2))[0]).encode()
        if encoding == 2:
            return str(struct.unpack("<i", self.take(4))[0]).encode()
        if encoding == 3:
            packed, inflated = self.plain_length(), self.plain_length()
            if inflated > STRING_LIMIT:
                raise Unreadable("a string too large to inflate")
            body = self.take(packed)
            return lzf_decompress(body, inflated) if keep else b""
        raise Unreadable("unknown string encoding")

    def _skip(self, size: int) -> bytes:
        self.take(size)
        return b""

    def skip_value(self, kind: int) -> None:
        if kind in _BLOB_TYPES:
            self.string(keep=False)
            return
        count = self.plain_length()
        if count > len(self.data):
            raise Unreadable("more elements than bytes")
        for _ in range(count):
            if kind in (1, 2, 14):
                self.string(keep=False)
            elif kind == 18:
                self.plain_length()  # the node's container kind
                self.string(keep=False)
            elif kind == 4:
                self.string(keep=False)
                self.string(keep=False)
            elif kind == 3:
                self.string(keep=False)
                score = self.byte()
                if score < 253:
                    self.take(score)
            elif kind == 5:
                self.string(keep=False)
                self.take(8)
            else:
                raise Unreadable("a value type not read here")


def read_key(data: bytes, key: bytes, *, highest_version: int, databases: int = 16,
             now_ms: int) -> RdbLook | None:
    """What a Redis loading the RDB file ``data`` would hold of ``key``, or ``None``.

    Args:
        data: The whole file.
        key: The key asked for.
        highest_version: The highest RDB format version the reader's Redis loads.
        databases: The reader's ``databases`` setting.
        now_ms: The time of the load, in Unix milliseconds.

    Returns:
        ``None`` when the file is not one this module can vouch for (see the module
        docstring): the caller asks a real Redis instead.
    """
    try:
        return _read(data, key, highest_version, databases, now_ms)
    except Unreadable:
        return None


def _read(data: bytes, key: bytes, highest_version: int, databases: int,
          now_ms: int) -> RdbLook:
    if len(data) > FILE_LIMIT or not re.fullmatch(rb"REDIS\d{4}", data[:9]):
        raise Unreadable("not an RDB file")
    version = int(data[5:9])
    if not 1 <= version <= highest_version:
        raise Unreadable("a format version the reader may not load")
    reader = _Reader(data)
    reader.pos = 9
    look = RdbLook()
    db, expires, seen = 0, -1, set()
    while True:
        op = reader.byte()
        if op == _EOF:
            break
        if op == _AUX:
            reader.string(keep=False)
            reader.string(keep=False)
        elif op == _RESIZEDB:
            reader.plain_length()
            reader.plain_length()
        elif op == _SELECTDB:
            db = reader.plain_length()
            if db >= databases:
                raise Unreadable("a database the reader does not have")
        elif op == _EXPIRE_MS:
            expires = int(struct.unpack("<q", reader.take(8))[0])
        elif op == _EXPIRE_S:
            expires = int(struct.unpack("<i", reader.take(4))[0]) * 1000
        elif op == _IDLE:
            reader.plain_length()
        elif op == _FREQ:
            reader.byte()
        elif op in TYPE_NAMES:
            name = reader.string(keep=True)
            loaded = expires == -1 or expires >= now_ms  # a primary skips expired keys
            if loaded and (db, name) in seen:
                raise Unreadable("a key twice in one database")
            if loaded:
                seen.add((db, name))
            if name == key:
                if expires != -1 and abs(expires - now_ms) < EXPIRY_DOUBT_MS:
                    raise Unreadable("an expiry too close to now")
                if op == 0:
                    value = reader.string(keep=True)
                    if loaded:
                        look.values[str(db)] = _as_printed(value)
                else:
                    reader.skip_value(op)
                    if loaded:
                        look.others[str(db)] = TYPE_NAMES[op]
            elif op == 0:
                reader.string(keep=False)
            else:
                reader.skip_value(op)
            expires = -1
        else:  # functions, modules, streams, slot records, anything newer
            raise Unreadable(f"opcode {op} is not read here")
    if version >= 5:
        stored = int(struct.unpack("<Q", reader.take(8))[0])
        if stored and stored != crc64(data[:reader.pos - 8]):
            raise Unreadable("wrong checksum")
    if reader.pos != len(data):
        raise Unreadable("bytes after the end")
    return look


def _as_printed(value: bytes) -> str:
    """``value`` as the container witness reads ``redis-cli --raw get``'s output."""
    text = (value + b"\n").decode("utf-8", "replace").replace("\r\n", "\n")
    return text[:-1] if text.endswith("\n") else text


_RDB_BY_REDIS = {(7, 0): 10, (7, 2): 11, (7, 4): 12, (8, 0): 12}
"""The RDB format version each Redis release writes and loads at most."""


def highest_rdb_version(version_line: str) -> int | None:
    """The highest RDB version the Redis that printed ``redis-server --version`` loads.

    ``None`` for a release not in :data:`_RDB_BY_REDIS` (the container witness answers).
    """
    found = re.search(r"\bv=(\d+)\.(\d+)\.\d+", version_line)
    if found is None:
        return None
    return _RDB_BY_REDIS.get((int(found.group(1)), int(found.group(2))))


__all__ = ["FILE_LIMIT", "RdbLook", "crc64", "highest_rdb_version", "lzf_decompress",
           "read_key"]
