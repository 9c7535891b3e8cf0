"""Learner placement: which engine of the pool each learner is pinned to.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "learner_engine",
        sa.Column("learner_key", sa.String(length=200), nullable=False),
        sa.Column("engine", sa.String(length=300), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("learner_key"),
    )
    op.create_index("ix_learner_engine_engine", "learner_engine", ["engine"], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index("ix_learner_engine_engine", table_name="learner_engine")
    op.drop_table("learner_engine")
