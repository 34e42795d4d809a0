"""Workflow definitions apart from the workflow row that every step rewrites.

Bumping a workflow's state version rewrote the whole row, its definition included: SQLite
reads and compares the definition's overflow pages to change one column, so each step of a
10,000-task workflow cost five times what it costs at 1,000 tasks.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_definitions",
        sa.Column("workflow_id", sa.String(32), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", name="pk_workflow_definitions"),
    )
    op.execute(
        "INSERT INTO workflow_definitions (workflow_id, definition) "
        "SELECT execution_id, definition FROM workflows"
    )
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("definition")


def downgrade() -> None:
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(sa.Column("definition", sa.Text, nullable=False, server_default=""))
    op.execute(
        "UPDATE workflows SET definition = COALESCE((SELECT definition FROM "
        "workflow_definitions WHERE workflow_definitions.workflow_id = workflows.execution_id), '')"
    )
    with op.batch_alter_table("workflows") as batch:
        batch.alter_column("definition", server_default=None)
    op.drop_table("workflow_definitions")
