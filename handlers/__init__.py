"""The Slack front end of docker-tutor.

Everything here is Slack-specific (Bolt listeners, Block Kit, the one HTTP entry point:
:mod:`handlers.web.asgi` and :mod:`handlers.web.server`). The fake Slack Web API the tests
use lives in ``tests/``. The core (:mod:`bot`) never imports from this package.
Each listener module has one ``register(app, runtime)``; :func:`handlers.app.build_app`
calls them all.
"""

from __future__ import annotations
