"""Copy an instance's whole state from one database to another: SQLite to PostgreSQL when a
site outgrows one machine (``packhorse db migrate-to``), PostgreSQL to an SQLite file when an
instance on PostgreSQL is archived (``packhorse archive``), and back when it is restored onto
PostgreSQL.

The target must be empty; it is migrated to the head revision first, every table of
:mod:`packhorse.storage.schema` is copied in dependency order inside one transaction of the
target (a failure leaves it empty), integer id sequences are moved past the copied ids, and both
sides are then read back: row counts and a checksum of every table's rows in primary-key order
must match. The source is read as of one moment, so a source in use is copied consistently:
SQLite's online backup into a temporary file (:func:`sqlite_snapshot`), or one read-only
``REPEATABLE READ`` transaction on PostgreSQL (:func:`postgres_snapshot`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from packhorse.errors import PackhorseError
from packhorse.storage import migrate
from packhorse.storage.database import create_engine
from packhorse.storage.schema import metadata

BATCH = 2000

Source = sa.Engine | sa.Connection
"""An engine, or a connection whose transaction holds the snapshot to copy."""


class CopyError(PackhorseError):
    """The copy could not be made or does not match its source; the target is left empty."""


@dataclass(frozen=True, slots=True)
class TableCopy:
    table: str
    rows: int
    checksum: str


@dataclass
class CopyReport:
    tables: list[TableCopy] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "tables": [
                {"table": t.table, "rows": t.rows, "checksum": t.checksum} for t in self.tables
            ],
        }


@contextlib.contextmanager
def sqlite_snapshot(path: Path) -> Iterator[sa.Engine]:
    """An engine over a copy of the SQLite database at ``path`` as of one moment."""
    with tempfile.TemporaryDirectory(prefix="packhorse-copy-") as scratch:
        copy = Path(scratch) / "snapshot.db"
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        engine = create_engine(f"sqlite:///{copy}")
        try:
            yield engine
        finally:
            engine.dispose()


@contextlib.contextmanager
def postgres_snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection to read a PostgreSQL database through as of one moment: one read-only
    ``REPEATABLE READ`` transaction, whatever the processes using it write meanwhile."""
    with engine.connect() as connection:
        reading = connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        with reading.begin():
            yield reading


@contextlib.contextmanager
def _reading(source: Source) -> Iterator[sa.Connection]:
    if isinstance(source, sa.Connection):
        yield source
        return
    with source.connect() as connection:
        yield connection


def copy_database(
    source: Source, target: sa.Engine, *, progress: Callable[[str], None] | None = None
) -> CopyReport:
    """Copy every table of ``source`` (at the head revision) into the empty ``target``."""
    tell = progress or (lambda _line: None)
    with _reading(source) as reading:
        current = migrate.revision_of(reading)
    if current != migrate.head_revision():
        raise CopyError(
            "the source database is not at the current schema",
            hint="run 'packhorse db upgrade' first",
        )
    _refuse_unless_empty(target)
    tell("creating the schema in the target")
    migrate.upgrade(target)
    tables = metadata.sorted_tables
    try:
        with target.begin() as writing:
            for table in tables:
                tell(f"copying {table.name}")
                _copy_table(source, writing, table)
                _advance_sequences(writing, table)
    except sa.exc.SQLAlchemyError as error:
        _empty(target)
        raise CopyError(f"copying into the target failed: {error}") from None
    tell("checking counts and checksums")
    report = CopyReport()
    problems = []
    for table in tables:
        mine, theirs = _summary(source, table), _summary(target, table)
        if mine != theirs:
            problems.append(
                f"{table.name}: source {mine[0]} rows ({mine[1][:12]}), "
                f"target {theirs[0]} rows ({theirs[1][:12]})"
            )
        report.tables.append(TableCopy(table.name, mine[0], mine[1]))
    if problems:
        _empty(target)
        raise CopyError("the copy does not match its source: " + "; ".join(problems))
    if source.dialect.name != "postgresql" and target.dialect.name == "postgresql":
        tell("moving the execution-log cursor to PostgreSQL's transaction ids")
        with target.begin() as writing:
            _cursor_to_transaction_ids(writing)
    elif source.dialect.name == "postgresql" and target.dialect.name != "postgresql":
        tell("moving the execution-log cursor to SQLite's log ids")
        with target.begin() as writing:
            _cursor_to_log_ids(writing)
    return report


def _cursor_to_transaction_ids(writing: sa.Connection) -> None:
    """On PostgreSQL the readers of the execution log follow transaction ids (``tx``, see
    migration 0011), which SQLite leaves empty: rows the action-trigger cursor has read get
    ``tx = 0``, the others 1, and the cursor starts at 1, as the migration does in place."""
    writing.execute(
        sa.text(
            "UPDATE execution_log SET tx = CASE WHEN id <= coalesce((SELECT position FROM"
            " event_cursors WHERE name = 'execution-triggers'), 0) THEN 0 ELSE 1 END"
            " WHERE tx IS NULL"
        )
    )
    writing.execute(sa.text("UPDATE execution_output SET tx = 1 WHERE tx IS NULL"))
    writing.execute(
        sa.text("UPDATE event_cursors SET position = 1 WHERE name = 'execution-triggers'")
    )


def _cursor_to_log_ids(writing: sa.Connection) -> None:
    """SQLite's readers follow log ids: the action-trigger cursor, a transaction id on
    PostgreSQL, becomes the highest id of the rows it has read (those of older transactions),
    and ``tx`` is left empty as SQLite leaves it, so that a copy back to PostgreSQL starts its
    readers from the cursor, not from the old server's transaction ids."""
    writing.execute(
        sa.text(
            "UPDATE event_cursors SET position = coalesce((SELECT max(id) FROM execution_log"
            " WHERE tx < event_cursors.position), 0) WHERE name = 'execution-triggers'"
        )
    )
    writing.execute(sa.text("UPDATE execution_log SET tx = NULL"))
    writing.execute(sa.text("UPDATE execution_output SET tx = NULL"))


def _refuse_unless_empty(target: sa.Engine) -> None:
    names = set(sa.inspect(target).get_table_names())
    ours = {table.name for table in metadata.sorted_tables}
    if not names & ours:
        return
    with target.connect() as connection:
        for table in metadata.sorted_tables:
            if (
                table.name in names
                and connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
            ):
                raise CopyError(
                    f"the target database is not empty (table {table.name} has rows)",
                    hint="give an empty database: packhorse never merges two instances' state",
                )


def _order(table: sa.Table, dialect: str) -> list[sa.ColumnElement[Any]]:
    """Primary-key order, text compared byte by byte on both databases (PostgreSQL's default
    collation would sort ``a_b`` and ``aB`` otherwise than SQLite)."""
    columns = list(table.primary_key.columns) or list(table.columns)
    if dialect != "postgresql":
        return list(columns)
    return [c.collate("C") if isinstance(c.type, sa.String) else c for c in columns]


def _copy_table(source: Source, writing: sa.Connection, table: sa.Table) -> None:
    with _reading(source) as reading:
        result = reading.execution_options(stream_results=True).execute(
            sa.select(table).order_by(*_order(table, source.dialect.name))
        )
        while rows := result.fetchmany(BATCH):
            writing.execute(table.insert(), [dict(row._mapping) for row in rows])


def _advance_sequences(writing: sa.Connection, table: sa.Table) -> None:
    """PostgreSQL: the id sequence of a table with an integer key continues after the copied
    ids (rows were inserted with their ids, which does not move the sequence)."""
    if writing.dialect.name != "postgresql":
        return
    for column in table.primary_key.columns:
        if isinstance(column.type, sa.Integer) and column.autoincrement in (True, "auto"):
            highest = writing.execute(sa.select(sa.func.max(column))).scalar()
            writing.execute(
                sa.text("SELECT setval(pg_get_serial_sequence(:table, :column), :next, false)"),
                {"table": table.name, "column": column.name, "next": int(highest or 0) + 1},
            )


def _summary(engine: Source, table: sa.Table) -> tuple[int, str]:
    """Row count and a checksum of the rows in primary-key order, values as JSON."""
    digest = hashlib.sha256()
    count = 0
    with _reading(engine) as connection:
        result = connection.execution_options(stream_results=True).execute(
            sa.select(table).order_by(*_order(table, engine.dialect.name))
        )
        while rows := result.fetchmany(BATCH):
            for row in rows:
                digest.update(json.dumps(list(row), default=str, sort_keys=True).encode())
                digest.update(b"\n")
                count += 1
    return count, digest.hexdigest()


def _empty(target: sa.Engine) -> None:
    """Leave the target as it was given: without Packhorse's tables."""
    with contextlib.suppress(sa.exc.SQLAlchemyError), target.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
