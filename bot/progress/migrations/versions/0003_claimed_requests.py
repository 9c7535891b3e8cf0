"""Claimed requests: Slack retries are run once even across replicas.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "claimed_requests",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_claimed_requests_claimed_at", "claimed_requests", ["claimed_at"],
                    unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_claimed_requests_claimed_at", table_name="claimed_requests")
    op.drop_table("claimed_requests")
