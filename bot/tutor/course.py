"""The course as the tutor walks it: which lesson ``start`` means, what a lesson builds on, what follows.

Reads the learner's lesson states from the store and the course from the catalog
(:mod:`bot.lessons.course`); :class:`bot.tutor.core.Tutor` asks it for ``lessons``,
``start`` and a lesson's end. Prerequisites are advice: nothing here refuses a lesson.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.identity import Person
from bot.lessons import view
from bot.lessons.model import Catalog, Lesson

if TYPE_CHECKING:
    from bot.progress import ProgressStore


class CourseWalk:
    """The course for one store and catalog.

    Args:
        store: The progress store (lesson states are read, never written).
        catalog: The lessons and the course file.
    """

    def __init__(self, store: ProgressStore, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog

    def rows(self, person: Person | None) -> list[view.CourseRow]:
        """The course in order with the person's state in each written lesson (one read)."""
        states = ({s.lesson_id: s for s in self.store.all_lesson_states(person)}
                  if person is not None else {})
        return [(entry, lesson, states.get(lesson.id) if lesson else None)
                for entry, lesson in self.catalog.entries()]

    def finished(self, person: Person, lesson_id: str) -> bool:
        """Whether the person completed the lesson."""
        state = self.store.lesson_state(person, lesson_id)
        return bool(state and state.completed_at)

    def chosen(self, person: Person, rest: str) -> Lesson:
        """The lesson ``start REST`` means.

        The one named; alone, the one the person is in (unless finished), else the
        course's first lesson they have not finished.

        Raises:
            UsageError: No such lesson, or one still to come.
        """
        if rest:
            return self.catalog.get(rest)
        current = self.store.current_lesson(person)
        if current in {lesson.id for lesson in self.catalog} and not self.finished(person, current):
            return self.catalog.get(str(current))
        return view.recommended(self.rows(person)) or self.catalog.first()

    def missing(self, person: Person, lesson: Lesson) -> list[Lesson]:
        """The lessons ``lesson`` builds on that the person has not finished."""
        return [self.catalog.get(r) for r in self.catalog.requires(lesson.id)
                if not self.finished(person, r)]

    def following(self, person: Person, lesson: Lesson) -> Lesson | None:
        """The next written lesson of the course, unless the person finished it already."""
        after = self.catalog.after(lesson.id)
        return after if after is not None and not self.finished(person, after.id) else None


__all__ = ["CourseWalk"]
