"""Check primitives about engine objects: containers, files, volumes, Redis keys, restarts, images.

Each module registers its primitives with :func:`bot.checks.library.check`; lessons combine
them in ``lesson.toml``.
"""
