"""The migrations build exactly the schema that ``storage/schema.py`` declares, on both
databases: a table, column or index added to one and not the other fails here."""

from __future__ import annotations

import sqlalchemy as sa

from packhorse.storage import migrate


def test_migrated_database_matches_the_declared_schema(engine: sa.Engine) -> None:
    assert migrate.status(engine).at_head
    assert migrate.schema_differences(engine) == []


def test_the_action_trigger_cursor_carries_over_to_transaction_ids(
    empty_engine: sa.Engine,
) -> None:
    """0011 on PostgreSQL: log rows the cursor had read stay read, the others are read next."""
    from packhorse.storage.events import SqlEventStore

    migrate.upgrade(empty_engine, "0010")
    with empty_engine.begin() as connection:
        for status in ("requested", "succeeded", "failed"):
            connection.execute(
                sa.text(
                    "INSERT INTO execution_log (execution_id, status, timestamp)"
                    " VALUES ('e', :status, 't')"
                ),
                {"status": status},
            )
        connection.execute(
            sa.text("INSERT INTO event_cursors (name, position) VALUES ('execution-triggers', 2)")
        )
    migrate.upgrade(empty_engine)
    store = SqlEventStore(empty_engine)
    position = store.cursor("execution-triggers")
    assert position is not None
    rows, _ = store.completions_since(position, ["succeeded", "failed"])
    assert [status for _, _, status in rows] == ["failed"]
