"""The event stream's feed on SQLite and PostgreSQL: status changes and output after a
position, each execution's first row marked, batches that say when more is waiting, and the
write listeners that wake the stream."""

from __future__ import annotations

import time

import sqlalchemy as sa

from packhorse.model.execution import Execution, Status
from packhorse.storage.database import listen_to_writes
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.feed import Position, SqlFeed
from packhorse.storage.watermark import horizon


def at(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}.000000Z"


def settled(engine: sa.Engine) -> None:
    """Wait until every transaction committed so far is readable: on PostgreSQL readers stop
    before the oldest transaction in progress on the server (another test's, in its own
    database, may hold them back for a moment)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        mark = int(
            connection.exec_driver_sql("SELECT pg_current_xact_id()::text::bigint").scalar_one()
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if horizon(connection) > mark:
                return
        time.sleep(0.01)
    raise AssertionError("a transaction on the server stayed open for 10 s")


def _create(store: SqlExecutionStore, execution_id: str) -> None:
    execution = Execution(
        id=execution_id,
        action_ref="core.local",
        runner_type="local-shell-cmd",
        status=Status.REQUESTED,
        parameters={},
        context={"user": "u"},
        created_at=at(0),
    )
    store.create(execution, then=Status.SCHEDULED)


def test_the_feed_reads_changes_and_output_after_a_position(engine: sa.Engine) -> None:
    store, feed = SqlExecutionStore(engine), SqlFeed(engine)
    _create(store, "old")
    settled(engine)
    start = feed.end()
    assert feed.since(start).statuses == ()
    if engine.dialect.name == "sqlite":  # PostgreSQL positions are transaction ids
        assert start.log == 2

    _create(store, "e1")
    assert store.transition("e1", Status.RUNNING, now=at(1), start_timestamp=at(1))
    store.append_output("e1", [("stdout", "hi\n", at(2)), ("stderr", "oops\n", at(2))])
    assert store.transition("e1", Status.SUCCEEDED, now=at(3), result={"ok": True})
    settled(engine)

    batch = feed.since(start)
    assert [(s.execution_id, s.status, s.first) for s in batch.statuses] == [
        ("e1", "requested", True),
        ("e1", "scheduled", False),
        ("e1", "running", False),
        ("e1", "succeeded", False),
    ]
    assert [(o.stream, o.data, o.timestamp) for o in batch.outputs] == [
        ("stdout", "hi\n", at(2)),
        ("stderr", "oops\n", at(2)),
    ]
    assert batch.executions["e1"].status is Status.SUCCEEDED
    assert [status for _, status, _ in batch.logs["e1"]] == [
        "requested",
        "scheduled",
        "running",
        "succeeded",
    ]
    assert not batch.full
    assert feed.since(batch.position).statuses == ()
    assert [o.data for o in feed.output_of("e1")] == ["hi\n", "oops\n"]

    # Without details only the position moves.
    quiet = feed.since(start, details=False)
    assert quiet.statuses == () and quiet.position.log >= batch.position.log


def test_a_batch_stops_at_the_limit_and_says_more_is_waiting(engine: sa.Engine) -> None:
    store, feed = SqlExecutionStore(engine), SqlFeed(engine)
    for index in range(3):
        _create(store, f"e{index}")  # two rows each
    settled(engine)
    first = feed.since(Position(), limit=4)
    assert len(first.statuses) == 4 and first.full
    rest = feed.since(first.position, limit=4)
    assert [(s.execution_id, s.status) for s in rest.statuses] == [
        ("e2", "requested"),
        ("e2", "scheduled"),
    ]
    assert not rest.full


def test_write_listeners_hear_committed_writes_only_until_stopped(engine: sa.Engine) -> None:
    store, heard = SqlExecutionStore(engine), []
    stop = listen_to_writes(engine, lambda: heard.append(1))
    store.get("nothing")  # a read
    assert heard == []
    _create(store, "e")
    assert heard == [1]
    stop()
    _create(store, "f")
    assert heard == [1]
