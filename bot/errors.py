"""The tutor's one exception root and its subclasses.

Every error a learner or an instructor may see derives from :class:`TutorError`.
Handlers (Slack, console) catch only this root and render ``str(error)``; any other
exception is a bug and is allowed to surface in tests and logs.
"""

from __future__ import annotations


class TutorError(Exception):
    """Root of every error the tutor shows to a person.

    Args:
        message: One line, written for the learner; never a traceback.
        hint: An optional second line that tells the learner what to do instead.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(TutorError):
    """A tutor subcommand was misspelled or given the wrong arguments."""


class CommandRefused(TutorError):
    """The sandbox policy refused a learner command before it reached the engine.

    Args:
        message: The one-line reason, naming the option or verb that was refused.
        option: The refused option or verb, for logs and tests.
        hint: What the learner may do instead.
    """

    def __init__(self, message: str, *, option: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.option = option


class QuotaExceeded(CommandRefused):
    """The learner reached a quota (containers, volumes, commands per minute)."""


class EngineUnavailable(TutorError):
    """The Docker engine could not be reached or failed in an unexpected way."""


class EngineDown(EngineUnavailable):
    """The engine of the pool a learner is placed on does not answer (their sandbox machine).

    Only that engine's learners see it; ``reset`` places them on a healthy engine.
    """


class ImageUnavailable(TutorError):
    """A lesson image is missing and could neither be pulled nor built."""


class LessonError(TutorError):
    """A lesson file is missing or malformed."""


class NotAllowed(TutorError):
    """The person asked for something their role does not permit (e.g. class data)."""


class StoreError(TutorError):
    """The progress store could not complete an operation; nothing was changed."""


class DeliveryError(TutorError):
    """A front end could not deliver a reply: the chat platform refused it or was unreachable.

    The learner cannot be told (their reply is what did not arrive): front ends log it for
    the operators as a warning, never as a bug.

    Args:
        message: One line for the operators' log.
        code: The platform's own error code (Slack's ``channel_not_found``, ``http_404``).
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
