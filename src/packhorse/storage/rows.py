"""Row <-> model conversion shared by the SQLAlchemy adapter and the sqlite3 fast reader."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from packhorse.model.content import Kind, RegisteredPack, Resource
from packhorse.model.events import SensorStatus

PACK_COLUMNS = ("ref", "version", "path", "digest", "metadata", "files", "registered_at")
RESOURCE_COLUMNS = ("kind", "ref", "pack", "name", "enabled", "digest", "metadata_file", "body")
SENSOR_STATUS_COLUMNS = (
    "ref",
    "state",
    "pid",
    "restarts",
    "last_error",
    "started_at",
    "updated_at",
)


def pack_from_row(row: Sequence[Any]) -> RegisteredPack:
    ref, version, path, digest, metadata, files, registered_at = row
    return RegisteredPack(
        ref=ref,
        version=version,
        path=path,
        digest=digest,
        metadata=json.loads(metadata),
        files=tuple(json.loads(files)),
        registered_at=registered_at,
    )


def resource_from_row(row: Sequence[Any]) -> Resource:
    kind, ref, pack, name, enabled, digest, metadata_file, body = row
    return Resource(
        kind=Kind(kind),
        ref=ref,
        pack=pack,
        name=name,
        metadata_file=metadata_file,
        body=json.loads(body),
        enabled=bool(enabled),
        digest=digest,
    )


def sensor_status_from_row(row: Sequence[Any]) -> SensorStatus:
    ref, state, pid, restarts, last_error, started_at, updated_at = row
    return SensorStatus(
        ref=ref,
        state=state,
        pid=pid,
        restarts=restarts,
        last_error=last_error,
        started_at=started_at,
        updated_at=updated_at,
    )
