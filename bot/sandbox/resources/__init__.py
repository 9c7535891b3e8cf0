"""The sandbox's verbs, one independent part per resource family, as docker-py's API mixins.

Each part builds on :class:`~bot.sandbox.engine.client.SandboxBase` alone (no part extends
another, no ``super()``); :mod:`bot.sandbox.engine.sandbox` composes them into ``Sandbox``.
"""
