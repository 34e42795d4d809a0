"""Reading an append-only table in commit order on PostgreSQL, without missing rows.

Ids come from a sequence when a row is inserted, not when its transaction commits: a reader
that remembers the highest id it read misses a row with a lower id committed after that read.
SQLite has one writer at a time, so there ids do commit in order and readers follow them.

On PostgreSQL each row records the transaction that wrote it (``tx``, filled in by the
database with ``pg_current_xact_id()``), and a reader takes the rows of transactions older
than the oldest one still in progress (``pg_snapshot_xmin(pg_current_snapshot())``): every
such transaction has committed or rolled back for good, so nothing can appear behind the
reader. Its position is that transaction id: each read covers ``[position, horizon)``. The
price is that rows wait, while any transaction on the server older than them is open.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

_HORIZON = sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


def follows_transactions(connection: sa.Connection) -> bool:
    """Whether readers on ``connection`` follow ``tx`` (PostgreSQL) rather than ids."""
    return connection.dialect.name == "postgresql"


def horizon(connection: sa.Connection) -> int:
    """The oldest transaction id still in progress (PostgreSQL): every row with a lower
    ``tx`` is committed and final."""
    return int(connection.execute(_HORIZON).scalar_one())


def rows_between(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[sa.ColumnElement[Any]],
    *,
    after: int,
    until: int,
    limit: int,
    where: Sequence[sa.ColumnElement[bool]] = (),
) -> tuple[list[tuple[Any, ...]], int]:
    """``columns`` of the rows written by transactions in ``[after, until)``, in transaction
    then id order, and the position to read from next. A read never ends inside a
    transaction's rows: past ``limit``, the transaction cut in two is left for the next read,
    or read whole when it alone has more than ``limit`` rows."""
    tx = table.c.tx
    query = sa.select(*columns, tx).where(tx >= after, tx < until, *where)
    rows = connection.execute(query.order_by(tx, table.c.id).limit(limit + 1)).all()
    if len(rows) <= limit:
        return [tuple(row)[:-1] for row in rows], until
    last = int(rows[-1][-1])  # the transaction of the first row left out
    kept = [tuple(row)[:-1] for row in rows[:-1] if int(row[-1]) < last]
    if kept:
        return kept, last
    whole = connection.execute(
        sa.select(*columns).where(tx == last, *where).order_by(table.c.id)
    ).all()
    return [tuple(row) for row in whole], last + 1
