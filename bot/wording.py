"""Words that depend on the front end: how to type a word, where the buttons are, how to leave.

In Slack a tutor word goes after ``/tutor`` in a channel and a command after ``/docker``,
and quiz choices are buttons; at the console's prompt both are typed as they are, a quiz
choice is its number, and ``quit`` leaves. The tutor knows which front end a person talks
from (:attr:`bot.identity.Person.platform`, see :func:`front_end`) and passes it to what
builds a reply, which picks its words here; no renderer rewrites them afterwards.

Lesson text says what only one front end needs between ``<slack>...</slack>`` or
``<console>...</console>``; :func:`for_front_end` keeps the one that applies (``lessons
validate`` checks the tags, see :func:`tag_problems`).
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.identity import Person


class FrontEnd(StrEnum):
    """Where a reply is shown."""

    SLACK = "slack"
    CONSOLE = "console"


def front_end(person: Person) -> FrontEnd:
    """The front end a person talks from: Slack for Slack users, the console otherwise."""
    return FrontEnd.SLACK if person.platform == "slack" else FrontEnd.CONSOLE


_VARIANT = re.compile(r"<(slack|console)>(.*?)</\1>", re.S)
_TAG = re.compile(r"</?(?:slack|console)>")


def for_front_end(text: str, front: FrontEnd) -> str:
    """Lesson text for one front end: its own ``<front>...</front>`` parts kept, the others dropped."""
    return _VARIANT.sub(lambda m: m.group(2) if m.group(1) == front.value else "", text)


def tag_problems(text: str) -> list[str]:
    """What is wrong with the front-end tags of some lesson text (nothing when none)."""
    left = _TAG.findall(_VARIANT.sub("", text))
    return [f"unmatched or nested front-end tag {tag}" for tag in left]


def tutor_word(words: str, front: FrontEnd) -> str:
    """How to type a tutor word: ``hint``, and in Slack how to type it in a channel too."""
    if front is FrontEnd.CONSOLE:
        return f"`{words}`"
    return f"`{words}` (in a channel: `/tutor {words}`)"


def help_text(front: FrontEnd) -> str:
    """The ``help`` text: every tutor word, said as this front end types it."""
    if front is FrontEnd.CONSOLE:
        where = "Tutor words (type them at the prompt):"
        answer = "on a quiz step the number alone works too: `2`"
        reset = ("start the lesson over and remove your containers and volumes (in a terminal "
                 "I ask first; a script's `reset` goes on at once)")
        leave = "\n- `quit`: leave the console (end of input does too)"
        docker = "Docker commands: type them as you would in a terminal, e.g. `docker ps -a`."
    else:
        where = "Tutor words (after `/tutor` in a channel, or on their own in a DM with me):"
        answer = ("on a quiz step the number alone works too: `/tutor 2`, or `2` in a DM; "
                  "or press the choice's button")
        reset = "start the lesson over and remove your containers and volumes"
        leave = ""
        docker = ("Docker commands: type them as you would in a terminal, e.g. `docker ps -a` "
                  "(in a channel: `/docker ps -a`).")
    return f"""*docker-tutor* teaches Docker with real commands on your own sandbox.

{where}
- `lessons`: the course, lesson by lesson, with your progress
- `start [lesson]`: start or resume a lesson (alone: yours, or the course's next)
- `show`: show the current section again
- `next` / `back`: move through the lesson
- `check`: ask whether the current step is done
- `hint`: a hint for the current step (up to three)
- `answer N`: answer a quiz question with the number of your choice ({answer})
- `edit FILE TEXT`: write TEXT into FILE in your workspace (`$(pwd)`), as an editor would
- `status`: where you are
- `reset`: {reset}
- `help`: this text{leave}

{docker}"""


def edit_usage(front: FrontEnd) -> str:
    """How to use ``edit`` (said when it is typed without a file or text)."""
    channel = " (in a channel: `/tutor edit ...`)" if front is FrontEnd.SLACK else ""
    return (f"Usage: `edit FILE TEXT`, e.g. `edit notes.txt hello from the host`{channel}. "
            "It writes TEXT into FILE in your workspace, the folder that `-v $(pwd):/app` "
            "shows in a container.")


def quiz_how(front: FrontEnd) -> str:
    """How to answer a quiz question: buttons in Slack, the number at the console's prompt."""
    if front is FrontEnd.CONSOLE:
        return "Type the number of your choice (or `answer N`)."
    return ("Answer with `answer N`, N being the number of your choice (in a channel: "
            "`/tutor answer N`), or press a button.")


__all__ = [
    "FrontEnd",
    "edit_usage",
    "for_front_end",
    "front_end",
    "help_text",
    "quiz_how",
    "tag_problems",
    "tutor_word",
]
