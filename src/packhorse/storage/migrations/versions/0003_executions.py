"""Executions (the durable work queue) and their status log.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("action_ref", sa.String(512), nullable=False),
        sa.Column("runner_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("start_timestamp", sa.String(32), nullable=True),
        sa.Column("end_timestamp", sa.String(32), nullable=True),
        sa.Column("run_after", sa.String(32), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.String(32), nullable=True),
        sa.Column("pids", sa.Text, nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
    )
    op.create_index("ix_executions_status_run_after", "executions", ["status", "run_after"])
    op.create_index(
        "ix_executions_action_ref_created_at", "executions", ["action_ref", "created_at"]
    )
    op.create_index("ix_executions_created_at", "executions", ["created_at"])
    op.create_index("ix_executions_parent_id", "executions", ["parent_id"])
    op.create_table(
        "execution_log",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("timestamp", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_execution_log"),
    )
    op.create_index("ix_execution_log_execution_id", "execution_log", ["execution_id"])
    op.create_table(
        "execution_output",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(32), nullable=False),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("timestamp", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_execution_output"),
    )
    op.create_index("ix_execution_output_execution_id", "execution_output", ["execution_id"])


def downgrade() -> None:
    op.drop_index("ix_execution_output_execution_id", table_name="execution_output")
    op.drop_table("execution_output")
    op.drop_index("ix_execution_log_execution_id", table_name="execution_log")
    op.drop_table("execution_log")
    op.drop_index("ix_executions_parent_id", table_name="executions")
    op.drop_index("ix_executions_created_at", table_name="executions")
    op.drop_index("ix_executions_action_ref_created_at", table_name="executions")
    op.drop_index("ix_executions_status_run_after", table_name="executions")
    op.drop_table("executions")
