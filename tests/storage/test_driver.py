"""Statements run on the driver (the execution queue's hot path), on SQLite and PostgreSQL:
one transaction per block, errors translated, types that need processing refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from packhorse.errors import Conflict, StorageError
from packhorse.model.execution import Execution, Status
from packhorse.storage import schema
from packhorse.storage.database import create_engine
from packhorse.storage.driver import Prepared, driver_transaction
from packhorse.storage.executions import SqlExecutionStore

_log = schema.execution_log
_COUNT_LOG = Prepared(
    sa.select(sa.func.count()).select_from(_log).where(_log.c.execution_id == "e")
)
_APPEND = Prepared(
    _log.insert()
    .inline()
    .values(execution_id="e", status=sa.bindparam("status"), timestamp="2026-01-01T00:00:00Z")
)


def execution(execution_id: str) -> Execution:
    return Execution(
        id=execution_id,
        action_ref="core.noop",
        runner_type="noop",
        status=Status.REQUESTED,
        parameters={},
        context={},
        created_at="2026-01-01T00:00:00.000000Z",
    )


def test_a_block_commits_together_or_not_at_all(engine: sa.Engine) -> None:
    with driver_transaction(engine, write=True) as driver:
        assert driver.execute(_APPEND, {"status": "requested"}) == 1
        driver.execute_many(_APPEND, [{"status": "scheduled"}, {"status": "running"}])
    with pytest.raises(RuntimeError), driver_transaction(engine, write=True) as driver:
        driver.execute(_APPEND, {"status": "succeeded"})
        raise RuntimeError("the caller failed half-way")
    with driver_transaction(engine) as driver:
        assert driver.first(_COUNT_LOG) == (3,)
        assert driver.all(_COUNT_LOG) == [(3,)]


def test_a_duplicate_is_a_conflict_and_changes_nothing(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    store.create(execution("e"))
    with pytest.raises(Conflict):
        store.create(execution("e"), then=Status.SCHEDULED)
    stored = store.get("e")
    assert stored is not None and stored.status is Status.REQUESTED
    assert [entry["status"] for entry in stored.log] == ["requested"]


def test_a_driver_error_is_a_storage_error(engine: sa.Engine) -> None:
    broken = Prepared(sa.select(sa.column("nothing")).select_from(sa.table("no_such_table")))
    with pytest.raises(StorageError), driver_transaction(engine) as driver:
        driver.all(broken)


def test_types_that_need_processing_are_refused(tmp_path: Path) -> None:
    # On SQLite, SQLAlchemy converts dates and JSON itself (psycopg does it natively).
    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    table = sa.table("t", sa.column("at", sa.DateTime), sa.column("data", sa.JSON))
    for refused in (
        Prepared(sa.select(table.c.data)),
        Prepared(sa.select(sa.literal(1)).where(table.c.at == sa.bindparam("at"))),
    ):
        with pytest.raises(TypeError, match="processing"), driver_transaction(engine) as driver:
            driver.all(refused, {"at": None})
    engine.dispose()
