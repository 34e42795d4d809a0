"""``make check``: the Alembic migrations take an empty database to exactly the schema that
``packhorse/storage/schema.py`` declares, on SQLite and on PostgreSQL.

PostgreSQL is the server of ``$PACKHORSE_TEST_PG`` (default the local test server); a private
database is created and dropped. Where no server answers, the PostgreSQL half is skipped with
the reason printed (CI has one: there it runs)."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from packhorse.storage import migrate
from packhorse.storage.database import create_engine

PG_ADMIN_URL = os.environ.get("PACKHORSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def differences(engine: sa.Engine) -> list[object]:
    migrate.upgrade(engine)
    assert migrate.status(engine).at_head
    return migrate.schema_differences(engine)


def check_sqlite() -> list[object]:
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'state.db'}")
        try:
            return differences(engine)
        finally:
            engine.dispose()


def check_postgresql() -> list[object] | None:
    try:
        import psycopg
    except ImportError:
        print("migrations on PostgreSQL: skipped, psycopg is not installed")
        return None
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        print(f"migrations on PostgreSQL: skipped, no server at {PG_ADMIN_URL}: {error}")
        return None
    name = f"packhorse_check_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    try:
        return differences(engine)
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    failed = False
    for dialect, check in (("SQLite", check_sqlite), ("PostgreSQL", check_postgresql)):
        found = check()
        if found is None:
            continue
        if found:
            failed = True
            print(f"migrations on {dialect}: the schema differs from schema.py:")
            for difference in found:
                print(f"  {difference}")
        else:
            print(f"migrations on {dialect}: at head {migrate.head_revision()}, as schema.py")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
