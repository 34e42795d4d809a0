"""Readers of the execution log miss nothing when transactions commit out of order.

On PostgreSQL a log row with a lower id can commit after a row with a higher id was read.
Here transaction A writes a row first (lower id) and commits last: the event stream's feed and
the execution-triggers cursor read each row exactly once all the same. (On SQLite a second
writer waits for the first, so the order cannot be inverted; the same reads run there too.)
"""

from __future__ import annotations

import sqlalchemy as sa
from tests.storage.test_feed_contract import settled

from packhorse.model.execution import Execution, Status
from packhorse.storage.events import SqlEventStore
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.feed import SqlFeed
from packhorse.storage.schema import execution_log

T0 = "2026-01-01T00:00:00.000000Z"


def finished(store: SqlExecutionStore, execution_id: str) -> None:
    """An execution written in one transaction: requested, then succeeded (two log rows)."""
    execution = Execution(
        id=execution_id,
        action_ref="core.noop",
        runner_type="noop",
        status=Status.REQUESTED,
        parameters={},
        context={},
        created_at=T0,
    )
    store.create(execution, then=Status.SCHEDULED)
    store.settle(execution_id, Status.SUCCEEDED, now=T0, attempt=1, result=None)


def test_rows_committed_out_of_order_are_read_once(engine: sa.Engine) -> None:
    store, events, feed = SqlExecutionStore(engine), SqlEventStore(engine), SqlFeed(engine)
    finished(store, "before")
    settled(engine)
    position = feed.end()
    _, cursor = events.completions_since(0, [], limit=1)
    seen: list[tuple[str, str]] = []
    completions: list[str] = []

    def read() -> None:
        nonlocal position, cursor
        batch = feed.since(position)
        seen.extend((row.execution_id, row.status) for row in batch.statuses)
        position = batch.position
        rows, cursor = events.completions_since(cursor, ["succeeded"])
        completions.extend(execution_id for _, execution_id, _ in rows)

    slow = engine.connect()
    transaction = slow.begin()
    postgres = engine.dialect.name == "postgresql"
    if postgres:  # A takes the lower id now and commits after B
        slow.execute(
            execution_log.insert().values(execution_id="a", status="succeeded", timestamp=T0)
        )
    finished(store, "b")  # B: higher ids, committed first
    read()
    if not postgres:
        slow.execute(
            execution_log.insert().values(execution_id="a", status="succeeded", timestamp=T0)
        )
    transaction.commit()
    slow.close()
    settled(engine)
    read()
    read()
    assert sorted(seen) == [
        ("a", "succeeded"),
        ("b", "requested"),
        ("b", "running"),
        ("b", "scheduled"),
        ("b", "succeeded"),
    ]
    assert sorted(completions) == ["a", "b"]
