"""Datastore key-value pairs.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kv_pairs",
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("secret", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("scope", "user", "name", name="pk_kv_pairs"),
    )
    op.create_index("ix_kv_pairs_expires_at", "kv_pairs", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_kv_pairs_expires_at", table_name="kv_pairs")
    op.drop_table("kv_pairs")
