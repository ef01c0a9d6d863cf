"""A change set carries a note: why it was made.

Revision ID: r0002
Revises: r0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision: str | None = "r0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``store_changes.note`` (empty for the changes made before)."""
    op.add_column("store_changes", sa.Column("note", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop the notes."""
    with op.batch_alter_table("store_changes") as batch:
        batch.drop_column("note")
