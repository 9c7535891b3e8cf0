"""Alembic migrations of the progress store."""
