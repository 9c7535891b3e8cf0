"""The engine side of the sandbox: one module per resource family, and docker-py's errors translated."""
