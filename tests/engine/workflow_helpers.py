"""What the engine's workflow tests share: an instance with the ``flows`` test pack, and ways
to run the worker and the workflow shell until something holds."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from packhorse import bootstrap
from packhorse.engine.runtime import Runtime, build_runtime
from packhorse.model.execution import Status
from packhorse.settings import load_settings

FLOWS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "flows"

Step = tuple[Callable[[], bool], Callable[[], object]]


def flows_runtime(home: Path) -> Runtime:
    """A runtime over ``home`` with the ``flows`` pack registered."""
    shutil.copytree(FLOWS, home / "packs" / "flows")
    settings = load_settings(home)
    outcome = bootstrap.register_instance_packs(settings, refs=["flows"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    return build_runtime(settings, slots=4)


async def scenario(runtime: Runtime, steps: Sequence[Step], *, limit: float = 30) -> None:
    """Run the worker and the workflow shell throughout; at each condition, in order, do its
    action."""
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(runtime.worker.run(stop)),
        asyncio.create_task(runtime.workflows.run(stop, poll_seconds=0.02)),
    ]
    try:
        deadline = asyncio.get_running_loop().time() + limit
        for condition, action in steps:
            while not condition():
                assert asyncio.get_running_loop().time() < deadline, "timed out"
                await asyncio.sleep(0.02)
            action()
    finally:
        stop.set()
        await asyncio.gather(*loops)


async def drive(runtime: Runtime, until: Callable[[], bool], *, limit: float = 30) -> None:
    """Run the worker and the workflow shell until ``until()`` holds."""
    await scenario(runtime, [(until, lambda: None)], limit=limit)


def status_is(runtime: Runtime, execution_id: str, *statuses: Status) -> Callable[[], bool]:
    return lambda: runtime.executions.get(execution_id).status in statuses


def ended(runtime: Runtime, execution_id: str) -> Callable[[], bool]:
    return lambda: runtime.executions.get(execution_id).completed


def child_running(runtime: Runtime, workflow_id: str) -> Callable[[], bool]:
    """Whether one of the workflow's child executions is running."""
    store = runtime.workflows.store
    return lambda: any(c.status is Status.RUNNING for c in store.children(workflow_id))


def cancel_while_running(runtime: Runtime, workflow_id: str) -> None:
    """Cancel the workflow once a child runs, and wait for the workflow to end."""
    asyncio.run(
        scenario(
            runtime,
            [
                (
                    child_running(runtime, workflow_id),
                    lambda: runtime.executions.cancel(workflow_id),
                ),
                (ended(runtime, workflow_id), lambda: None),
            ],
        )
    )
