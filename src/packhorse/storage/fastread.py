"""Read-only registry access through the stdlib ``sqlite3`` module.

Importing SQLAlchemy costs about 0.4 s on this class of machine; ``packhorse pack list`` and
the other list/show commands must start in under 300 ms. On an SQLite instance they read
through this module instead, with the same queries and row conversion as the SQLAlchemy
adapter (both run the same contract tests).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from pathlib import Path

from packhorse.errors import StorageError
from packhorse.model.content import Kind, RegisteredPack, RegistryState, Resource
from packhorse.model.events import SensorStatus
from packhorse.storage.rows import (
    PACK_COLUMNS,
    RESOURCE_COLUMNS,
    SENSOR_STATUS_COLUMNS,
    pack_from_row,
    resource_from_row,
    sensor_status_from_row,
)

_PACKS = f"SELECT {', '.join(PACK_COLUMNS)} FROM packs"  # noqa: S608 - constant column list
_RESOURCES = f"SELECT {', '.join(RESOURCE_COLUMNS)} FROM resources"  # noqa: S608
_SENSOR_STATUSES = f"SELECT {', '.join(SENSOR_STATUS_COLUMNS)} FROM sensor_status"  # noqa: S608


class SqliteRegistryReader:
    """:class:`~packhorse.storage.ports.RegistryReader` over an SQLite file, read-only."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise StorageError(f"database {path} does not exist")
        self._path = path

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, timeout=10)
        except sqlite3.Error as error:
            raise StorageError(f"cannot open {self._path}: {error}") from error

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        connection = self._connect()
        try:
            return connection.execute(sql, args).fetchall()
        except sqlite3.Error as error:
            raise StorageError(
                f"{self._path}: {error}", retryable="locked" in str(error)
            ) from error
        finally:
            connection.close()

    def list_packs(self) -> list[RegisteredPack]:
        return [pack_from_row(row) for row in self._rows(f"{_PACKS} ORDER BY ref")]

    def get_pack(self, ref: str) -> RegisteredPack | None:
        rows = self._rows(f"{_PACKS} WHERE ref = ?", (ref,))
        return pack_from_row(rows[0]) if rows else None

    def list_resources(self, kind: Kind, pack: str | None = None) -> list[Resource]:
        if pack is None:
            rows = self._rows(f"{_RESOURCES} WHERE kind = ? ORDER BY ref", (kind.value,))
        else:
            sql = f"{_RESOURCES} WHERE kind = ? AND pack = ? ORDER BY ref"
            rows = self._rows(sql, (kind.value, pack))
        return [resource_from_row(row) for row in rows]

    def get_resource(self, kind: Kind, ref: str) -> Resource | None:
        rows = self._rows(f"{_RESOURCES} WHERE kind = ? AND ref = ?", (kind.value, ref))
        return resource_from_row(rows[0]) if rows else None

    def state(self, packs: Collection[str] | None = None) -> RegistryState:
        pack_rows = self._rows("SELECT ref, digest FROM packs")
        resource_rows = self._rows("SELECT kind, ref, pack, digest FROM resources")
        wanted = None if packs is None else set(packs)
        return RegistryState(
            {str(r): str(d) for r, d in pack_rows if wanted is None or r in wanted},
            {
                (Kind(str(k)), str(r)): (str(p), str(d))
                for k, r, p, d in resource_rows
                if wanted is None or p in wanted
            },
        )

    def sensor_statuses(self) -> list[SensorStatus]:
        """What the sensor container stored about each sensor, by ref (as
        :meth:`~packhorse.storage.events.SqlEventStore.sensor_statuses`)."""
        rows = self._rows(f"{_SENSOR_STATUSES} ORDER BY ref")
        return [sensor_status_from_row(row) for row in rows]
