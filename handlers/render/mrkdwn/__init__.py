"""CommonMark (as the lessons are written) to Slack ``mrkdwn``, exact lengths and safe cuts.

The public face of three modules, each named for what it holds:

* :mod:`handlers.render.mrkdwn.text`: characters and lengths: escaping, text Slack cannot read
  as markup (:func:`literal`), code text, and lengths as Slack counts them
  (:func:`slack_len`);
* :mod:`handlers.render.mrkdwn.convert`: lesson prose (:func:`to_mrkdwn`) and tutor messages
  (:func:`message_mrkdwn`) as ``mrkdwn``;
* :mod:`handlers.render.mrkdwn.cuts`: pieces and heads of converted text that fit Slack's limits
  (:func:`split_mrkdwn`, :func:`clip_mrkdwn`), cut between whole entities and links.
"""

from __future__ import annotations

from handlers.render.mrkdwn.convert import message_mrkdwn, to_mrkdwn
from handlers.render.mrkdwn.cuts import ELLIPSIS, SECTION_LIMIT, clip_mrkdwn, safe_cut, split_mrkdwn
from handlers.render.mrkdwn.text import (
    FENCE,
    GRAVE,
    ZWSP,
    clean,
    code_cost,
    code_span,
    code_text,
    escape,
    literal,
    slack_len,
)

__all__ = [
    "ELLIPSIS",
    "FENCE",
    "GRAVE",
    "SECTION_LIMIT",
    "ZWSP",
    "clean",
    "clip_mrkdwn",
    "code_cost",
    "code_span",
    "code_text",
    "escape",
    "literal",
    "message_mrkdwn",
    "safe_cut",
    "slack_len",
    "split_mrkdwn",
    "to_mrkdwn",
]
