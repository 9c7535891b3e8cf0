"""Quizzes: asking a step's questions, grading answers, and the ``quiz_answered`` check.

Answers are recorded in the command log (kind ``quiz``, exit status 0 for a right answer,
1 for a wrong one) with the facts ``{"quiz": {"step", "question", "choice", "correct"}}``,
so a quiz is verified from history like any other step. In Slack each choice is a button
whose value is sent back as ``answer QUESTION:N``; in the console the learner types
``answer N`` for the current question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.checks.framework import CheckContext, CheckResult, ParamSpec
from bot.checks.library import check
from bot.errors import UsageError
from bot.lessons.model import QuizQuestion, Step
from bot.progress import CommandEntry
from bot.reply import Actions, Context, Markdown, Notice, Part, Tone
from bot.wording import FrontEnd, quiz_how

KIND = "quiz"
"""The command-log kind of an answer."""

_EXPLICIT = re.compile(r"^(?P<question>[A-Za-z0-9_-]+)\s*[:= ]\s*(?P<choice>\d+)$")


def answers(history: Sequence[CommandEntry], step_id: str) -> list[dict[str, Any]]:
    """The recorded answers to a step's questions, oldest first."""
    found = []
    for entry in history:
        fact = (entry.facts or {}).get("quiz") if entry.kind == KIND else None
        if isinstance(fact, dict) and fact.get("step") == step_id:
            found.append(fact)
    return found


def answered_right(history: Sequence[CommandEntry], step_id: str) -> set[str]:
    """Ids of the step's questions answered right."""
    return {str(a.get("question")) for a in answers(history, step_id) if a.get("correct")}


def current(step: Step, right: set[str]) -> QuizQuestion | None:
    """The first question not yet answered right (``None`` when all are)."""
    return next((q for q in step.quiz if q.id not in right), None)


def question_parts(step: Step, question: QuizQuestion,
                   front: FrontEnd = FrontEnd.SLACK) -> list[Part]:
    """A question as reply parts: its text, its choices, how to answer from ``front``."""
    number = step.quiz.index(question) + 1
    return [
        Markdown(f"**Question {number} of {len(step.quiz)}.** {question.text}"),
        Actions(choices=tuple((f"{question.id}:{i}", label)
                              for i, label in enumerate(question.choices, start=1))),
        Context(quiz_how(front)),
    ]


@dataclass
class Graded:
    """One graded answer.

    Attributes:
        question: The question answered.
        choice: The 1-based choice picked.
        correct: Whether it was the right one.
        parts: What to tell the learner (feedback, then the next question if any).
        fact: What to record in the command log under ``quiz``.
        fresh: Whether to record it (``False`` for a stale button of a question
            already answered right).
    """

    question: QuizQuestion
    choice: int
    correct: bool
    parts: list[Part] = field(default_factory=list)
    fact: dict[str, Any] = field(default_factory=dict)
    fresh: bool = True

    @property
    def text(self) -> str:
        """The command-log text of the answer."""
        return f"answer {self.question.id}:{self.choice}"


def _parse(step: Step, rest: str, now: QuizQuestion | None) -> tuple[QuizQuestion, int]:
    rest = rest.strip()
    explicit = _EXPLICIT.match(rest)
    if explicit:
        wanted = explicit.group("question")
        question = next((q for q in step.quiz if q.id == wanted), None)
        if question is None:
            raise UsageError(f"There is no question `{wanted}` in this section.")
        raw = explicit.group("choice")
    else:
        if now is None:
            raise UsageError("You've answered every question here. Type `next` to go on.")
        question = now
        labels = [c.lower() for c in question.choices]
        raw = str(labels.index(rest.lower()) + 1) if rest.lower() in labels else rest
    if not raw.isdigit():
        raise UsageError(f"Answer with the number of your choice, e.g. `answer 1` "
                         f"(1 to {len(question.choices)}).")
    choice = int(raw)
    if not 1 <= choice <= len(question.choices):
        raise UsageError(f"Pick a number from 1 to {len(question.choices)}.")
    return question, choice


def grade(step: Step, rest: str, history: Sequence[CommandEntry],
          front: FrontEnd = FrontEnd.SLACK) -> Graded:
    """Grade what follows ``answer`` against the step's quiz.

    Args:
        step: The current step.
        rest: ``2`` (the current question), ``q1:2`` (a button), or a choice's label.
        history: The learner's checked history since the lesson started.
        front: Where the next question is shown.

    Raises:
        UsageError: The step has no quiz, or the answer names no valid choice.
    """
    if not step.quiz:
        raise UsageError("There's no question to answer in this section.")
    right = answered_right(history, step.id)
    question, choice = _parse(step, rest, current(step, right))
    if question.id in right:
        graded = Graded(question, choice, True, fresh=False)
        graded.parts.append(Notice("You already answered that one right.", Tone.INFO))
    else:
        correct = choice == question.answer
        graded = Graded(question, choice, correct, fact={
            "step": step.id, "question": question.id, "choice": choice, "correct": correct,
        })
        if correct:
            right.add(question.id)
            graded.parts.append(Notice(f"Right: {question.choices[choice - 1]}. "
                                       f"{question.explanation}".strip(), Tone.SUCCESS))
        else:
            said = question.feedback[choice - 1] if choice <= len(question.feedback) else ""
            graded.parts.append(Notice(f"Not quite. {said}".strip() + " Try again.",
                                       Tone.WARNING))
    following = current(step, right)
    if following is not None:
        graded.parts.extend(question_parts(step, following, front))
    return graded


@check(
    "quiz_answered",
    ParamSpec("step"),
    ParamSpec("questions", kind=list),
    states=("quiz-unanswered", "quiz-wrong"),
)
def quiz_answered(ctx: CheckContext, p: dict[str, Any]) -> CheckResult:
    """Every question of a step's quiz was answered right (added by the loader).

    Parameters: ``step`` (the step's id) and ``questions`` (their ids). A lesson file
    never names this check: every step with ``[[steps.quiz]]`` gets it.
    """
    step, questions = str(p["step"]), [str(q) for q in p["questions"]]
    given = answers(ctx.history, step)
    right = {str(a.get("question")) for a in given if a.get("correct")}
    left = [q for q in questions if q not in right]
    if left:
        wrong = bool(given) and not given[-1].get("correct")
        done = len(questions) - len(left)
        return CheckResult(
            False,
            f"{done} of {len(questions)} questions answered right so far. Answer the next one "
            "with `answer N` (type `show` to see it again).",
            state="quiz-wrong" if wrong else "quiz-unanswered",
        )
    first: dict[str, bool] = {}
    for answer in given:
        first.setdefault(str(answer.get("question")), bool(answer.get("correct")))
    on_first = sum(1 for q in questions if first.get(q))
    return CheckResult(
        True,
        f"All {len(questions)} questions answered right ({on_first} on the first try).",
        evidence={"quiz_first_try": on_first, "quiz_questions": len(questions)},
    )
