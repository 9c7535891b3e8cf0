"""The terminal console: the read-eval loop and rendering replies for a terminal."""
