"""Events: trigger instances, rule enforcements, timer fires, sensor status and log cursors.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_instances",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(512), nullable=False),
        sa.Column("trigger_type", sa.String(512), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("occurrence_time", sa.String(32), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("trace_tag", sa.String(255), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trigger_instances"),
    )
    op.create_index(
        "ix_trigger_instances_status_created_at", "trigger_instances", ["status", "created_at"]
    )
    op.create_index(
        "ix_trigger_instances_trigger_created_at", "trigger_instances", ["trigger", "created_at"]
    )
    op.create_index("ix_trigger_instances_created_at", "trigger_instances", ["created_at"])
    op.create_table(
        "rule_enforcements",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(512), nullable=False),
        sa.Column("trigger_instance_id", sa.String(32), nullable=False),
        sa.Column("execution_id", sa.String(32), nullable=True),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("enforced_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rule_enforcements"),
        sa.UniqueConstraint(
            "trigger_instance_id", "rule", name="uq_rule_enforcements_trigger_instance_id_rule"
        ),
    )
    op.create_index(
        "ix_rule_enforcements_rule_enforced_at", "rule_enforcements", ["rule", "enforced_at"]
    )
    op.create_index("ix_rule_enforcements_enforced_at", "rule_enforcements", ["enforced_at"])
    op.create_table(
        "timer_fires",
        sa.Column("trigger", sa.String(512), nullable=False),
        sa.Column("last_due", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("trigger", name="pk_timer_fires"),
    )
    op.create_table(
        "sensor_status",
        sa.Column("ref", sa.String(512), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("restarts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("started_at", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("ref", name="pk_sensor_status"),
    )
    op.create_table(
        "event_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_event_cursors"),
    )


def downgrade() -> None:
    op.drop_table("event_cursors")
    op.drop_table("sensor_status")
    op.drop_table("timer_fires")
    op.drop_index("ix_rule_enforcements_enforced_at", table_name="rule_enforcements")
    op.drop_index("ix_rule_enforcements_rule_enforced_at", table_name="rule_enforcements")
    op.drop_table("rule_enforcements")
    op.drop_index("ix_trigger_instances_created_at", table_name="trigger_instances")
    op.drop_index("ix_trigger_instances_trigger_created_at", table_name="trigger_instances")
    op.drop_index("ix_trigger_instances_status_created_at", table_name="trigger_instances")
    op.drop_table("trigger_instances")
