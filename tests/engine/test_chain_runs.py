"""Action chains run by the engine: child executions through the queue, the chain's result
built by the stepper, pause and resume, cancel, and an inquiry that pauses the chain until it
is answered."""

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
from packhorse.model.execution import Status


@pytest.fixture
def runtime(instance_home: Path) -> Runtime:
    return flows_runtime(instance_home)


def test_the_bundled_chain_runs_each_node_as_a_child(runtime: Runtime) -> None:
    chain = runtime.executions.request("examples.hello_chain", {"name": "Ann"}, user="admin")
    done = asyncio.run(runtime.run_and_close(chain.id))
    assert done.status is Status.SUCCEEDED
    tasks = done.result["tasks"]
    assert [(t["name"], t["state"]) for t in tasks] == [
        ("greet", "succeeded"),
        ("measure", "succeeded"),
        ("shout", "succeeded"),
    ]
    assert done.result["published"] == {"greeting_line": "Hello, Ann!"}
    assert tasks[2]["result"]["stdout"] == "HELLO, ANN!"
    children = runtime.workflows.store.children(chain.id)
    assert [c.id for c in children] == [t["execution_id"] for t in tasks]
    assert children[0].context["chain"]["name"] == "greet"
    assert children[0].context["parent"]["execution_id"] == chain.id
    tree = runtime.workflows.tree(done)
    assert [(n["node"], [e["id"] for e in n["executions"]]) for n in tree] == [
        (t["name"], [t["execution_id"]]) for t in tasks
    ]


def test_on_failure_routes_to_the_failure_node(runtime: Runtime) -> None:
    chain = runtime.executions.request(
        "examples.hello_chain", {"name": "Bartholomew the Great"}, user="admin"
    )
    done = asyncio.run(runtime.run_and_close(chain.id))
    assert [(t["name"], t["state"]) for t in done.result["tasks"]] == [
        ("greet", "succeeded"),
        ("measure", "failed"),
        ("complain", "succeeded"),
    ]


def test_an_inquiry_pauses_the_chain_until_it_is_answered(runtime: Runtime) -> None:
    chain = runtime.executions.request("flows.approve_chain", {"item": "crate"}, user="admin")
    asyncio.run(drive(runtime, status_is(runtime, chain.id, Status.PAUSED)))
    [inquiry] = runtime.inquiries.list()
    assert inquiry.parent == chain.id and inquiry.route == "approvals"
    runtime.inquiries.respond(inquiry.id, {"continue": True}, user="admin", role="operator")
    asyncio.run(drive(runtime, ended(runtime, chain.id)))
    done = runtime.executions.get(chain.id)
    assert done.status is Status.SUCCEEDED, done.result
    assert [(t["name"], t["state"]) for t in done.result["tasks"]] == [
        ("ask", "succeeded"),
        ("ship", "succeeded"),
    ]
    assert done.result["tasks"][1]["result"]["stdout"] == "shipping crate (continue=True)"
    statuses = [entry["status"] for entry in done.log]
    assert statuses[2:] == ["running", "pausing", "paused", "resuming", "running", "succeeded"]


def test_pause_waits_for_the_running_node_then_resume_carries_on(runtime: Runtime) -> None:
    chain = runtime.executions.request("flows.slow_chain", {"seconds": 1}, user="admin")
    store = runtime.workflows.store
    seen: dict[str, list[Status]] = {}

    def at_pause() -> None:
        seen["children"] = [c.status for c in store.children(chain.id)]
        runtime.executions.resume(chain.id)

    asyncio.run(
        scenario(
            runtime,
            [
                (child_running(runtime, chain.id), lambda: runtime.executions.pause(chain.id)),
                (status_is(runtime, chain.id, Status.PAUSED), at_pause),
                (ended(runtime, chain.id), lambda: None),
            ],
        )
    )
    assert seen["children"] == [Status.SUCCEEDED]  # paused once the node ended; nothing new
    done = runtime.executions.get(chain.id)
    assert done.status is Status.SUCCEEDED
    assert [t["name"] for t in done.result["tasks"]] == ["wait", "after"]


def test_cancel_lets_the_running_node_finish_and_ends_canceled(runtime: Runtime) -> None:
    chain = runtime.executions.request("flows.slow_chain", {"seconds": 1}, user="admin")
    cancel_while_running(runtime, chain.id)
    done = runtime.executions.get(chain.id)
    assert done.status is Status.CANCELED
    # As in StackStorm: the running node is not interrupted, and no node starts after it.
    assert [c.status for c in runtime.workflows.store.children(chain.id)] == [Status.SUCCEEDED]
    assert [(t["name"], t["state"]) for t in done.result["tasks"]] == [("wait", "succeeded")]
    assert [e["status"] for e in done.log][-2:] == ["canceling", "canceled"]
