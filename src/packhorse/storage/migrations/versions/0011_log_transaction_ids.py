"""The execution log and the output chunks record the id of the transaction that wrote them.

On PostgreSQL an ``id`` taken from a sequence can commit after a higher one was read, so a
reader that follows ids misses rows. ``tx`` (``pg_current_xact_id()``, filled in by the
database) lets a reader take only the rows of transactions older than the oldest one still in
progress (``pg_snapshot_xmin``): those are all committed or gone for good. On SQLite ``tx``
stays NULL (one writer at a time: ids commit in order).

The ``execution-triggers`` cursor follows ``tx`` on PostgreSQL from here on: rows it has read
get ``tx = 0``, the rest ``tx = 1``, and it starts at 1.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TABLES = ("execution_log", "execution_output")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tx", sa.BigInteger, nullable=True))
        op.create_index(f"ix_{table}_tx_id", table, ["tx", "id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "UPDATE execution_log SET tx = CASE WHEN id <= coalesce((SELECT position FROM"
        " event_cursors WHERE name = 'execution-triggers'), 0) THEN 0 ELSE 1 END"
    )
    op.execute("UPDATE execution_output SET tx = 1")
    op.execute("UPDATE event_cursors SET position = 1 WHERE name = 'execution-triggers'")
    for table in _TABLES:
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN tx SET DEFAULT pg_current_xact_id()::text::bigint"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE event_cursors SET position = (SELECT coalesce(max(id), 0) FROM execution_log)"
            " WHERE name = 'execution-triggers'"
        )
    for table in _TABLES:
        op.drop_index(f"ix_{table}_tx_id", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tx")
