"""Line numbers in a TOML text, which :mod:`tomllib` does not give.

:class:`Locator` scans the text: it follows ``[[steps]]`` / ``[[steps.checks]]`` headers
the way TOML numbers arrays of tables, and records the line of every ``key =`` and of
the items of multi-line arrays, so :mod:`bot.lessons.validate` can say where a problem is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

Path_ = tuple[str | int, ...]
"""Where a value sits in the TOML document: table names, array indexes and a key."""

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=\s*(.*)$""")


def _segments(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in dotted.split(".")]


@dataclass
class Locator:
    """Line numbers (1-based) of the tables, keys and array items of a TOML text."""

    text: str
    tables: dict[Path_, int] = field(default_factory=dict)
    keys: dict[Path_, int] = field(default_factory=dict)
    spans: dict[Path_, list[tuple[int, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arrays: dict[Path_, int] = {}
        current: Path_ = ()
        open_key: Path_ | None = None
        depth = 0
        in_string = ""
        for number, line in enumerate(self.text.splitlines(), start=1):
            if open_key is not None:
                self.spans[open_key].append((number, line))
                depth += _depth(line)
                if depth <= 0:
                    open_key = None
                continue
            if in_string:
                if line.count(in_string) % 2 == 1:
                    in_string = ""
                continue
            header = _HEADER.match(line)
            if header:
                double = header.group(1) == "[["
                segments = _segments(header.group(2))
                path: Path_ = ()
                for segment in segments[:-1]:
                    path += (segment,)
                    if path in arrays:
                        path += (arrays[path] - 1,)
                path += (segments[-1],)
                if double:
                    arrays[path] = arrays.get(path, 0) + 1
                    path += (arrays[path] - 1,)
                self.tables.setdefault(path, number)
                current = path
                continue
            key = _KEY.match(line)
            if not key:
                continue
            name = key.group(1).strip("\"'")
            where = (*current, name)
            self.keys.setdefault(where, number)
            value = key.group(2)
            for quote in ('"""', "'''"):
                if value.count(quote) % 2 == 1:
                    in_string = quote
            self.spans.setdefault(where, [(number, line)])
            depth = _depth(value)
            if depth > 0:
                open_key = where

    def table(self, path: Path_) -> int:
        """The line of a table's header (1 when the path has none, e.g. the root)."""
        while path:
            if path in self.tables:
                return self.tables[path]
            path = path[:-1]
        return 1

    def key(self, table: Path_, name: str) -> int:
        """The line of ``name = ...`` in a table (else the table's header line)."""
        return self.keys.get((*table, name), self.table(table))

    def item(self, table: Path_, name: str, value: str) -> int:
        """The line of an array item with this string value (else the key's line)."""
        span = self.spans.get((*table, name), [])
        for probe in (json.dumps(value)[1:-1][:40], value[:40]):
            for number, line in span:
                if probe and probe in line:
                    return number
        return self.key(table, name)


def _depth(text: str) -> int:
    """Net count of ``[`` minus ``]`` outside strings on a line (rough, for arrays)."""
    depth, quote, escaped = 0, "", False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
    return depth


__all__ = ["Locator", "Path_"]
