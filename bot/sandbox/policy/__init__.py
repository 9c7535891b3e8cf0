"""The command side of the sandbox: parsing a learner's line and every rule that refuses one.

Nothing here imports ``docker``: a rule is checked before anything reaches the engine.
"""
