"""A learner's line count: each command line adds one, so a replica can tell it saw the last.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.add_column("learners", sa.Column("line_seq", sa.Integer(), nullable=False,
                                        server_default="0"))


def downgrade() -> None:
    """Revert this migration.

    Dropped in place (SQLite >= 3.35 can): a batch copy of ``learners`` would drop the
    table it copies, and with it, through ``ON DELETE CASCADE``, every learner's log.
    """
    op.execute("ALTER TABLE learners DROP COLUMN line_seq")
