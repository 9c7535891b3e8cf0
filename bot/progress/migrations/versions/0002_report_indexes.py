"""Indexes for the instructors' class reports (bot/progress/queries.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_index(
        "ix_step_progress_lesson_done", "step_progress", ["lesson_id", "step_id", "completed_at"],
        unique=False,
    )
    op.create_index(
        "ix_step_progress_learner_done", "step_progress", ["learner_id", "lesson_id", "completed_at"],
        unique=False,
    )
    op.create_index(
        "ix_command_log_attempts", "command_log",
        ["learner_id", "lesson_id", "step_id", "kind", "at", "exit_status"], unique=False,
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_command_log_attempts", table_name="command_log")
    op.drop_index("ix_step_progress_learner_done", table_name="step_progress")
    op.drop_index("ix_step_progress_lesson_done", table_name="step_progress")
