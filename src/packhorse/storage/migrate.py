"""Schema migrations: bring a database to the head revision, report where it stands."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from packhorse.storage.database import transaction

SCRIPT_LOCATION = "packhorse.storage:migrations"


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def status(engine: sa.Engine) -> MigrationStatus:
    with engine.connect() as connection:
        current = revision_of(connection)
    return MigrationStatus(current=current, head=head_revision())


def revision_of(connection: sa.Connection) -> str | None:
    """The revision the database behind ``connection`` is at (None: not migrated)."""
    revision: str | None = MigrationContext.configure(connection).get_current_revision()
    return revision


def upgrade(engine: sa.Engine, target: str = "head") -> MigrationStatus:
    """Apply pending migrations in one transaction; returns the status before the upgrade."""
    before = status(engine)
    config = _config()
    with transaction(engine, write=True) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, target)
    return before


def schema_differences(engine: sa.Engine) -> list[object]:
    """How the database at ``engine`` differs from what ``storage/schema.py`` declares (empty:
    the migrations built exactly that schema)."""
    from alembic.autogenerate import compare_metadata

    from packhorse.storage.schema import metadata

    with engine.connect() as connection:
        found = compare_metadata(MigrationContext.configure(connection), metadata)
    return [d for d in found if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
