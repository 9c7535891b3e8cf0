"""Initial schema: learners, positions, step states, challenge completions, command log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "learners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("current_lesson", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_active_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "challenge_completions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.String(length=100), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("learner_id", "lesson_id", "step_id", name="uq_challenge_completion"),
    )
    op.create_index("ix_challenge_lesson", "challenge_completions", ["lesson_id"], unique=False)
    op.create_table(
        "command_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.String(length=100), nullable=True),
        sa.Column("step_id", sa.String(length=100), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("exit_status", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_command_log_learner_at", "command_log", ["learner_id", "at"], unique=False)
    op.create_index("ix_command_log_lesson_at", "command_log", ["lesson_id", "at"], unique=False)
    op.create_table(
        "lesson_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.String(length=100), nullable=False),
        sa.Column("current_step", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("learner_id", "lesson_id", name="uq_lesson_progress_learner_lesson"),
    )
    op.create_index(
        "ix_lesson_progress_lesson_step", "lesson_progress", ["lesson_id", "current_step"], unique=False
    )
    op.create_table(
        "step_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.String(length=100), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("hints_shown", sa.Integer(), nullable=False),
        sa.Column("check_attempts", sa.Integer(), nullable=False),
        sa.Column("failed_checks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("learner_id", "lesson_id", "step_id", name="uq_step_progress"),
    )
    op.create_index("ix_step_progress_lesson_step", "step_progress", ["lesson_id", "step_id"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_step_progress_lesson_step", table_name="step_progress")
    op.drop_table("step_progress")
    op.drop_index("ix_lesson_progress_lesson_step", table_name="lesson_progress")
    op.drop_table("lesson_progress")
    op.drop_index("ix_command_log_lesson_at", table_name="command_log")
    op.drop_index("ix_command_log_learner_at", table_name="command_log")
    op.drop_table("command_log")
    op.drop_index("ix_challenge_lesson", table_name="challenge_completions")
    op.drop_table("challenge_completions")
    op.drop_table("learners")
