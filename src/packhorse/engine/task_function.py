"""StackStorm's ``task(task_id=None, route=None)`` workflow function: a task's execution record.

In a workflow expression, ``task()`` gives the current task's record and ``task('name')`` (YAQL
also ``task(name)``) another task's, on the current route unless ``route`` is given::

    {task_execution_id, workflow_execution_id, task_name, task_id, route, result, status,
     start_timestamp, end_timestamp}

as StackStorm's ``orquesta_functions.runtime.task`` builds it from its task execution records.
Packhorse keeps no task execution records: a task's runs are the child executions of the
workflow whose ``workflow_key`` names the task and route, and the task's status is the
conductor's. So:

* the route is resolved as ``task_status`` resolves it (a task not run on this route is looked
  for on the routes before the split), and a task that never ran there fails the expression with
  ``ExpressionEvaluationException: Unable to find task execution for "<task>".``;
* when a task ran several times (a loop, a retry), the latest run answers;
* ``result`` is the child's result; for a with-items task ``{"items": [{status, result}...]}``
  with ``None`` for items not finished (StackStorm's shape); for a task without an action,
  ``None``;
* ``task_execution_id`` is the child execution's id (None for with-items and action-less tasks,
  which have several children or none); timestamps are written as StackStorm writes them
  (``2024-05-01 10:00:00.000000+00:00``), ``"None"`` for a task not finished.

The function needs the workflow execution being stepped: the workflow shell binds it
(:func:`packhorse.engine.workflows.stepping`) while it applies events. After a
``re-run --tasks``, the runs of the original execution count too (the rerun keeps its tasks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from packhorse.engine.clock import ISO
from packhorse.engine.workflow_steps import stepping
from packhorse.expr.functions.workflow import (
    ExpressionEvaluationException,
    WorkflowScope,
    current_scope,
)
from packhorse.model.execution import COMPLETED, Execution, Status

#: Item statuses StackStorm records in a with-items task's result (the others leave it None).
_RECORDED: Final = COMPLETED | {Status.PAUSED, Status.PENDING}

Children = Callable[[str], Sequence[Execution]]
"""The child executions of a workflow execution, oldest first."""

Lookup = Callable[[str], Execution | None]
"""An execution by id."""


def task_function(children: Children, lookup: Lookup) -> Callable[..., dict[str, Any]]:
    """``task()`` over the executions ``children`` and ``lookup`` read."""

    def task(task_id: Any = None, route: Any = None) -> dict[str, Any]:
        scope = current_scope()
        if scope is None:
            raise ExpressionEvaluationException("The context is not set.")
        current = scope.current_task()
        if task_id is None:
            if current is None:
                raise KeyError("id")  # as StackStorm's function fails without a current task
            task_id = current[0]
        if route is None:
            route = current[1] if current is not None else 0
        name = str(task_id)
        found = scope.task_route(name, int(route))
        workflow_ids = _lineage(scope, lookup)
        if found is None or not workflow_ids:
            raise ExpressionEvaluationException(f'Unable to find task execution for "{name}".')
        runs = [
            child
            for workflow_id in reversed(workflow_ids)
            for child in children(workflow_id)
            if _is_run(child.context.get("workflow_key"), name, found)
        ]
        return _record(name, found, scope.task_status(name, found), runs, workflow_ids[0])

    return task


def _lineage(scope: WorkflowScope, lookup: Lookup) -> list[str]:
    """The workflow execution being stepped, then the ones it reruns, newest first."""
    first = stepping()
    if first is None:
        st2 = scope.variables().get("st2")
        first = str(st2.get("workflow_execution_id") or "") if isinstance(st2, Mapping) else ""
    ids: list[str] = []
    execution_id: str | None = first or None
    while execution_id is not None and execution_id not in ids:
        ids.append(execution_id)
        execution = lookup(execution_id)
        rerun = execution.context.get("re-run") if execution is not None else None
        execution_id = (
            str(rerun["ref"]) if isinstance(rerun, Mapping) and rerun.get("ref") else None
        )
    return ids


def _is_run(key: Any, task_id: str, route: int) -> bool:
    return (
        isinstance(key, Mapping)
        and key.get("task_id") == task_id
        and int(key.get("route", 0)) == route
    )


def _record(
    task_id: str, route: int, status: str | None, runs: list[Execution], workflow_id: str
) -> dict[str, Any]:
    items = [run for run in runs if run.context["workflow_key"].get("item") is not None]
    if items:
        latest: dict[int, Execution] = {}
        for run in items:
            latest[int(run.context["workflow_key"]["item"])] = run  # the last run of each item
        slots: list[Any] = [None] * (max(latest) + 1)
        for index, run in latest.items():
            if run.status in _RECORDED:
                slots[index] = {"status": run.status.value, "result": run.result}
        chosen = list(latest.values())
        result: Any = {"items": slots}
        execution_id = None
    elif runs:
        chosen = [runs[-1]]
        result = chosen[0].result
        execution_id = chosen[0].id
    else:
        chosen, result, execution_id = [], None, None
    starts = [run.created_at for run in chosen]
    ends = [run.end_timestamp for run in chosen]
    finished = bool(chosen) and all(run.status in COMPLETED for run in chosen)
    return {
        "task_execution_id": execution_id,
        "workflow_execution_id": chosen[0].parent_id if chosen else workflow_id,
        "task_name": task_id,
        "task_id": task_id,
        "route": route,
        "result": result,
        "status": status,
        "start_timestamp": _stamp(min(starts) if starts else None),
        "end_timestamp": _stamp(max(e for e in ends if e) if finished and any(ends) else None),
    }


def _stamp(value: str | None) -> str:
    """StackStorm's ``str(datetime)`` of a timestamp: ``2024-05-01 10:00:00.000000+00:00``."""
    if value is None:
        return "None"
    return str(dt.datetime.strptime(value, ISO).replace(tzinfo=dt.UTC))
