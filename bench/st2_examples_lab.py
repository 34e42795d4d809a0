"""The scratch engine the StackStorm example cases run on, and what a case is.

:class:`Lab` runs nothing itself: ``st2_examples.py`` runs the worker and the workflow shell in
the background, and a case starts executions, waits for states as StackStorm's integration
tests wait (a completed execution in another state is a mismatch), and acts (pause, resume,
cancel, answer an inquiry, re-run).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packhorse.engine.runtime import Runtime
from packhorse.model.datastore import Scope
from packhorse.model.execution import COMPLETED, Execution, Status

USER = "admin"


class Mismatch(Exception):
    """The run left the path StackStorm takes; the message says where."""


# -- the engine, in this process ----------------------------------------------------------------


class Lab:
    """One scratch instance with its engine running, and what the cases do to it."""

    wait_seconds = 60.0
    """How long a case waits for one state (StackStorm's tests wait a minute too)."""

    def __init__(self, runtime: Runtime, scratch: Path) -> None:
        self.runtime = runtime
        self.scratch = scratch

    # Starting and reading.

    def start(self, workflow: str, **parameters: Any) -> str:
        execution = self.runtime.executions.request(f"examples.{workflow}", parameters, user=USER)
        return execution.id

    def get(self, execution_id: str) -> Execution:
        return self.runtime.executions.get(execution_id)

    def tasks(self, execution_id: str, task: str) -> list[Execution]:
        """The task executions of ``task`` under a workflow, oldest first."""
        return [
            child
            for child in self.runtime.workflows.store.children(execution_id)
            if child.context.get("orquesta", {}).get("task_name") == task
        ]

    def children(self, execution_id: str) -> list[Execution]:
        return self.runtime.workflows.store.children(execution_id)

    # Waiting, as StackStorm's tests wait: a completed execution in another state fails.

    async def state(self, execution_id: str, *statuses: Status) -> Execution:
        names = " or ".join(s.value for s in statuses)
        seen: list[Status] = []

        def reached() -> bool:
            status = self.get(execution_id).status
            seen.append(status)
            return status in statuses

        deadline = time.monotonic() + self.wait_seconds
        while not reached():
            if seen[-1] in COMPLETED:
                raise Mismatch(f"expected {names}, it ended {seen[-1].value}")
            if time.monotonic() > deadline:
                raise Mismatch(f"expected {names}, still {seen[-1].value}")
            await asyncio.sleep(0.05)
        return self.get(execution_id)

    async def still(self, execution_id: str, status: Status, *, seconds: float) -> None:
        """Check that the execution stays ``status`` for ``seconds`` (while its tasks run)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = self.get(execution_id).status
            if now is not status:
                raise Mismatch(f"expected to stay {status.value}, it became {now.value}")
            await asyncio.sleep(0.05)

    async def end(self, execution_id: str) -> Execution:
        return await self.state(execution_id, *COMPLETED)

    async def task(
        self, workflow_id: str, task: str, status: Status | None = None, count: int = 1
    ) -> list[Execution]:
        """Wait until ``task`` has ``count`` executions, all in ``status`` when given."""
        wanted = f"{count} execution(s) of {task}" + (f" {status.value}" if status else "")

        def reached() -> bool:
            runs = self.tasks(workflow_id, task)
            return len(runs) == count and (status is None or all(r.status is status for r in runs))

        deadline = time.monotonic() + self.wait_seconds
        while not reached():
            if time.monotonic() > deadline or self.get(workflow_id).completed:
                await asyncio.sleep(0.2)  # a child's last move may trail its workflow's end
                if reached():
                    break
                runs = [r.status.value for r in self.tasks(workflow_id, task)]
                raise Mismatch(f"expected {wanted}, got {runs or 'none'}")
            await asyncio.sleep(0.05)
        return self.tasks(workflow_id, task)

    # Acting.

    def pause(self, execution_id: str) -> None:
        self.runtime.executions.pause(execution_id)

    def resume(self, execution_id: str) -> None:
        self.runtime.executions.resume(execution_id)

    def cancel(self, execution_id: str) -> None:
        self.runtime.executions.cancel(execution_id)

    def respond(self, inquiry_id: str, response: Mapping[str, Any]) -> None:
        self.runtime.inquiries.respond(inquiry_id, dict(response), user=USER, role="admin")

    def rerun(
        self, execution_id: str, tasks: Sequence[str] = (), no_reset: Sequence[str] = ()
    ) -> str:
        execution = self.runtime.executions.re_run(
            execution_id, user=USER, overrides={}, tasks=tasks, no_reset=no_reset
        )
        return execution.id

    def set_key(self, name: str, value: str, *, scope: Scope, secret: bool = False) -> None:
        user = USER if scope is Scope.USER else ""
        self.runtime.datastore.set_value(name, value, scope=scope, user=user, secret=secret)

    def delete_key(self, name: str, *, scope: Scope) -> None:
        user = USER if scope is Scope.USER else ""
        with contextlib.suppress(Exception):
            self.runtime.datastore.delete_value(name, scope=scope, user=user)

    @contextlib.contextmanager
    def files(self, count: int, content: str | None = None) -> Iterator[list[Path]]:
        """Temporary files the test workflows wait on (they loop while the file exists)."""
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        paths = [folder / f"file{index}" for index in range(count)]
        for path in paths:
            path.write_text(content or "")
        try:
            yield paths
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# -- what a case is ---------------------------------------------------------------------------

Run = Callable[[Lab], Awaitable[str]]
"""A case's script: raises Mismatch where Packhorse leaves StackStorm's path, else returns
what it saw (the ``got`` column)."""


@dataclass(frozen=True)
class Case:
    workflow: str
    scenario: str
    expected: str
    """Short, for the table."""
    run: Run
    derived: bool = False
    """The expectation is read from the workflow's definition: no StackStorm test runs it."""

    @property
    def label(self) -> str:
        return f"{self.workflow} ({self.scenario})" if self.scenario else self.workflow


def shown(value: Any, limit: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finished(
    workflow: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    status: Status,
    result: Any = None,
    check: Callable[[Lab, Execution], None] | None = None,
    tasks: Mapping[str, Status] | None = None,
    scenario: str = "",
    derived: bool = False,
    setup: Callable[[Lab], None] | None = None,
    expected: str = "",
) -> Case:
    """A workflow run to its end: status and result as StackStorm's test expects them.

    ``result`` is the whole result (compared exactly, as the tests' ``assertDictEqual``), or a
    callable of the execution giving it; ``check`` looks at what the tests look at instead;
    ``tasks`` are tasks run once each, waited for in that status (a task may end after its
    workflow: one staged with ``fail`` runs after the workflow failed).
    """

    async def run(lab: Lab) -> str:
        if setup is not None:
            setup(lab)
        execution = await lab.end(lab.start(workflow, **dict(parameters or {})))
        if execution.status is not status:
            raise Mismatch(f"{execution.status.value}: {shown(execution.result, 300)}")
        if result is not None:
            wanted = result(execution) if callable(result) else result
            if execution.result != wanted:
                raise Mismatch(f"result {shown(execution.result, 600)}")
        for task, task_status in (tasks or {}).items():
            await lab.task(execution.id, task, task_status)
        if check is not None:
            check(lab, execution)
        return f"{execution.status.value}, {shown(execution.result, 50)}"

    summary = expected or f"{status.value}" + (f", {shown(result, 50)}" if result else "")
    return Case(workflow, scenario, summary, run, derived)


def task_statuses(lab: Lab, execution: Execution, task: str) -> list[str]:
    return [child.status.value for child in lab.tasks(execution.id, task)]


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Mismatch(message)
