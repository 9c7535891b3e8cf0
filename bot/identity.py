"""Who is talking to the tutor."""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.@-]")


@dataclass(frozen=True)
class Person:
    """A learner or an instructor, as seen by the tutor.

    Attributes:
        platform: Where they talk from: ``"slack"`` or ``"console"``.
        user_id: The platform's id (a Slack user id such as ``U0123``, or a console name).
        display_name: A human name for reports; defaults to the id.
    """

    platform: str
    user_id: str
    display_name: str = ""

    @property
    def key(self) -> str:
        """A stable, unique key for the progress store, e.g. ``slack:U0123``."""
        return f"{self.platform}:{_KEY_SAFE.sub('_', self.user_id)}"

    @property
    def name(self) -> str:
        """The name to show in reports."""
        return self.display_name or self.user_id
