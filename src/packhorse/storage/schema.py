"""Table definitions (SQLAlchemy Core), shared by every adapter and by the migrations.

JSON documents are stored as canonical JSON text, which reads the same on SQLite and
PostgreSQL and lets the stdlib ``sqlite3`` fast path read them without SQLAlchemy.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

packs = sa.Table(
    "packs",
    metadata,
    sa.Column("ref", sa.String(255), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("files", sa.Text, nullable=False),
    sa.Column("registered_at", sa.String(32), nullable=False),
)

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("ref", sa.String(512), primary_key=True),
    sa.Column("pack", sa.String(255), nullable=False, index=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("metadata_file", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user", sa.String(255), nullable=False),
    sa.Column("expiry", sa.String(32), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Index("ix_tokens_expiry", "expiry"),
)
"""Access tokens, stored only as the SHA-256 of the token: a dump of the table signs no one in."""

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("user", sa.String(255), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Index("ix_api_keys_user", "user"),
)
"""API keys, stored only as StackStorm's key hash (so keys exported from StackStorm load)."""

kv_pairs = sa.Table(
    "kv_pairs",
    metadata,
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("user", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(1024), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("secret", sa.Boolean, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("expires_at", sa.String(32), nullable=True, index=True),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

executions = sa.Table(
    "executions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
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
    sa.Index("ix_executions_status_run_after", "status", "run_after"),
    # Lists order by (created_at, id): each index ends with both (see migration 0009).
    sa.Index("ix_executions_action_ref_created_at", "action_ref", "created_at", "id"),
    sa.Index(
        "ix_executions_action_ref_status_created_at_id", "action_ref", "status", "created_at", "id"
    ),
    sa.Index("ix_executions_created_at", "created_at", "id"),
    sa.Index("ix_executions_parent_id", "parent_id", "created_at", "id"),
    sa.Index("ix_executions_status_created_at_id", "status", "created_at", "id"),
)

execution_log = sa.Table(
    "execution_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("execution_id", sa.String(32), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("timestamp", sa.String(32), nullable=False),
    sa.Column("tx", sa.BigInteger, nullable=True),
    sa.Index("ix_execution_log_tx_id", "tx", "id"),
)
"""Every status change. ``tx`` is the writing transaction's id on PostgreSQL (filled in by the
database; NULL on SQLite): readers of the log follow it, not ``id`` (see ``watermark.py``)."""

execution_output = sa.Table(
    "execution_output",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("execution_id", sa.String(32), nullable=False, index=True),
    sa.Column("stream", sa.String(8), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("timestamp", sa.String(32), nullable=False),
    sa.Column("tx", sa.BigInteger, nullable=True),
    sa.Index("ix_execution_output_tx_id", "tx", "id"),
)

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("execution_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)
"""One row per workflow execution (orquesta, action-chain): its kind and its state version.
Every step rewrites it (the version guard), so it holds nothing that grows with the workflow."""

workflow_definitions = sa.Table(
    "workflow_definitions",
    metadata,
    sa.Column("workflow_id", sa.String(32), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),
)
"""What each workflow execution runs, written once when it starts. Kept out of ``workflows``:
SQLite rewrites a whole row to change one column, so a step of a 10,000-task workflow
would have read and compared its 900 kB definition to bump the version."""

workflow_parts = sa.Table(
    "workflow_parts",
    metadata,
    sa.Column("workflow_id", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
"""A workflow's state, split in parts so that one event rewrites only what it changed."""

workflow_events = sa.Table(
    "workflow_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workflow_id", sa.String(32), nullable=False, index=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)
"""The inbox: what happened to a workflow (a child ended, a pause was asked) and is not yet
applied to its state. Deleted in the transaction that applies it."""

trigger_instances = sa.Table(
    "trigger_instances",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("trigger", sa.String(512), nullable=False),
    sa.Column("trigger_type", sa.String(512), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("occurrence_time", sa.String(32), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("trace_tag", sa.String(255), nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", sa.String(32), nullable=True),
    sa.Index("ix_trigger_instances_status_created_at", "status", "created_at"),
    sa.Index("ix_trigger_instances_trigger_created_at", "trigger", "created_at"),
    sa.Index("ix_trigger_instances_created_at", "created_at"),
)
"""What happened: stored before anything acts on it (``pending``), then ``processed`` (or
``processing_failed``) once every matching rule is enforced. A rules engine claims pending
instances (``claimed_by``, ``lease_expires_at``) so that processes sharing a database take
different ones."""

rule_enforcements = sa.Table(
    "rule_enforcements",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("rule", sa.String(512), nullable=False),
    sa.Column("trigger_instance_id", sa.String(32), nullable=False),
    sa.Column("execution_id", sa.String(32), nullable=True),
    sa.Column("failure_reason", sa.Text, nullable=True),
    sa.Column("enforced_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("trigger_instance_id", "rule"),
    sa.Index("ix_rule_enforcements_rule_enforced_at", "rule", "enforced_at"),
    sa.Index("ix_rule_enforcements_enforced_at", "enforced_at"),
)
"""One row per rule a trigger instance matched: the execution it requested or why it could
not. Unique per (trigger instance, rule): re-processing after a crash enforces nothing twice."""

timer_fires = sa.Table(
    "timer_fires",
    metadata,
    sa.Column("trigger", sa.String(512), primary_key=True),
    sa.Column("last_due", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)
"""The last due time each timer fired for: a fire and its trigger instance are written in one
transaction, guarded by this row, so a due time fires once across restarts and processes."""

sensor_status = sa.Table(
    "sensor_status",
    metadata,
    sa.Column("ref", sa.String(512), primary_key=True),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("restarts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("started_at", sa.String(32), nullable=True),
    sa.Column("updated_at", sa.String(32), nullable=False),
)
"""What the sensor container knows about each sensor, for ``packhorse sensor list``."""

event_cursors = sa.Table(
    "event_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)
"""How far a reader of a log has got (the execution log, for action triggers): advanced in
the transaction that stores what it produced."""

intake = sa.Table(
    "intake",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("successor", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("changed_at", sa.String(32), nullable=True),
)
"""The instance's intake (``model/intake.py``): one row (id 1) once it has been changed; no
row reads as open, generation 0."""

intake_acks = sa.Table(
    "intake_acks",
    metadata,
    sa.Column("node", sa.String(128), primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("seen_at", sa.String(32), nullable=False),
)
"""Each ``packhorse up`` process: the intake generation it applied, and when it last looked."""
