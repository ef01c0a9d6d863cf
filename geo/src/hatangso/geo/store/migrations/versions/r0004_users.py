"""The users of the service: name, role, operator, province and a salted hash of the token.

Only the workspace's own store (``<workspace>/record.gpkg``, or the database's default
schema) holds users; the table is created in every store so that all share one schema.

Revision ID: r0004
Revises: r0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# SQLite's INTEGER is 64-bit already, and GeoPackage readers know no BIGINT.
_MICROSECONDS = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "r0004"
down_revision: str | None = "r0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``store_users``."""
    op.create_table(
        "store_users",
        sa.Column("user_no", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("operator", sa.Text, nullable=True),
        sa.Column("province", sa.Text, nullable=True),
        sa.Column("token_id", sa.Text, nullable=False, unique=True),
        sa.Column("salt", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("created_us", _MICROSECONDS, nullable=False),
        sa.Column("revoked_us", _MICROSECONDS, nullable=True),
        sa.Column("last_used_us", _MICROSECONDS, nullable=True),
    )


def downgrade() -> None:
    """Drop the users (their tokens stop working)."""
    op.drop_table("store_users")
