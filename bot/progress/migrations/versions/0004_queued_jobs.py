"""Queued jobs: the durable work queue between the Slack acks and the workers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "queued_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=200), nullable=True),
        sa.Column("learner_key", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    op.create_index("ix_queued_jobs_learner_key", "queued_jobs", ["learner_key"], unique=False)
    op.create_index("ix_queued_jobs_state_id", "queued_jobs", ["state", "id"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_queued_jobs_state_id", table_name="queued_jobs")
    op.drop_index("ix_queued_jobs_learner_key", table_name="queued_jobs")
    op.drop_table("queued_jobs")
