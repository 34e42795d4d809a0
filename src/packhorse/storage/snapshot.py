"""A consistent, read-only snapshot of an instance's database, for ``bundle export``.

Everything a bundle holds is read at one point in time, while the instance may be running:

- **SQLite**: the database is copied with SQLite's online backup API, from a read-only
  connection, into a temporary file, in one step (a read transaction: writers in WAL mode
  carry on meanwhile); everything is then read from the copy. Nothing is written to the
  source file, and no checkpoint is run on it.
- **PostgreSQL**: everything is read in one ``REPEATABLE READ, READ ONLY`` transaction.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from packhorse.errors import StorageError
from packhorse.model.datastore import KeyValue, Scope
from packhorse.storage import schema
from packhorse.storage.database import create_engine
from packhorse.storage.events import INSTANCE_COLUMNS


@contextlib.contextmanager
def open_snapshot(url: str) -> Iterator[Snapshot]:
    """A :class:`Snapshot` of the database at ``url`` (an SQLAlchemy URL)."""
    try:
        if url.startswith("sqlite"):
            with tempfile.TemporaryDirectory(prefix="packhorse-snapshot-") as folder:
                copy = Path(folder) / "snapshot.db"
                _backup_sqlite(Path(sa.make_url(url).database or ""), copy)
                engine = sa.create_engine(f"sqlite:///{copy}")
                try:
                    with engine.connect() as connection:
                        yield Snapshot(connection)
                finally:
                    engine.dispose()
        else:
            engine = create_engine(url)
            try:
                with (
                    engine.connect().execution_options(
                        isolation_level="REPEATABLE READ", postgresql_readonly=True
                    ) as connection,
                    connection.begin(),
                ):
                    yield Snapshot(connection)
            finally:
                engine.dispose()
    except SQLAlchemyError as error:
        raise StorageError(f"database error while reading the snapshot: {error}") from error


def backup_sqlite(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` into the new file ``target`` as of one moment:
    SQLite's online backup from a read-only connection (writers go on meanwhile)."""
    _backup_sqlite(source, target)


def _backup_sqlite(source: Path, target: Path) -> None:
    if not source.is_file():
        raise StorageError(f"{source}: no database file")
    uri = f"file:{urllib.parse.quote(str(source))}?mode=ro"
    try:
        reader = sqlite3.connect(uri, uri=True, timeout=10)
        try:
            writer = sqlite3.connect(target)
            try:
                reader.backup(writer)  # all pages in one step: one read transaction
            finally:
                writer.close()
        finally:
            reader.close()
    except sqlite3.Error as error:
        raise StorageError(f"{source}: cannot copy the database: {error}") from error


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Snapshot:
    """Reads of one consistent snapshot; rows in a stable order (by key)."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def _rows(self, query: sa.Select[Any]) -> list[sa.RowMapping]:
        return list(self._connection.execute(query).mappings())

    def packs(self) -> list[tuple[str, str, str]]:
        """``(ref, version, path)`` of every registered pack; ``path`` as registered
        (relative to the instance folder, or absolute)."""
        table = schema.packs
        query = sa.select(table.c.ref, table.c.version, table.c.path).order_by(table.c.ref)
        return [(str(r), str(v), str(p)) for r, v, p in self._connection.execute(query)]

    def ids(self, table: sa.Table) -> frozenset[str]:
        """The ``id`` of every row of ``table``."""
        return frozenset(
            str(row_id) for (row_id,) in self._connection.execute(sa.select(table.c.id))
        )

    def rule_states(self) -> dict[str, bool]:
        table = schema.resources
        query = (
            sa.select(table.c.ref, table.c.enabled)
            .where(table.c.kind == "rule")
            .order_by(table.c.ref)
        )
        return {str(ref): bool(enabled) for ref, enabled in self._connection.execute(query)}

    def key_values(self) -> list[KeyValue]:
        """Every stored pair, expired ones included (the import decides), by key."""
        table = schema.kv_pairs
        query = sa.select(table).order_by(table.c.scope, table.c.user, table.c.name)
        return [
            KeyValue(
                name=row["name"],
                value=row["value"],
                scope=Scope(row["scope"]),
                user=row["user"],
                secret=bool(row["secret"]),
                description=row["description"],
                expires_at=row["expires_at"],
                updated_at=row["updated_at"],
            )
            for row in self._rows(query)
        ]

    def users(self) -> list[dict[str, Any]]:
        """Names, roles and password hashes (as stored: never a password)."""
        table = schema.users
        return [dict(row) for row in self._rows(sa.select(table).order_by(table.c.name))]

    def api_keys(self) -> list[dict[str, Any]]:
        """API key records: the key's hash and metadata (the key itself is never stored)."""
        table = schema.api_keys
        rows = self._rows(sa.select(table).order_by(table.c.id))
        return [
            {**row, "enabled": bool(row["enabled"]), "metadata": _json(row["metadata"])}
            for row in rows
        ]

    def trigger_instances(self, *, since: str) -> list[dict[str, Any]]:
        """Trigger instances created at or after ``since``, oldest first."""
        table = schema.trigger_instances
        query = (
            sa.select(*INSTANCE_COLUMNS)
            .where(table.c.created_at >= since)
            .order_by(table.c.created_at, table.c.id)
        )
        return [{**row, "payload": _json(row["payload"])} for row in self._rows(query)]

    def rule_enforcements(self, *, since: str) -> list[dict[str, Any]]:
        """Enforcements of the trigger instances created at or after ``since``."""
        enforcements, instances = schema.rule_enforcements, schema.trigger_instances
        query = (
            sa.select(enforcements)
            .join(instances, instances.c.id == enforcements.c.trigger_instance_id)
            .where(instances.c.created_at >= since)
            .order_by(enforcements.c.enforced_at, enforcements.c.id)
        )
        return [dict(row) for row in self._rows(query)]

    def executions(self) -> list[dict[str, Any]]:
        """Every execution row, oldest first, JSON columns decoded."""
        table = schema.executions
        query = sa.select(table).order_by(table.c.created_at, table.c.id)
        return [
            {
                **row,
                "parameters": _json(row["parameters"]),
                "context": _json(row["context"]),
                "result": _json(row["result"]),
                "pids": _json(row["pids"]),
            }
            for row in self._rows(query)
        ]
