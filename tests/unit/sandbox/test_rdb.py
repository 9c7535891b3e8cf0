"""Reading a key from an RDB file in Python: exactly what Redis loads, or "cannot tell".

The file below is a real one: Redis 7.0.15 (the lesson image built from Debian's packages)
saved it after strings (plain, integer, compressed, with CR LF, with an expiry) and the
key `k` as a list, two sets, a hash and a sorted set in other databases.
"""

from __future__ import annotations

import base64
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sandbox.redis.rdb import (
    FILE_LIMIT,
    RdbLook,
    crc64,
    highest_rdb_version,
    lzf_decompress,
    read_key,
)

SAVED = base64.b64decode(
    "UkVESVMwMDEw+glyZWRpcy12ZXIGNy4wLjE1+gpyZWRpcy1iaXRzwED6BWN0aW1lwimlFmv6CHVzZWQtbWVtwug9EAD6CGFvZi1iYXNlwAD+APsGAQABbsE5MAADbmVnwPkABGNybGYFYQ0KYg0ABGxvbmfDDUGQAmFiYeD/AeB6AQFhYgABawVoZWxsb/zzCWtWogEAAAAFbGF0ZXIBdv4C+wEAEgFrAQIQEAAAAAMAgWECgWICgWMC//4D+wEACwFrDgIAAAADAAAAAQACAAMA/gT7AQACAWsCAXkBeP4F+wEAEAFrDQ0AAAACAIFmAoF2Av/+BvsBABEBaxQUAAAABACBYQIBAYFiAoMyLjUE//4J+wEAAAFrBG5pbmX/v/ZNAP1mg1k=")
"""`redis-cli save` of a Redis 7.0.15 (RDB format 10)."""

LATER_EXPIRES_MS = 0x01A2566B09F3
"""When the key `later` in :data:`SAVED` expires (its 8-byte expiry, little-endian)."""

NOW_MS = LATER_EXPIRES_MS - 3_600_000


def look(key: bytes, data: bytes = SAVED, **kwargs: int) -> RdbLook | None:
    """The reading of ``key`` in ``data`` by a Redis 7.0 an hour before `later` expires."""
    options = {"highest_version": 10, "now_ms": NOW_MS, **kwargs}
    return read_key(data, key, **options)


def resealed(data: bytes) -> bytes:
    """``data`` (a file without its last 8 bytes) with the checksum Redis would write."""
    return data + struct.pack("<Q", crc64(data))


def test_the_checksum_is_redis_crc64_and_matches_the_saved_file() -> None:
    """Redis' own test vector, and the file's stored checksum."""
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert struct.unpack("<Q", SAVED[-8:])[0] == crc64(SAVED[:-8])


def test_every_type_in_every_database_is_read() -> None:
    """Strings in databases 0 and 9; a list, two sets, a hash and a sorted set elsewhere."""
    found = look(b"k")
    assert found == RdbLook(values={"0": "hello", "9": "nine"},
                            others={"2": "list", "3": "set", "4": "set", "5": "hash",
                                    "6": "zset"})


@pytest.mark.parametrize(("key", "value"), [
    (b"n", "12345"), (b"neg", "-7"), (b"long", "ab" * 200), (b"crlf", "a\nb"),
])
def test_encoded_strings_read_as_redis_cli_prints_them(key: bytes, value: str) -> None:
    """Integers, an LZF-compressed value, and CR LF as the container witness reads them."""
    assert look(key) == RdbLook(values={"0": value})


def test_a_missing_key_is_nowhere() -> None:
    """A key the file does not hold: no value, no type."""
    assert look(b"absent") == RdbLook()


def test_an_expired_key_is_not_loaded_and_one_near_its_expiry_is_a_doubt() -> None:
    """Before its expiry it is loaded; after, not (as a primary loads); within a minute: cannot tell."""
    assert look(b"later") == RdbLook(values={"0": "v"})
    assert look(b"later", now_ms=LATER_EXPIRES_MS + 600_000) == RdbLook()
    assert look(b"later", now_ms=LATER_EXPIRES_MS - 10_000) is None
    assert look(b"later", now_ms=LATER_EXPIRES_MS + 10_000) is None


def test_a_cut_file_is_never_read() -> None:
    """Every prefix of the file: cannot tell."""
    for end in range(len(SAVED)):
        assert look(b"k", SAVED[:end]) is None, end


def test_a_changed_byte_is_never_read() -> None:
    """Every single byte changed (the checksum sees each): cannot tell, never an exception."""
    for at in range(len(SAVED) - 8):
        changed = bytearray(SAVED)
        changed[at] ^= 0x41
        assert look(b"k", bytes(changed)) is None, at


def test_a_file_redis_would_refuse_is_not_read() -> None:
    """A newer format, a database the reader lacks, bytes after the end, an unknown opcode."""
    assert look(b"k", highest_version=9) is None
    assert look(b"k", databases=9) is None  # the file selects database 9
    assert look(b"k", SAVED + b"\0") is None
    stream = resealed(SAVED[:9] + bytes([0x15, 1, ord("s"), 0]) + bytes([0xFF]))
    assert look(b"s", stream) is None  # a stream (type 21): the container witness reads it
    function = resealed(SAVED[:9] + bytes([0xF5, 1, ord("f"), 0xFF]))
    assert look(b"k", function) is None


def test_a_key_twice_in_one_database_is_refused_and_a_zero_checksum_is_not_checked() -> None:
    """Redis stops at a duplicated key; it loads a file saved with `rdbchecksum no` unchecked."""
    entry = bytes([0, 1, ord("k"), 1, ord("v")])
    assert look(b"k", resealed(SAVED[:9] + entry + entry + bytes([0xFF]))) is None
    unchecked = SAVED[:9] + entry + bytes([0xFF]) + bytes(8)
    assert look(b"k", unchecked) == RdbLook(values={"0": "v"})
    assert look(b"k", b"x" * (FILE_LIMIT + 1)) is None


def test_lzf_inflates_literals_and_overlapping_references_and_refuses_the_rest() -> None:
    """A literal run then a reference that overlaps what it writes; bad data raises."""
    data = bytes([2]) + b"abc" + bytes([(4 << 5) | 0, 2])  # "abc", then 6 bytes from 3 back
    assert lzf_decompress(data, 9) == b"abcabcabc"
    with pytest.raises(Exception, match="LZF"):
        lzf_decompress(data, 8)
    with pytest.raises(Exception, match="LZF"):
        lzf_decompress(bytes([(1 << 5) | 0, 9]), 3)  # a reference before the start


def test_only_known_redis_releases_are_read_from_their_files() -> None:
    """7.0 loads format 10, 7.4 format 12; an unknown release or line: the container witness."""
    assert highest_rdb_version("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc") == 10
    assert highest_rdb_version("Redis server v=7.4.1 sha=0") == 12
    assert highest_rdb_version("Redis server v=6.2.14 sha=0") is None
    assert highest_rdb_version("sh: redis-server: not found") is None


@given(st.binary(max_size=400))
@settings(max_examples=400, deadline=None)
def test_any_bytes_after_a_header_are_read_or_refused_never_raised(body: bytes) -> None:
    """Arbitrary bytes after a valid header, sealed with a right checksum: a look or ``None``."""
    found = look(b"k", resealed(SAVED[:9] + body))
    assert found is None or isinstance(found, RdbLook)
