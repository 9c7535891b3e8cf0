"""``docker compose`` in the sandbox: a learner's ``compose.yaml`` mapped onto the sandbox's verbs.

* :mod:`bot.sandbox.compose.spec` reads and checks the file (no engine, no ``docker``):
  a bounded YAML document, a subset of the Compose Specification, every other key
  refused with a one-line reason that names it;
* :mod:`bot.sandbox.compose.keys` holds those reasons, as data;
* :mod:`bot.sandbox.compose.engine` acts: each service becomes a ``docker run``
  :class:`~bot.sandbox.policy.parser.Command`, vetted and run exactly as one the learner
  typed, under the labels the real Compose sets.

Nothing here is imported outside :mod:`bot.sandbox`.
"""
