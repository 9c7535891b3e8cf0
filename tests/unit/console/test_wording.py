"""Each front end gets its own words: the console speaks console, Slack keeps Slack's."""

from __future__ import annotations

import pytest

from bot.checks import quiz
from bot.console.render import render
from bot.errors import UsageError
from bot.identity import Person
from bot.lessons import view
from bot.lessons.model import Catalog
from bot.reply import Markdown, Reply
from bot.tutor.core import Tutor
from bot.wording import FrontEnd, for_front_end, front_end, tag_problems
from handlers.render.blocks import reply_blocks

SLACK_ONLY = ("In a channel", "in a channel", "`/tutor", "`/docker", "DM", "button")
"""Words that only make sense in Slack."""

CONSOLE_HELP = "\n".join([
    "docker-tutor teaches Docker with real commands on your own sandbox.",
    "",
    "Tutor words (type them at the prompt):",
    "\u2022 `lessons`: the course, lesson by lesson, with your progress",
    "\u2022 `start [lesson]`: start or resume a lesson (alone: yours, or the course's next)",
    "\u2022 `show`: show the current section again",
    "\u2022 `next` / `back`: move through the lesson",
    "\u2022 `check`: ask whether the current step is done",
    "\u2022 `hint`: a hint for the current step (up to three)",
    "\u2022 `answer N`: answer a quiz question with the number of your choice (on a quiz step "
    "the number alone works too: `2`)",
    "\u2022 `edit FILE TEXT`: write TEXT into FILE in your workspace (`$(pwd)`), as an editor "
    "would",
    "\u2022 `status`: where you are",
    "\u2022 `reset`: start the lesson over and remove your containers and volumes (in a terminal "
    "I ask first; a script's `reset` goes on at once)",
    "\u2022 `help`: this text",
    "\u2022 `quit`: leave the console (end of input does too)",
    "",
    "Docker commands: type them as you would in a terminal, e.g. `docker ps -a`.",
])


def _slack_text(reply: Reply) -> str:
    blocks, _ = reply_blocks(reply)
    return "\n".join(str(block) for block in blocks)


def test_front_end_follows_the_person() -> None:
    """Slack users get Slack's words; the console (and the self-test) the console's."""
    assert front_end(Person("slack", "U1")) is FrontEnd.SLACK
    assert front_end(Person("console", "ada")) is FrontEnd.CONSOLE
    assert front_end(Person("selftest", "x")) is FrontEnd.CONSOLE


def test_console_help_lists_quit_and_no_slack_words(tutor_no_engine: Tutor, alice: Person) -> None:
    """`help` at the console: exactly these words, `quit` included, nothing about channels."""
    assert render(tutor_no_engine.handle(alice, "help")) == CONSOLE_HELP


def test_slack_help_keeps_slack_words(tutor_no_engine: Tutor) -> None:
    """`help` in Slack: how to type words in a channel and a DM, buttons, no `quit`."""
    text = tutor_no_engine.handle(Person("slack", "U0HELP"), "help").text()
    assert "Tutor words (after `/tutor` in a channel, or on their own in a DM with me):" in text
    assert ("Docker commands: type them as you would in a terminal, e.g. `docker ps -a` "
            "(in a channel: `/docker ps -a`).") in text
    assert "or press the choice's button" in text
    assert "quit" not in text


def test_the_intro_section_speaks_each_front_ends_words(catalog: Catalog) -> None:
    """The lesson's first section: how to type commands, said for the terminal and for Slack."""
    lesson = catalog.get("data-persistence")
    console = render(view.section(lesson, lesson.steps[0], front=FrontEnd.CONSOLE))
    assert ("\u2022 Type real Docker commands. Type them at the prompt as you would in a "
            "terminal, for example `docker ps`.") in console
    assert ("\u2022 `next` moves on and `back` goes to the previous step. `help` lists every "
            "word I know, and `quit` leaves.") in console
    assert not [word for word in SLACK_ONLY if word in console]
    slack = _slack_text(view.section(lesson, lesson.steps[0], front=FrontEnd.SLACK))
    assert ("\u2022 Type real Docker commands. In a channel, start them with `/docker` "
            "(for example `/docker ps`). In a DM with me, just type `docker ps`.") in slack
    assert "In a channel, put these words after `/tutor` (for example `/tutor hint`)." in slack
    assert "quit" not in slack


def test_no_section_hint_or_question_has_slack_words_at_the_console(catalog: Catalog) -> None:
    """Every section, hint and quiz question of every lesson, worded for the console."""
    for lesson in catalog:
        for step in lesson.steps:
            parts = [p for q in step.quiz for p in quiz.question_parts(step, q, FrontEnd.CONSOLE)]
            texts = [render(view.section(lesson, step, parts, front=FrontEnd.CONSOLE))]
            texts += [render(view.hint_reply(step, n, front=FrontEnd.CONSOLE))
                      for n in range(len(step.hints))]
            for text in texts:
                assert not [word for word in SLACK_ONLY if word in text], (step.id, text)
                assert "<slack>" not in text and "<console>" not in text


def test_the_quiz_says_how_to_answer_from_each_front_end(catalog: Catalog) -> None:
    """Type the number at the console; the button or `/tutor answer N` in Slack."""
    step = next(s for lesson in catalog for s in lesson.steps if s.quiz)
    console = render(Reply().add(*quiz.question_parts(step, step.quiz[0], FrontEnd.CONSOLE)))
    assert console.endswith("(Type the number of your choice (or `answer N`).)")
    slack = Reply().add(*quiz.question_parts(step, step.quiz[0], FrontEnd.SLACK)).text()
    assert ("Answer with `answer N`, N being the number of your choice (in a channel: "
            "`/tutor answer N`), or press a button.") in slack


def test_edit_usage_is_worded_for_each_front_end(tutor_no_engine: Tutor, alice: Person) -> None:
    """`edit` alone: the usage, with the channel form in Slack only."""
    with pytest.raises(UsageError) as console:
        tutor_no_engine.handle(alice, "edit")
    assert console.value.message == (
        "Usage: `edit FILE TEXT`, e.g. `edit notes.txt hello from the host`. It writes TEXT "
        "into FILE in your workspace, the folder that `-v $(pwd):/app` shows in a container.")
    with pytest.raises(UsageError) as slack:
        tutor_no_engine.handle(Person("slack", "U0EDIT"), "edit")
    assert "e.g. `edit notes.txt hello from the host` (in a channel: `/tutor edit ...`)." in (
        slack.value.message)


def test_front_end_tags_keep_one_variant_and_are_validated() -> None:
    """`<slack>`/`<console>` parts: the front end's own kept, the other dropped, bad tags named."""
    text = "Type it<slack> after `/docker`</slack><console> at the prompt</console>."
    assert for_front_end(text, FrontEnd.SLACK) == "Type it after `/docker`."
    assert for_front_end(text, FrontEnd.CONSOLE) == "Type it at the prompt."
    assert tag_problems(text) == []
    assert tag_problems("a <slack>b") == ["unmatched or nested front-end tag <slack>"]
    assert render(Reply().add(Markdown(for_front_end(text, FrontEnd.CONSOLE)))) == (
        "Type it at the prompt.")
