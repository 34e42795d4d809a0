"""Indexes that page executions newest first without reading the rows they skip.

Lists order by ``(created_at, id)``; ``id`` is the primary key but not the rowid, so an index
without it made SQLite read every skipped row to order ties: ``offset=10000`` of one action's
executions read 10,000 rows of 2 KB results. Each filtered index now ends in
``created_at, id``, and the common ``action`` + ``status`` filter has its own.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_REPLACED = {
    "ix_executions_action_ref_created_at": (
        ["action_ref", "created_at"],
        ["action_ref", "created_at", "id"],
    ),
    "ix_executions_created_at": (["created_at"], ["created_at", "id"]),
    "ix_executions_parent_id": (["parent_id"], ["parent_id", "created_at", "id"]),
}
_ADDED = {
    "ix_executions_action_ref_status_created_at_id": ["action_ref", "status", "created_at", "id"]
}


def upgrade() -> None:
    for name, (_before, after) in _REPLACED.items():
        op.drop_index(name, table_name="executions")
        op.create_index(name, "executions", after)
    for name, columns in _ADDED.items():
        op.create_index(name, "executions", columns)


def downgrade() -> None:
    for name in _ADDED:
        op.drop_index(name, table_name="executions")
    for name, (before, _after) in _REPLACED.items():
        op.drop_index(name, table_name="executions")
        op.create_index(name, "executions", before)
