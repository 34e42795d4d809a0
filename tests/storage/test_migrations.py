"""The migrations build exactly the schema that ``storage/schema.py`` declares, on both
databases: a table, column or index added to one and not the other fails here."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from packhorse.storage import migrate
from packhorse.storage.schema import metadata


def test_migrated_database_matches_the_declared_schema(engine: sa.Engine) -> None:
    assert migrate.status(engine).at_head
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    ignored = {"alembic_version"}
    differences = [d for d in differences if not (d[0] == "remove_table" and d[1].name in ignored)]
    assert differences == []
