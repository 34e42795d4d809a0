"""The workflow shell over a real SQLite instance, with a small driver of our own: a list of
actions run one after another. What is checked is the shell's part: children started and
their ends applied, state written in parts with the events it consumed, the workflow's own
status following the driver's, crash safety (a fresh shell carries on from the store) and
requests (cancel)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from packhorse.engine.runtime import Runtime, build_runtime
from packhorse.engine.workflow_steps import status_path
from packhorse.engine.workflows import WorkflowShell
from packhorse.model.execution import Status
from packhorse.model.workflow import Command, Finish, SignalChildren, StartAction
from packhorse.settings import load_settings


class SequenceSession:
    """Runs ``[[action_ref, parameters], ...]`` in order; fails at the first failure."""

    def __init__(self, steps: list[list[Any]], parts: Mapping[str, Any] | None = None) -> None:
        self.steps = steps
        self.meta: dict[str, Any] = dict(parts["meta"]) if parts else {"at": 0, "status": None}
        self.results: dict[int, Any] = {
            int(k.split("/")[1]): v for k, v in (parts or {}).items() if k.startswith("result/")
        }
        self._dirty: set[str] = set()

    @property
    def status(self) -> str | None:
        return str(self.meta["status"]) if self.meta["status"] else None

    def _set(self, **values: Any) -> None:
        self.meta.update(values)
        self._dirty.add("meta")

    def _next(self) -> list[Command]:
        at = int(self.meta["at"])
        if at == len(self.steps):
            self._set(status="succeeded")
            output = {"results": [self.results[i] for i in range(at)]}
            return [Finish("succeeded", {"output": output})]
        ref, parameters = self.steps[at]
        return [StartAction({"task_id": f"step{at}", "route": 0}, ref, parameters)]

    def begin(self) -> list[Command]:
        self._set(status="running")
        return self._next()

    def child_event(
        self, key: Mapping[str, Any], status: str, result: Any, execution_id: str
    ) -> list[Command]:
        if self.meta["status"] == "canceling" and status in ("canceled", "succeeded", "failed"):
            self._set(status="canceled")
            return [Finish("canceled", {"output": None})]
        at = int(self.meta["at"])
        assert key == {"task_id": f"step{at}", "route": 0}
        self.results[at] = result
        self._dirty.add(f"result/{at}")
        if status != "succeeded":
            self._set(status="failed")
            return [Finish("failed", {"output": None, "errors": [{"task_id": key["task_id"]}]})]
        self._set(at=at + 1)
        return self._next()

    def request(self, status: str, options: Mapping[str, Any] | None = None) -> list[Command]:
        assert status == "cancel"
        self._set(status="canceling")
        return [SignalChildren([], "cancel")]

    def take_changes(self) -> tuple[dict[str, Any], set[str]]:
        parts = {"meta": self.meta, **{f"result/{i}": r for i, r in self.results.items()}}
        changed = {key: parts[key] for key in self._dirty}
        self._dirty = set()
        return changed, set()

    def tree(self) -> list[Mapping[str, Any]]:
        return [{"task_id": f"step{i}", "route": 0} for i in range(int(self.meta["at"]) + 1)]


class SequenceDriver:
    kind = "sequence"

    def start(
        self, definition: str, parameters: Mapping[str, Any], context: Mapping[str, Any]
    ) -> SequenceSession:
        return SequenceSession(json.loads(definition))

    def load(self, definition: str, parts: Mapping[str, Any]) -> SequenceSession:
        return SequenceSession(json.loads(definition), parts)


def _runtime(home: Path, steps: list[list[Any]]) -> Runtime:
    runtime = build_runtime(load_settings(home), slots=4)
    # The bundled examples.greet_team is an orquesta action: its entry point gets our list.
    entry = home / "packs" / "examples" / "actions" / "workflows" / "greet_team.yaml"
    entry.write_text(json.dumps(steps))
    shell = runtime.workflows
    shell._drivers = {"orquesta": SequenceDriver()}  # type: ignore[dict-item]
    return runtime


def _fresh_shell(runtime: Runtime) -> WorkflowShell:
    """What a restarted engine has: the same store, no session in memory."""
    old = runtime.workflows
    shell = WorkflowShell(
        runtime.store,
        old.store,
        {"orquesta": SequenceDriver()},
        old._action_for,  # type: ignore[dict-item]
    )
    runtime.workflows = shell
    runtime.worker.workflows = shell
    return shell


STEPS = [
    ["core.local", {"cmd": "echo one"}],
    ["core.noop", {}],
    ["core.local", {"cmd": "echo three"}],
]


def test_a_workflow_runs_its_children_in_order_and_ends_with_its_result(
    instance_home: Path,
) -> None:
    runtime = _runtime(instance_home, STEPS)
    workflow = runtime.executions.request("examples.greet_team", {}, user="admin")
    done = asyncio.run(runtime.run_and_close(workflow.id))

    assert done.status is Status.SUCCEEDED
    results = done.result["output"]["results"]
    assert [r.get("stdout") for r in results] == ["one", None, "three"]
    children = runtime.workflows.store.children(workflow.id)
    assert [c.action_ref for c in children] == ["core.local", "core.noop", "core.local"]
    assert all(c.status is Status.SUCCEEDED and c.parent_id == workflow.id for c in children)
    assert children[0].context["parent"]["execution_id"] == workflow.id
    assert [entry["status"] for entry in done.log] == [
        "requested",
        "scheduled",
        "running",
        "succeeded",
    ]
    assert runtime.workflows.store.inbox() == []


def test_a_failing_child_fails_the_workflow(instance_home: Path) -> None:
    runtime = _runtime(instance_home, [["core.local", {"cmd": "exit 3"}], ["core.noop", {}]])
    workflow = runtime.executions.request("examples.greet_team", {}, user="admin")
    done = asyncio.run(runtime.run_and_close(workflow.id))
    assert done.status is Status.FAILED
    assert done.result["errors"] == [{"task_id": "step0"}]
    assert len(runtime.workflows.store.children(workflow.id)) == 1


def test_an_unknown_action_fails_its_task_without_a_child(instance_home: Path) -> None:
    runtime = _runtime(instance_home, [["nopack.nothing", {}]])
    workflow = runtime.executions.request("examples.greet_team", {}, user="admin")
    done = asyncio.run(runtime.run_and_close(workflow.id))
    assert done.status is Status.FAILED
    assert runtime.workflows.store.children(workflow.id) == []


async def _step_until(runtime: Runtime, predicate: Any, *, limit: float = 20.0) -> None:
    """Drive worker and shell by hand until ``predicate()`` holds."""
    stop = asyncio.Event()
    worker = asyncio.create_task(runtime.worker.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + limit
        while not predicate():
            runtime.workflows.process()
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await worker


def test_a_new_shell_carries_on_from_the_store_after_a_crash(instance_home: Path) -> None:
    """Kill the shell between steps (drop everything in memory): the workflow goes on from
    its stored parts and inbox, with no child started twice."""
    runtime = _runtime(instance_home, STEPS)
    workflow = runtime.executions.request("examples.greet_team", {}, user="admin")
    store = runtime.workflows.store

    def children_done(n: int) -> Any:
        return lambda: sum(c.completed for c in store.children(workflow.id)) >= n

    asyncio.run(_step_until(runtime, children_done(1)))
    _fresh_shell(runtime)
    asyncio.run(_step_until(runtime, lambda: runtime.executions.get(workflow.id).completed))
    done = runtime.executions.get(workflow.id)
    assert done.status is Status.SUCCEEDED
    assert len(store.children(workflow.id)) == 3
    assert len(done.result["output"]["results"]) == 3


def test_an_event_is_applied_once_even_when_two_shells_race(instance_home: Path) -> None:
    """Two shells (two processes) read the same inbox batch: the version guard lets the first
    commit win; the second's step writes nothing (no child started twice)."""
    runtime = _runtime(instance_home, STEPS)
    workflow = runtime.executions.request("examples.greet_team", {}, user="admin")
    store = runtime.workflows.store
    first = runtime.workflows
    asyncio.run(_step_until(runtime, lambda: bool(store.inbox())))
    second = _fresh_shell(runtime)
    batch = store.inbox()
    rows = store.executions([workflow.id, *(str(e.payload["child"]) for e in batch)])
    second._sessions[workflow.id] = second._session(rows[workflow.id])  # type: ignore[assignment]
    assert first.process() == 1
    children = len(store.children(workflow.id))
    second._step(rows[workflow.id], batch, rows)  # stale: conflicts, writes nothing
    assert len(store.children(workflow.id)) == children == 2
    assert workflow.id not in second._sessions  # it reloads next time
    asyncio.run(_step_until(runtime, lambda: runtime.executions.get(workflow.id).completed))
    assert len(store.children(workflow.id)) == 3


def test_cancel_lets_the_running_child_finish_then_cancels_the_workflow(
    instance_home: Path,
) -> None:
    runtime = _runtime(instance_home, [["core.local", {"cmd": "sleep 1"}], ["core.noop", {}]])
    workflow = runtime.executions.request("examples.greet_team", {}, user="admin")
    store = runtime.workflows.store

    def child_running() -> bool:
        return any(c.status is Status.RUNNING for c in store.children(workflow.id))

    async def scenario() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(runtime.worker.run(stop))
        try:
            while not child_running():
                await asyncio.sleep(0.02)
            runtime.workflows.request(workflow.id, "cancel")
            while not runtime.executions.get(workflow.id).completed:
                runtime.workflows.process()
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await worker

    asyncio.run(asyncio.wait_for(scenario(), 30))
    done = runtime.executions.get(workflow.id)
    assert done.status is Status.CANCELED
    # As in StackStorm: the running action is not interrupted; nothing starts after it.
    assert [c.status for c in store.children(workflow.id)] == [Status.SUCCEEDED]
    assert [e["status"] for e in done.log][-2:] == ["canceling", "canceled"]


@pytest.mark.parametrize(
    ("current", "target", "path"),
    [
        (Status.RUNNING, Status.PAUSED, [Status.PAUSING, Status.PAUSED]),
        (Status.PAUSED, Status.RUNNING, [Status.RESUMING, Status.RUNNING]),
        (Status.RUNNING, Status.CANCELED, [Status.CANCELING, Status.CANCELED]),
        (Status.RUNNING, Status.SUCCEEDED, [Status.SUCCEEDED]),
        (Status.PAUSED, Status.SUCCEEDED, [Status.RESUMING, Status.RUNNING, Status.SUCCEEDED]),
        (Status.PAUSED, Status.CANCELED, [Status.CANCELED]),
        (Status.SUCCEEDED, Status.RUNNING, []),
        (Status.RUNNING, Status.RUNNING, []),
    ],
)
def test_status_paths(current: Status, target: Status, path: list[Status]) -> None:
    assert status_path(current, target) == path


def test_cancel_lets_a_task_already_handed_out_run_and_starts_nothing_after(
    instance_home: Path,
) -> None:
    """A child the workflow started but no worker has claimed yet is not canceled by the
    workflow's cancel (StackStorm's rule: the workflow's actions are never interrupted), so
    whether it had begun to run makes no difference."""
    runtime = _runtime(instance_home, [["core.noop", {}], ["core.noop", {}]])
    entry = instance_home / "packs" / "examples" / "actions" / "workflows" / "greet_team.yaml"
    workflow = runtime.executions.request("examples.greet_team", {}, user="admin")
    runtime.workflows.start(runtime.executions.get(workflow.id), {}, str(entry))
    [child] = runtime.workflows.store.children(workflow.id)
    assert child.status is Status.SCHEDULED
    runtime.workflows.request(workflow.id, "cancel")
    runtime.workflows.process()
    assert runtime.executions.get(child.id).status is Status.SCHEDULED
    assert runtime.executions.get(workflow.id).status is Status.CANCELING
    asyncio.run(_step_until(runtime, lambda: runtime.executions.get(workflow.id).completed))
    assert runtime.executions.get(workflow.id).status is Status.CANCELED
    assert [c.status for c in runtime.workflows.store.children(workflow.id)] == [Status.SUCCEEDED]
