"""A compose file's YAML read within bounds: size, nesting, aliases and values counted.

PyYAML's safe loader builds only plain values, but an alias is shared, not copied, so
a small file can stand for a huge document ("billion laughs"): the events are counted
before loading (size, depth, aliases), and the loaded document is walked within a value
budget (aliases expanded) before anything else reads it.
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.errors import CommandRefused
from bot.printable import one_line

MAX_DOCUMENT_CHARS = 16 * 1024
"""The longest ``compose.yaml`` the sandbox reads."""


MAX_DEPTH = 10
"""The deepest nesting of mappings and lists."""


MAX_ALIASES = 16
"""The most YAML aliases (``*name``) one file may use."""


MAX_NODES = 4000
"""The most values the loaded document may hold, aliases expanded (a billion laughs stops here)."""


def _refuse(message: str, key: str) -> CommandRefused:
    return CommandRefused(one_line(message, 400), option=f"compose:{key}")


def load(text: str) -> Any:
    """Parse ``text`` as one YAML document, within the bounds above.

    Raises:
        CommandRefused: Too long, too deep, too many aliases or values, or not YAML.
    """
    if len(text) > MAX_DOCUMENT_CHARS:
        raise _refuse(f"The compose file is {len(text)} characters long; the sandbox reads at "
                      f"most {MAX_DOCUMENT_CHARS}.", "size")
    depth = aliases = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _refuse(f"The compose file nests deeper than {MAX_DEPTH} levels.",
                                  "depth")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise _refuse(f"The compose file uses more than {MAX_ALIASES} YAML "
                                  "aliases (`*name`).", "aliases")
            elif isinstance(event, yaml.DocumentStartEvent) and event.explicit and depth:
                break
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise _refuse(f"yaml: {where}{problem}", "yaml") from None
    _count(document, [MAX_NODES])
    return document


def _count(node: Any, budget: list[int]) -> None:
    """Walk the loaded document (aliases expanded), refusing it past :data:`MAX_NODES` values."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _refuse(f"The compose file holds more than {MAX_NODES} values (YAML aliases "
                      "count each time they are used).", "size")
    if isinstance(node, dict):
        for key, value in node.items():
            _count(key, budget)
            _count(value, budget)
    elif isinstance(node, list):
        for item in node:
            _count(item, budget)


__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_DOCUMENT_CHARS", "MAX_NODES", "load"]
