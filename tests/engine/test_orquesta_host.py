"""Orquesta workflows that rely on what StackStorm's workflow engine adds around the conductor:
the ``task()`` function, ``ctx().st2``, the inspection at start, the result of a failure."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.engine.runtime import Runtime, build_runtime
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
