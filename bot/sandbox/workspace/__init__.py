"""A learner's workspace, kept in the engine as a volume, and the archives it travels in."""
