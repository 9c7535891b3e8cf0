"""What the docker CLI does by itself, before any request reaches the daemon.

``docker volume prune`` and ``docker container prune`` without ``-f`` ask "Are you sure
you want to continue? [y/N]". A learner's line has no terminal to answer on, so the tutor
does what the real CLI does with no TTY (measured here with docker 28.2.2 and stdin
closed): it prints the warning and the question, reads end-of-input as "no", prunes
nothing and exits 0. The words are the CLI's own; with API 1.42 semantics (which the
sandbox follows) ``volume prune`` removes anonymous volumes only, ``-a`` all unused ones.
"""

from __future__ import annotations

from bot.sandbox import Command, Outcome

QUESTION = "Are you sure you want to continue? [y/N] "
"""The CLI's question; with stdin closed nothing follows it, not even a newline."""

WARNINGS = {
    "container prune": "WARNING! This will remove all stopped containers.\n",
    "volume prune": "WARNING! This will remove anonymous local volumes not used by at least "
                    "one container.\n",
    "volume prune --all": "WARNING! This will remove all local volumes not used by at least "
                          "one container.\n",
}


def answered_locally(command: Command) -> Outcome | None:
    """The CLI's own answer to ``command``, when it never reaches the daemon (else ``None``)."""
    if command.verb not in ("container prune", "volume prune") or command.flag("force"):
        return None
    key = "volume prune --all" if command.verb == "volume prune" and command.flag("all") \
        else command.verb
    return Outcome(0, WARNINGS[key] + QUESTION, facts={"verb": command.verb, "declined": True})
