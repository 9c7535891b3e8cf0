"""What the sandbox knows about Redis: the hooks ``exec`` calls and reading ``redis-cli``."""
