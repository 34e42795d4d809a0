"""Storage fixtures: every contract test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from packhorse.storage import migrate
from packhorse.storage.database import create_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty database, before any migration."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        with engine.begin() as connection:  # each test starts from an empty database
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: sa.Engine) -> sa.Engine:
    """A database at the head revision."""
    migrate.upgrade(empty_engine)
    return empty_engine
