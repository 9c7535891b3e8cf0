"""docker-tutor: teaches Docker hands-on on a sandboxed engine.

The core package. It never imports ``slack_bolt``: Slack lives in ``handlers``.
"""

from __future__ import annotations

__version__ = "0.1.0"
