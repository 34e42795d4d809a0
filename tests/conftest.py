"""Shared fixtures: temporary instance homes and the PostgreSQL test server."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import sqlalchemy as sa

    from packhorse.storage.executions import SqlExecutionStore

PG_ADMIN_URL = os.environ.get("PACKHORSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def private_database(prefix: str) -> Iterator[str]:
    """A new database on the PostgreSQL test server, dropped afterwards; its URL. Skips,
    saying why, only when no server is reachable."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {error}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL database for this test session, dropped afterwards."""
    with private_database("packhorse_test") as url:
        yield url


@pytest.fixture(scope="session")
def _instance_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised instance per test process; tests get copies of it."""
    from packhorse.engine.instance import init_instance

    home = tmp_path_factory.mktemp("template") / "home"
    result = init_instance(home)
    (home / ".admin-password").write_text(result.admin_password)
    return home


@pytest.fixture
def instance_home(_instance_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of an initialised instance (core and examples registered)."""
    home = tmp_path / "home"
    shutil.copytree(_instance_template, home)
    return home


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``packhorse ARGS`` in-process through the real entry point function."""
    from packhorse.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


Prepare = Callable[[Path, str], "SqlExecutionStore"]


@pytest.fixture
def prepared() -> Iterator[Prepare]:
    """Registers the instance's packs in the test's private PostgreSQL database; the store
    it returns is closed (its engine disposed) when the test ends."""
    from packhorse import bootstrap
    from packhorse.settings import load_settings
    from packhorse.storage import migrate
    from packhorse.storage.database import create_engine
    from packhorse.storage.executions import SqlExecutionStore

    engines: list[sa.Engine] = []

    def prepare(instance_home: Path, url: str) -> SqlExecutionStore:
        engine = create_engine(url)
        engines.append(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        migrate.upgrade(engine)
        settings = load_settings(instance_home).with_overrides(database_url=url)
        assert bootstrap.register_instance_packs(settings, all_packs=True).ok
        # Registration went through the process's cached engine for this URL: its pooled
        # connections would be collected open at exit (a ResourceWarning) unless closed.
        engines.append(bootstrap.database_engine(settings))
        return SqlExecutionStore(engine)

    yield prepare
    for engine in engines:
        engine.dispose()
