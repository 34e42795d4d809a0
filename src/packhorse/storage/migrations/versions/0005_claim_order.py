"""An index that serves the queue's claim in order: scheduled executions, oldest first.

Without it, each claim sorts every scheduled execution (a 10,000-branch workflow fan-out
queues 10,000 at once), which makes draining a large queue quadratic.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_executions_status_created_at_id", "executions", ["status", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_executions_status_created_at_id", table_name="executions")
