"""The content registry on SQLAlchemy Core (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import sqlalchemy as sa

from packhorse.model.content import (
    Kind,
    RegisteredPack,
    RegistryState,
    Resource,
    canonical_json,
)
from packhorse.storage import schema
from packhorse.storage.database import transaction
from packhorse.storage.rows import PACK_COLUMNS, RESOURCE_COLUMNS, pack_from_row, resource_from_row

if TYPE_CHECKING:
    from packhorse.packs.plan import Plan

_pack_columns = [schema.packs.c[name] for name in PACK_COLUMNS]
_resource_columns = [schema.resources.c[name] for name in RESOURCE_COLUMNS]


class SqlContentRegistry:
    """:class:`~packhorse.storage.ports.ContentRegistry` over an SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def list_packs(self) -> list[RegisteredPack]:
        query = sa.select(*_pack_columns).order_by(schema.packs.c.ref)
        with transaction(self._engine) as connection:
            return [pack_from_row(row) for row in connection.execute(query)]

    def get_pack(self, ref: str) -> RegisteredPack | None:
        query = sa.select(*_pack_columns).where(schema.packs.c.ref == ref)
        with transaction(self._engine) as connection:
            row = connection.execute(query).first()
        return pack_from_row(row) if row else None

    def list_resources(self, kind: Kind, pack: str | None = None) -> list[Resource]:
        table = schema.resources
        query = sa.select(*_resource_columns).where(table.c.kind == kind.value)
        if pack is not None:
            query = query.where(table.c.pack == pack)
        with transaction(self._engine) as connection:
            rows = connection.execute(query.order_by(table.c.ref))
            return [resource_from_row(row) for row in rows]

    def get_resource(self, kind: Kind, ref: str) -> Resource | None:
        table = schema.resources
        query = sa.select(*_resource_columns).where(table.c.kind == kind.value, table.c.ref == ref)
        with transaction(self._engine) as connection:
            row = connection.execute(query).first()
        return resource_from_row(row) if row else None

    def state(self, packs: Collection[str] | None = None) -> RegistryState:
        pack_query = sa.select(schema.packs.c.ref, schema.packs.c.digest)
        table = schema.resources
        resource_query = sa.select(table.c.kind, table.c.ref, table.c.pack, table.c.digest)
        if packs is not None:
            pack_query = pack_query.where(schema.packs.c.ref.in_(list(packs)))
            resource_query = resource_query.where(table.c.pack.in_(list(packs)))
        with transaction(self._engine) as connection:
            pack_digests = {ref: digest for ref, digest in connection.execute(pack_query)}
            resource_digests = {
                (Kind(kind), ref): (pack, digest)
                for kind, ref, pack, digest in connection.execute(resource_query)
            }
        return RegistryState(pack_digests, resource_digests)

    def set_enabled(self, kind: Kind, ref: str, enabled: bool) -> bool:
        """Enable or disable one resource (``rule enable``); False when it is not registered.
        It stays so until its file changes and its pack is registered again."""
        table = schema.resources
        update = (
            table.update()
            .where(table.c.kind == kind.value, table.c.ref == ref)
            .values(enabled=enabled)
        )
        with transaction(self._engine, write=True) as connection:
            return bool(connection.execute(update).rowcount)

    def apply(self, plan: Plan, *, now: str) -> None:
        from packhorse.packs.plan import Operation

        packs_table, table = schema.packs, schema.resources
        with transaction(self._engine, write=True) as connection:
            for change in plan.resources:
                if change.operation is Operation.CREATE:
                    continue
                connection.execute(
                    table.delete().where(
                        table.c.kind == change.kind.value, table.c.ref == change.ref
                    )
                )
            rows = [_resource_row(c.resource) for c in plan.resources if c.resource is not None]
            if rows:
                connection.execute(table.insert(), rows)
            for pack_change in plan.packs:
                connection.execute(packs_table.delete().where(packs_table.c.ref == pack_change.ref))
                if pack_change.operation is Operation.DELETE or pack_change.pack is None:
                    continue
                pack = pack_change.pack
                connection.execute(
                    packs_table.insert(),
                    {
                        "ref": pack.ref,
                        "version": pack.version,
                        "path": pack.path,
                        "digest": pack.digest,
                        "metadata": canonical_json(pack.metadata),
                        "files": canonical_json(list(pack.files)),
                        "registered_at": now,
                    },
                )


def _resource_row(resource: Resource) -> dict[str, object]:
    return {
        "kind": resource.kind.value,
        "ref": resource.ref,
        "pack": resource.pack,
        "name": resource.name,
        "enabled": resource.enabled,
        "digest": resource.digest,
        "metadata_file": resource.metadata_file,
        "body": canonical_json(resource.body),
    }
