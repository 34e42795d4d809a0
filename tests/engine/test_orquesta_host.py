"""Orquesta workflows that rely on what StackStorm's workflow engine adds around the conductor:
the ``task()`` function, ``ctx().st2``, the inspection at start, the result of a failure."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from tests.engine.test_chain_runs import drive, scenario, status_is

from packhorse import bootstrap
from packhorse.engine.runtime import Runtime, build_runtime, public_api_url
from packhorse.model.execution import Execution, Status
from packhorse.settings import load_settings

HOSTED = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "hosted"


@pytest.fixture
def runtime(instance_home: Path) -> Runtime:
    shutil.copytree(HOSTED, instance_home / "packs" / "hosted")
    settings = load_settings(instance_home)
    outcome = bootstrap.register_instance_packs(settings, refs=["hosted"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    return build_runtime(settings, slots=4)


def run(runtime: Runtime, ref: str, **parameters: object) -> Execution:
    execution = runtime.executions.request(ref, parameters, user="admin")
    return asyncio.run(runtime.run_and_close(execution.id))


def test_task_reads_the_records_of_tasks_items_and_routes(runtime: Runtime) -> None:
    done = run(runtime, "hosted.task_records", names=["ann", "bob"])
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result["output"] == {
        "own": "greet",
        "own_status": "succeeded",
        "own_said": "hello",
        "items": ["hi ann", "hi bob"],
        "tails": ["hello seen from route 0", "hello seen from route 0"],
    }


def test_task_of_a_task_that_never_ran_fails_the_workflow(runtime: Runtime) -> None:
    done = run(runtime, "hosted.task_missing")
    assert done.status is Status.FAILED
    assert done.result == {
        "output": None,
        "errors": [
            {
                "type": "error",
                "message": (
                    "YaqlEvaluationException: Unable to evaluate expression "
                    "'<% task(never_ran) %>'. ExpressionEvaluationException: "
                    'Unable to find task execution for "never_ran".'
                ),
                "task_transition_id": "continue__t0",
                "task_id": "only",
                "route": 0,
            }
        ],
    }


def test_ctx_st2_and_ctx_parent_are_seeded_as_stackstorm_seeds_them(runtime: Runtime) -> None:
    done = run(runtime, "hosted.context")
    assert done.status is Status.SUCCEEDED, done.result
    host, _, port = runtime.settings.listen.rpartition(":")
    assert done.result["output"] == {
        "st2": {
            "action_execution_id": done.id,
            "workflow_execution_id": done.id,
            "api_url": f"http://{host}:{port}/v1",
            "user": "admin",
            "pack": "hosted",
            "action": "hosted.context",
            "runner": "orquesta",
        },
        "parent": {"user": "admin", "pack": "hosted"},
    }


def test_a_subworkflows_ctx_parent_is_its_own_execution_context(runtime: Runtime) -> None:
    done = run(runtime, "hosted.nested_context")
    assert done.status is Status.SUCCEEDED, done.result
    inner = done.result["output"]["inner"]
    [call] = runtime.workflows.store.children(done.id)
    assert inner["st2"]["action_execution_id"] == call.id
    assert inner["parent"]["parent"]["execution_id"] == done.id
    assert inner["parent"]["orquesta"]["task_id"] == "call"
    assert "workflow_key" not in inner["parent"]


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:9101", "http://127.0.0.1:9101/v1"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080/v1"),
        ("automation.example:9101", "http://automation.example:9101/v1"),
    ],
)
def test_the_api_url_workflows_see_is_the_one_served(listen: str, url: str) -> None:
    assert public_api_url(listen) == url


def test_answering_an_inquiry_nested_in_a_subworkflow_resumes_every_level(
    runtime: Runtime,
) -> None:
    outer = runtime.executions.request("hosted.approval_above", {}, user="admin")
    asyncio.run(drive(runtime, status_is(runtime, outer.id, Status.PAUSED)))
    [inner] = runtime.workflows.store.children(outer.id)
    assert inner.status is Status.PAUSED
    [inquiry] = runtime.inquiries.list()
    runtime.inquiries.respond(inquiry.id, {"go": True}, user="admin", role="operator")
    asyncio.run(drive(runtime, lambda: runtime.executions.get(outer.id).completed))
    done = runtime.executions.get(outer.id)
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result == {"output": {"said": "go=True"}}
    assert runtime.executions.get(inner.id).status is Status.SUCCEEDED


def test_a_subworkflow_paused_and_resumed_on_its_own_takes_its_parent_along(
    runtime: Runtime,
) -> None:
    outer = runtime.executions.request("hosted.nap_above", {}, user="admin")
    store = runtime.workflows.store
    seen: dict[str, Status] = {}

    def inner() -> str:
        return store.children(outer.id)[0].id

    def napping() -> bool:
        children = store.children(outer.id)
        return bool(children) and any(c.status is Status.RUNNING for c in store.children(inner()))

    def both_paused() -> bool:
        return runtime.executions.get(inner()).status is Status.PAUSED and (
            runtime.executions.get(outer.id).status is Status.PAUSED
        )

    def resume_inner() -> None:
        seen["outer"] = runtime.executions.get(outer.id).status
        runtime.executions.resume(inner())

    asyncio.run(
        scenario(
            runtime,
            [
                (napping, lambda: runtime.executions.pause(inner())),
                (both_paused, resume_inner),
                (lambda: runtime.executions.get(outer.id).completed, lambda: None),
            ],
        )
    )
    assert seen["outer"] is Status.PAUSED  # the parent paused once nothing else ran
    done = runtime.executions.get(outer.id)
    assert done.status is Status.SUCCEEDED, done.result
    assert [c.status for c in store.children(outer.id)] == [Status.SUCCEEDED, Status.SUCCEEDED]


def test_canceling_a_subworkflow_cancels_its_root_and_the_other_branches(
    runtime: Runtime, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.touch()
    second.touch()
    outer = runtime.executions.request(
        "hosted.two_waits", {"first": str(first), "second": str(second)}, user="admin"
    )
    store = runtime.workflows.store

    def branch(task: str) -> Execution | None:
        for child in store.children(outer.id):
            if child.context["orquesta"]["task_id"] == task:
                return child
        return None

    def waiting(task: str) -> bool:
        sub = branch(task)
        return sub is not None and any(c.status is Status.RUNNING for c in store.children(sub.id))

    def other_branch_canceling() -> bool:
        sub = branch("two")
        return sub is not None and runtime.executions.get(sub.id).status in (
            Status.CANCELING,
            Status.CANCELED,
        )

    def let_go() -> None:
        first.unlink()
        second.unlink()

    def cancel_first() -> None:
        sub = branch("one")
        assert sub is not None
        runtime.executions.cancel(sub.id)

    asyncio.run(
        scenario(
            runtime,
            [
                (lambda: waiting("one") and waiting("two"), cancel_first),
                (other_branch_canceling, let_go),
                (lambda: runtime.executions.get(outer.id).completed, lambda: None),
            ],
        )
    )
    assert runtime.executions.get(outer.id).status is Status.CANCELED
    assert [runtime.executions.get(c.id).status for c in store.children(outer.id)] == [
        Status.CANCELED,
        Status.CANCELED,
    ]


def test_a_task_with_a_delay_waits_delayed_then_runs(runtime: Runtime) -> None:
    workflow = runtime.executions.request("hosted.later", {"seconds": 1}, user="admin")
    store = runtime.workflows.store
    seen: list[Status] = []

    def delayed() -> bool:
        children = store.children(workflow.id)
        return bool(children) and children[0].status is Status.DELAYED

    asyncio.run(
        scenario(
            runtime,
            [
                (delayed, lambda: seen.append(Status.DELAYED)),
                (lambda: runtime.executions.get(workflow.id).completed, lambda: None),
            ],
        )
    )
    done = runtime.executions.get(workflow.id)
    assert seen == [Status.DELAYED]
    assert done.status is Status.SUCCEEDED and done.result == {"output": {"said": "later"}}


def test_canceling_a_delayed_task_cancels_it_and_its_workflow(runtime: Runtime) -> None:
    workflow = runtime.executions.request("hosted.later", {"seconds": 300}, user="admin")
    store = runtime.workflows.store

    def delayed() -> bool:
        children = store.children(workflow.id)
        return bool(children) and children[0].status is Status.DELAYED

    asyncio.run(
        scenario(
            runtime,
            [
                (delayed, lambda: runtime.executions.cancel(store.children(workflow.id)[0].id)),
                (lambda: runtime.executions.get(workflow.id).completed, lambda: None),
            ],
        )
    )
    assert runtime.executions.get(workflow.id).status is Status.CANCELED
    assert [c.status for c in store.children(workflow.id)] == [Status.CANCELED]


def test_a_workflow_that_fails_inspection_fails_before_anything_runs(runtime: Runtime) -> None:
    done = run(runtime, "hosted.uninspected")
    assert done.status is Status.FAILED
    task = r"properties.tasks.patternProperties.^\w+$"
    assert done.result == {
        "output": None,
        "errors": [
            {
                "type": "content",
                "message": 'The action "hosted.nothing_of_the_kind" is not registered in the '
                "database.",
                "spec_path": "tasks.sign.action",
                "schema_path": f"{task}.properties.action",
            },
            {
                "type": "content",
                "message": 'Action "core.echo" is missing required input "message".',
                "spec_path": "tasks.greet.input",
                "schema_path": f"{task}.properties.input",
            },
            {
                "type": "content",
                "message": 'Action "core.echo" has unexpected input "text".',
                "spec_path": "tasks.greet.input.text",
                "schema_path": rf"{task}.properties.input.patternProperties.^\w+$",
            },
        ],
    }
    assert runtime.workflows.store.children(done.id) == []
