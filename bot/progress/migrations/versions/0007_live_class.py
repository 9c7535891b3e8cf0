"""Live class: each diagnosis the tutor gives, as data, and the stuck alerts sent to instructors.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("command_log") as batch:
        batch.add_column(sa.Column("diagnosis", sa.String(length=80), nullable=True))
    op.create_index("ix_command_log_diagnosis", "command_log", ["lesson_id", "diagnosis"])
    op.create_table(
        "stuck_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.String(length=100), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("learner_id", "lesson_id", "step_id", "reason", name="uq_stuck_alert"),
    )
    op.create_index("ix_stuck_alerts_unsent", "stuck_alerts", ["sent_at"])


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_stuck_alerts_unsent", table_name="stuck_alerts")
    op.drop_table("stuck_alerts")
    op.drop_index("ix_command_log_diagnosis", table_name="command_log")
    with op.batch_alter_table("command_log") as batch:
        batch.drop_column("diagnosis")
