"""The workflow store on SQLite and PostgreSQL: state parts, the version guard, the inbox fed
by child status changes, one-transaction steps, and retention."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from packhorse.model.execution import Execution, Status
from packhorse.storage import migrate, schema
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.workflows import (
    Commit,
    Move,
    SqlWorkflowStore,
    VersionConflict,
    complete_with_events,
)

NOW = "2026-01-01T00:00:00.000000Z"
LATER = "2026-03-01T00:00:00.000000Z"


def execution(execution_id: str, *, parent: str | None = None, runner: str = "noop") -> Execution:
    return Execution(
        id=execution_id,
        action_ref="p.a",
        runner_type=runner,
        status=Status.REQUESTED,
        parameters={},
        context={"workflow_key": {"task_id": "t1", "route": 0}} if parent else {},
        created_at=NOW,
        parent_id=parent,
    )


def started(engine: sa.Engine) -> tuple[SqlExecutionStore, SqlWorkflowStore]:
    executions, workflows = SqlExecutionStore(engine), SqlWorkflowStore(engine)
    executions.create(execution("wf", runner="orquesta"), then=Status.SCHEDULED)
    workflows.commit(
        Commit(
            "wf",
            0,
            upserts={"meta": {"status": "running"}, "seq/0": {"id": "t1"}},
            children=[(execution("c1", parent="wf"), Status.SCHEDULED)],
            moves=[Move("wf", Status.RUNNING, values={"start_timestamp": NOW})],
            kind="orquesta",
            definition="tasks: {}",
        ),
        now=NOW,
    )
    return executions, workflows


def test_a_first_step_stores_state_children_and_the_move(engine: sa.Engine) -> None:
    executions, workflows = started(engine)
    stored = workflows.load("wf")
    assert stored is not None
    assert (stored.kind, stored.definition, stored.version) == ("orquesta", "tasks: {}", 1)
    assert stored.parts == {"meta": {"status": "running"}, "seq/0": {"id": "t1"}}
    # Its definition alone (what the console draws), without the state.
    assert workflows.definition("wf") == ("orquesta", "tasks: {}")
    assert workflows.definition("c1") is None
    wf = executions.get("wf")
    assert wf is not None and wf.status is Status.RUNNING and wf.start_timestamp == NOW
    child = executions.get("c1")
    assert child is not None and child.status is Status.SCHEDULED and child.parent_id == "wf"
    assert workflows.inbox() == []


def test_a_child_status_change_lands_in_its_parents_inbox(engine: sa.Engine) -> None:
    executions, workflows = started(engine)
    executions.transition("c1", Status.RUNNING, now=NOW)
    assert workflows.inbox() == []  # running: the conductor marked it at dispatch
    executions.transition("c1", Status.SUCCEEDED, now=NOW, result={"x": 1})
    [event] = workflows.inbox()
    # The event carries the task key and the result: applying it reads nothing more.
    assert (event.workflow_id, event.payload) == (
        "wf",
        {
            "child": "c1",
            "status": "succeeded",
            "key": {"task_id": "t1", "route": 0},
            "result": {"x": 1},
        },
    )
    assert workflows.executions(["c1"])["c1"].result == {"x": 1}


def test_a_step_consumes_events_and_rewrites_only_its_parts(engine: sa.Engine) -> None:
    executions, workflows = started(engine)
    executions.transition("c1", Status.RUNNING, now=NOW)
    executions.transition("c1", Status.SUCCEEDED, now=NOW)
    [event] = workflows.inbox()
    workflows.commit(
        Commit(
            "wf",
            1,
            upserts={"meta": {"status": "succeeded"}},
            deletes=["seq/0"],
            consumed=[event.id],
            moves=[Move("wf", Status.SUCCEEDED, values={"result": {"output": {"a": 1}}})],
        ),
        now=NOW,
    )
    stored = workflows.load("wf")
    assert stored is not None
    assert stored.version == 2 and stored.parts == {"meta": {"status": "succeeded"}}
    assert workflows.inbox() == []
    wf = executions.get("wf")
    assert wf is not None and wf.status is Status.SUCCEEDED and wf.result == {"output": {"a": 1}}


def test_a_stale_step_writes_nothing(engine: sa.Engine) -> None:
    executions, workflows = started(engine)
    workflows.commit(Commit("wf", 1, upserts={"meta": {"n": 1}}), now=NOW)
    with pytest.raises(VersionConflict):
        workflows.commit(
            Commit(
                "wf",
                1,
                upserts={"meta": {"n": 2}},
                children=[(execution("c2", parent="wf"), Status.SCHEDULED)],
            ),
            now=NOW,
        )
    stored = workflows.load("wf")
    assert stored is not None and stored.parts["meta"] == {"n": 1} and stored.version == 2
    assert executions.get("c2") is None


def test_an_answer_and_its_resume_are_one_transaction(engine: sa.Engine) -> None:
    executions, workflows = started(engine)
    executions.transition("c1", Status.RUNNING, now=NOW)
    executions.transition("c1", Status.PENDING, now=NOW)
    assert [e.payload["status"] for e in workflows.inbox()] == ["pending"]
    assert complete_with_events(
        engine,
        "c1",
        Status.SUCCEEDED,
        now=NOW,
        expected=(Status.PENDING,),
        result={"response": {"continue": True}},
        events=[("wf", {"request": "resume"})],
    )
    key = {"task_id": "t1", "route": 0}
    # The resume first (as StackStorm orders them): the task's transitions then apply to a
    # running workflow.
    assert [e.payload for e in workflows.inbox()][1:] == [
        {"request": "resume"},
        {
            "child": "c1",
            "status": "succeeded",
            "key": key,
            "result": {"response": {"continue": True}},
        },
    ]
    assert not complete_with_events(
        engine,
        "c1",
        Status.SUCCEEDED,
        now=NOW,
        expected=(Status.PENDING,),
        result={},
        events=[("wf", {"request": "resume"})],
    )
    assert len(workflows.inbox()) == 3  # refused: its resume was not queued either


def test_retention_purges_a_workflows_state_with_it(engine: sa.Engine) -> None:
    executions, workflows = started(engine)
    executions.transition("c1", Status.RUNNING, now=NOW)
    executions.transition("c1", Status.SUCCEEDED, now=NOW)
    executions.transition("wf", Status.SUCCEEDED, now=NOW)
    assert executions.delete_completed(before=LATER) == 2
    assert workflows.load("wf") is None
    assert workflows.inbox() == []
    assert left_over(engine) == {}


def test_forgetting_a_workflow_deletes_its_definition_and_state(engine: sa.Engine) -> None:
    _, workflows = started(engine)
    workflows.delete(["wf"])
    assert workflows.load("wf") is None
    assert workflows.definition("wf") is None
    assert left_over(engine) == {}


def left_over(engine: sa.Engine) -> dict[str, int]:
    """Rows left in the workflow tables, by table."""
    tables = (
        schema.workflows,
        schema.workflow_definitions,
        schema.workflow_parts,
        schema.workflow_events,
    )
    with engine.connect() as connection:
        counts = {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in tables
        }
    return {name: count for name, count in counts.items() if count}


def test_upgrading_moves_each_definition_out_of_its_workflow_row(
    empty_engine: sa.Engine,
) -> None:
    migrate.upgrade(empty_engine, "0005")
    with empty_engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO workflows (execution_id, kind, definition, version, created_at, "
                "updated_at) VALUES ('wf', 'orquesta', 'tasks: {}', 3, :now, :now)"
            ),
            {"now": NOW},
        )
    migrate.upgrade(empty_engine)
    stored = SqlWorkflowStore(empty_engine).load("wf")
    assert stored is not None
    assert (stored.kind, stored.definition, stored.version) == ("orquesta", "tasks: {}", 3)
    columns = {c["name"] for c in sa.inspect(empty_engine).get_columns("workflows")}
    assert "definition" not in columns
