"""The command side of the sandbox: parsing a learner's line and every rule that refuses one.

Nothing here imports ``docker``, not even for type hints (``tests/import_graph.py``
enforces it): a rule is checked before anything reaches the engine. Besides
:mod:`bot.sandbox`, this package is the one part of the sandbox the rest of the project
imports: the lessons' validator, the checks and the tutor reason about commands with it,
without an engine. What they use is named here:

* :func:`parse` and :class:`Command` (also exported by :mod:`bot.sandbox`),
  :data:`VERB_OPTIONS` (every verb and its options);
* :func:`parse_volume_flag` and :func:`parse_mount_flag` (what a ``-v`` or ``--mount``
  asks for), :class:`MountRequest`;
* :func:`clean_path` (a workspace path checked) and :func:`suggest` (the likely word
  meant).
"""

from __future__ import annotations

from bot.sandbox.policy.mounts import MountRequest, parse_mount_flag, parse_volume_flag
from bot.sandbox.policy.parser import Command, parse
from bot.sandbox.policy.rules import suggest
from bot.sandbox.policy.verbs import VERB_OPTIONS
from bot.sandbox.policy.workspace_paths import clean_path

__all__ = [
    "VERB_OPTIONS",
    "Command",
    "MountRequest",
    "clean_path",
    "parse",
    "parse_mount_flag",
    "parse_volume_flag",
    "suggest",
]
