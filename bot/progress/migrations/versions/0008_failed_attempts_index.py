"""Failed attempts count traps and lost keys: an index over each learner's diagnoses on a step.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_index(
        "ix_command_log_diagnoses", "command_log",
        ["learner_id", "lesson_id", "step_id", "diagnosis", "at", "kind", "exit_status"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_command_log_diagnoses", table_name="command_log")
