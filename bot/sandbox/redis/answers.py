"""Reading what a witness printed: every answer framed as one base64 line (see witness.py)."""

from __future__ import annotations

import base64
from typing import Any

NO_ANSWER: dict[str, Any] = {"reachable": False, "why": "no answer"}
"""The record of a Redis that did not answer (or an answer that was not whole)."""


def _section(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and not name.startswith("#"):
            fields[name] = value
    return fields


def _frame(line: str) -> tuple[int, str] | None:
    """``(status, output)`` of one framed answer, or ``None`` when it is not one."""
    try:
        raw = base64.b64decode(line, validate=True).decode("utf-8", "replace").replace("\r\n", "\n")
    except ValueError:
        return None
    output, sep, status = raw.rpartition("@@rc=")
    if not sep or not status.strip().isdigit():
        return None
    return int(status.strip()), output


class _Reading:
    """What the witness found, database by database."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.aof = fields.get("aof_enabled", "0").strip() == "1"
        self.values: dict[str, str] = {}
        self.others: dict[str, str] = {}

    def add(self, db: int, found: str, got: tuple[int, str]) -> bool:
        """Note the key's type in ``db`` and, for a string, its value; ``False``: no answer."""
        found = found.strip()
        if found == "string":
            if got[0] != 0:
                return False
            self.values[str(db)] = got[1][:-1] if got[1].endswith("\n") else got[1]
        elif found != "none":
            self.others[str(db)] = found
        return True

    def record(self) -> dict[str, Any]:
        """The facts logged for the look."""
        return {"reachable": True, "values": self.values, "others": self.others, "aof": self.aof}


def parse_answer(output: str) -> dict[str, Any]:
    """The record of a witness's printed answer (``{"reachable": False}`` unless whole)."""
    lines = output.splitlines()
    if lines[:1] == ["@@copyfailed"]:
        return {"reachable": False, "why": "files too large to copy"}
    if lines[:1] != ["@@pong"] or lines[-1:] != ["@@end"] or len(lines) < 4:
        why = [line[6:] for line in lines if line.startswith("@@log ")]
        return {**NO_ANSWER, **({"log": why} if why else {})}
    persistence, keyspace = _frame(lines[1]), _frame(lines[2])
    if persistence is None or keyspace is None or persistence[0] or keyspace[0]:
        return dict(NO_ANSWER)
    reading = _Reading(_section(persistence[1]))
    databases = sorted(int(f[2:]) for f in _section(keyspace[1])
                       if f.startswith("db") and f[2:].isdigit())
    body = lines[3:-1]
    if len(body) != 3 * len(databases):
        return dict(NO_ANSWER)
    for index, db in enumerate(databases):
        head, kind, got = body[3 * index], _frame(body[3 * index + 1]), _frame(body[3 * index + 2])
        if head != f"@@db {db}" or kind is None or got is None:
            return dict(NO_ANSWER)
        if kind[0] or not reading.add(db, kind[1], got):
            return dict(NO_ANSWER)
    return reading.record()



def parse_key(output: str) -> tuple[bool, str | None]:
    """``(reachable, value)`` from the answer of the witness's ``exists`` and ``get``."""
    lines = output.splitlines()
    if lines[:1] != ["@@pong"] or lines[-1:] != ["@@end"] or len(lines) != 4:
        return False, None
    exists, got = _frame(lines[1]), _frame(lines[2])
    if exists is None or got is None or exists[0] or exists[1].strip() not in ("0", "1"):
        return False, None
    if exists[1].strip() == "0":
        return True, None
    if got[0]:
        return False, None
    return True, got[1][:-1] if got[1].endswith("\n") else got[1]


__all__ = ["NO_ANSWER", "parse_answer", "parse_key"]
