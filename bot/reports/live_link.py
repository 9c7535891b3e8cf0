"""``progress live``: where an instructor opens the live class view.

In Slack the answer is a signed link to ``serve``'s ``/dashboard/`` for that instructor
only, working for :data:`~bot.dashboard.links.LINK_MINUTES`; in the console, the
operator's own ``docker-tutor dashboard`` on loopback.
"""

from __future__ import annotations

from bot.config import Settings
from bot.dashboard.links import LINK_MINUTES, sign_link
from bot.identity import Person
from bot.reply import Markdown, Notice, Reply, Tone

CONSOLE_URL = "http://127.0.0.1:8070/dashboard/"
"""Where ``docker-tutor dashboard`` serves by default."""


def live_link_reply(person: Person, settings: Settings) -> Reply:
    """The way to the live class view for an instructor, on their front end."""
    if person.platform == "console":
        return Reply().add(Markdown(
            "The live class view runs in a browser. In another terminal start "
            f"`docker-tutor dashboard`, then open {CONSOLE_URL} : it refreshes by itself "
            "and shows who is stuck right now."))
    if not settings.public_url or not settings.link_secret:
        return Reply().add(Notice(
            "This deployment does not publish the live class view yet: the operator sets "
            "`TUTOR_PUBLIC_URL` (where `serve`'s port is reached) to turn it on.", Tone.WARNING))
    token = sign_link(settings.link_secret, person.user_id)
    hours = LINK_MINUTES // 60
    return Reply().add(Markdown(
        f"Your live class view: {settings.public_url}/dashboard/?t={token}\n"
        f"The link is yours alone and works for {hours} hours; ask again with "
        "`/tutor progress live` for a fresh one."))


__all__ = ["CONSOLE_URL", "live_link_reply"]
