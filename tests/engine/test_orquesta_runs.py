"""Orquesta workflows run by the engine: tasks as child executions through the queue,
with-items, subworkflows, st2kv, inquiries, pause/resume, cancel, failure and rerun."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.engine.workflow_helpers import (
    cancel_while_running,
    child_running,
    drive,
    ended,
    flows_runtime,
    scenario,
    status_is,
)

from packhorse.engine.runtime import Runtime
from packhorse.model.datastore import Scope
from packhorse.model.execution import Execution, Status
from packhorse.storage.executions import ExecutionFilter


@pytest.fixture
def runtime(instance_home: Path) -> Runtime:
    return flows_runtime(instance_home)


def run(runtime: Runtime, ref: str, **parameters: object) -> Execution:
    execution = runtime.executions.request(ref, parameters, user="admin")
    return asyncio.run(runtime.run_and_close(execution.id))


def test_the_bundled_workflow_forks_joins_and_renders_its_output(runtime: Runtime) -> None:
    done = run(runtime, "examples.greet_team")
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result == {
        "output": {
            "greeting": "Hello Ada, Grace and Linus!",
            "echoed": "Hello Ada, Grace and Linus!",
            "report": "Team\n* Ada\n* Grace\n* Linus",
            "verdict": "3 is within the limit of 4",
        }
    }
    tree = runtime.workflows.tree(done)
    assert [node["task_id"] for node in tree] == ["build", "list_names", "say", "check"]
    assert all(len(node["executions"]) == 1 for node in tree)
    top = runtime.executions.list(ExecutionFilter(top_level=True))
    assert [e.id for e in top] == [done.id]  # its tasks' executions list under it
    assert len(runtime.executions.list(ExecutionFilter(parent_id=done.id))) == 4
    children = runtime.workflows.store.children(done.id)
    assert {c.context["orquesta"]["task_id"] for c in children} == {
        "build",
        "say",
        "list_names",
        "check",
    }


def test_a_task_failure_fails_the_workflow_with_stackstorms_error_entry(
    runtime: Runtime,
) -> None:
    done = run(runtime, "examples.greet_team", limit=2)
    assert done.status is Status.FAILED
    errors = done.result["errors"]
    assert errors[0]["type"] == "error" and errors[0]["task_id"] == "check"
    assert errors[0]["message"] == "Execution failed. See result for details."
    assert errors[0]["result"]["result"]["within"] is False
    assert done.result["output"]["verdict"] == "3 is over the limit of 2"


def test_with_items_runs_one_child_per_item_and_aggregates(runtime: Runtime) -> None:
    done = run(runtime, "flows.items", names=["ann", "bob", "cy"])
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result["output"]["lines"] == ["hi ann", "hi bob", "hi cy"]
    children = runtime.workflows.store.children(done.id)
    assert sorted(c.context["workflow_key"]["item"] for c in children) == [0, 1, 2]
    [node] = runtime.workflows.tree(done)
    assert sorted(e["item"] for e in node["executions"]) == [0, 1, 2]


def test_a_failing_item_fails_the_task(runtime: Runtime) -> None:
    done = run(runtime, "flows.items", names=["ann", "bob"], fail_on="bob")
    assert done.status is Status.FAILED
    assert [e["task_id"] for e in done.result["errors"]] == ["each"]


def test_a_subworkflow_runs_as_a_child_and_returns_its_output(runtime: Runtime) -> None:
    done = run(runtime, "flows.parent", who="ann")
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result["output"] == {"child_lines": ["hi ann", "hi zed"]}
    [call] = [c for c in runtime.workflows.store.children(done.id) if c.action_ref == "flows.items"]
    assert call.parent_id == done.id and call.status is Status.SUCCEEDED
    tree = runtime.workflows.tree(done)
    nested = tree[0]["executions"][0]["tasks"]
    assert nested[0]["task_id"] == "each" and len(nested[0]["executions"]) == 2


def test_st2kv_reads_the_datastore(runtime: Runtime, tmp_path: Path) -> None:
    runtime.datastore.set_value("flows.word", "sesame")
    marker = tmp_path / "marker"
    marker.touch()
    done = run(runtime, "flows.flaky", marker=str(marker))
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result["output"] == {"first_said": "word=sesame", "second_said": "second ran"}
    assert runtime.datastore.get_value("flows.word", scope=Scope.SYSTEM).value == "sesame"


def test_an_inquiry_pauses_the_workflow_until_answered(runtime: Runtime) -> None:
    workflow = runtime.executions.request("flows.asking", {"item": "crate"}, user="admin")
    asyncio.run(drive(runtime, status_is(runtime, workflow.id, Status.PAUSED)))
    [inquiry] = runtime.inquiries.list()
    assert inquiry.parent == workflow.id
    runtime.inquiries.respond(inquiry.id, {"continue": True}, user="admin", role="operator")
    asyncio.run(drive(runtime, ended(runtime, workflow.id)))
    done = runtime.executions.get(workflow.id)
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result["output"] == {"said": "shipping crate approved=True"}


def test_pause_then_resume(runtime: Runtime) -> None:
    workflow = runtime.executions.request("flows.sleepy", {"seconds": 1}, user="admin")
    store = runtime.workflows.store
    seen: dict[str, object] = {}

    def at_pause() -> None:
        seen["children"] = [c.action_ref for c in store.children(workflow.id)]
        runtime.executions.resume(workflow.id)

    asyncio.run(
        scenario(
            runtime,
            [
                (
                    child_running(runtime, workflow.id),
                    lambda: runtime.executions.pause(workflow.id),
                ),
                (status_is(runtime, workflow.id, Status.PAUSED), at_pause),
                (ended(runtime, workflow.id), lambda: None),
            ],
        )
    )
    assert seen["children"] == ["core.local"]
    done = runtime.executions.get(workflow.id)
    assert done.status is Status.SUCCEEDED
    statuses = [e["status"] for e in done.log]
    assert statuses[2:] == ["running", "pausing", "paused", "resuming", "running", "succeeded"]


def test_cancel_lets_running_tasks_finish_and_ends_canceled(runtime: Runtime) -> None:
    workflow = runtime.executions.request("flows.sleepy", {"seconds": 1}, user="admin")
    cancel_while_running(runtime, workflow.id)
    done = runtime.executions.get(workflow.id)
    assert done.status is Status.CANCELED
    # As in StackStorm: the running task is not interrupted, and "after" never starts.
    assert [(c.action_ref, c.status) for c in runtime.workflows.store.children(workflow.id)] == [
        ("core.local", Status.SUCCEEDED)
    ]
    assert [e["status"] for e in done.log][-2:] == ["canceling", "canceled"]


def test_rerun_from_the_failed_task_keeps_what_succeeded(runtime: Runtime, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    failed = run(runtime, "flows.flaky", marker=str(marker))
    assert failed.status is Status.FAILED
    marker.touch()
    again = runtime.executions.re_run(failed.id, user="admin", overrides={}, tasks=["second"])
    done = asyncio.run(runtime.run_and_close(again.id))
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result["output"] == {"first_said": "word=none", "second_said": "second ran"}
    rerun_children = runtime.workflows.store.children(done.id)
    assert [c.action_ref for c in rerun_children] == ["core.local"]  # first did not run again


def test_a_workflow_whose_input_fails_to_render_fails_with_the_error(runtime: Runtime) -> None:
    done = run(runtime, "flows.parent", who="<% ctx().nope %>")
    assert done.status is Status.FAILED
    assert "nope" in done.result["errors"][0]["message"]
    assert runtime.workflows.store.children(done.id) == []
