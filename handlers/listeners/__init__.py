"""Bolt listeners, one module each with ``register(app, runtime)``.

Slash commands, buttons, DMs, the App Home, stuck alerts, and dedupe of Slack retries.
"""
