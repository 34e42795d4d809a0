"""The intake of an instance (open, draining, closed) and each process's acknowledgement.

``packhorse cutover`` drains the old instance through the database, not by signals, because
an instance may be several processes (scale-out); each process acknowledges the generation it
applied. See ``model/intake.py``. On PostgreSQL a change of the intake also sends ``NOTIFY
packhorse, 'intake'`` (the function of migration 0012), so processes apply it at once rather
than at their next poll.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("successor", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("changed_at", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_intake"),
    )
    op.create_table(
        "intake_acks",
        sa.Column("node", sa.String(128), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("seen_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("node", name="pk_intake_acks"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER packhorse_notify_intake AFTER INSERT OR UPDATE ON intake"
            " FOR EACH STATEMENT EXECUTE FUNCTION packhorse_notify('intake')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER packhorse_notify_intake ON intake")
    op.drop_table("intake_acks")
    op.drop_table("intake")
