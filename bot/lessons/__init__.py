"""Lessons: the model loaded from ``lessons/``, how they are shown, validated and self-tested."""
