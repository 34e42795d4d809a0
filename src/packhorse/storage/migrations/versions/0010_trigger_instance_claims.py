"""Pending trigger instances are claimed with a lease, as executions are.

Several ``packhorse up`` processes on one PostgreSQL database each run a rules engine; a
claim (``FOR UPDATE SKIP LOCKED`` there) gives each pending instance to one of them. The
lease lets another process take it over when the holder dies before marking it processed.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trigger_instances") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trigger_instances") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("claimed_by")
