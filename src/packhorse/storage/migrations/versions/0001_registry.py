"""Content registry and users.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "packs",
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("registered_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("ref", name="pk_packs"),
    )
    op.create_table(
        "resources",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(512), nullable=False),
        sa.Column("pack", sa.String(255), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("metadata_file", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("kind", "ref", name="pk_resources"),
    )
    op.create_index("ix_resources_pack", "resources", ["pack"])
    op.create_table(
        "users",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_index("ix_resources_pack", table_name="resources")
    op.drop_table("resources")
    op.drop_table("packs")
