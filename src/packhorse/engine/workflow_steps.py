"""What a workflow step needs besides the shell: which workflow is stepping (for host
functions such as StackStorm's ``task()``), the legal path from one workflow status to
another and the moves that take the workflow's execution there, ``ctx().st2``, rerun requests,
task labels, and the executions tasks start."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from packhorse.engine.clock import iso
from packhorse.engine.ids import new_id
from packhorse.model.content import Resource
from packhorse.model.execution import COMPLETED, TRANSITIONS, Execution, Status
from packhorse.model.workflow import Finish, StartAction
from packhorse.storage.workflows import Move

_STEPPING: ContextVar[str | None] = ContextVar("packhorse_stepping_workflow", default=None)


def stepping() -> str | None:
    """The workflow execution whose events the shell is applying in this context: host
    functions that read its records (StackStorm's ``task()``) use it. None outside a step."""
    return _STEPPING.get()


@contextlib.contextmanager
def stepping_bound(execution_id: str) -> Iterator[None]:
    """Make ``execution_id`` the workflow :func:`stepping` gives, for the ``with`` block."""
    token = _STEPPING.set(execution_id)
    try:
        yield
    finally:
        _STEPPING.reset(token)


def status_path(current: Status, target: Status) -> list[Status]:
    """The shortest chain of legal moves from ``current`` to ``target`` (empty when equal or
    impossible): a workflow that goes from running to paused passes through pausing. Only a
    workflow being canceled passes through ``canceling``: one that ends while paused resumes."""
    if current is target:
        return []
    avoid = set() if target in (Status.CANCELING, Status.CANCELED) else {Status.CANCELING}
    paths: dict[Status, list[Status]] = {current: []}
    frontier = [current]
    while frontier:
        following = []
        for status in frontier:
            for step in sorted(TRANSITIONS[status]):
                if step in paths or (step in avoid and step is not target):
                    continue
                paths[step] = [*paths[status], step]
                if step is target:
                    return paths[step]
                following.append(step)
        frontier = following
    return []


def rerun_tasks(rerun: Mapping[str, Any]) -> list[dict[str, Any]]:
    reset = set(rerun.get("reset") or [])
    tasks = []
    for name in rerun.get("tasks") or []:
        task_id, _, route = str(name).partition("@")
        tasks.append(
            {"task_id": task_id, "route": int(route or 0), "reset_items": task_id in reset}
        )
    return tasks


def task_label(key: Mapping[str, Any]) -> str:
    if "node" in key:
        return f"node:{key['node']}"
    return f"{key.get('task_id')}|{key.get('route', 0)}"


def st2_context(execution: Execution, api_url: str) -> dict[str, Any]:
    """``ctx().st2`` as StackStorm seeds it (``api_user`` and ``source_channel`` only when the
    execution has them). The workflow execution is the action execution itself here."""
    st2 = {
        "action_execution_id": execution.id,
        "workflow_execution_id": execution.id,
        "api_url": api_url,
        "user": execution.context.get("user"),
        "pack": execution.context.get("pack"),
        "action": execution.action_ref,
        "runner": execution.runner_type,
    }
    for optional in ("api_user", "source_channel"):
        if execution.context.get(optional):
            st2[optional] = execution.context[optional]
    return st2


def own_moves(
    workflow: Execution, driver_status: str | None, finish: Finish | None, now: str
) -> list[Move]:
    """The moves of the workflow execution's own status after a step: it follows its
    driver's ``driver_status`` (through the legal intermediate statuses); the final move (a
    ``finish``) carries the result."""
    current = workflow.status
    moves: list[Move] = []
    if current in (Status.SCHEDULED, Status.REQUESTED):
        moves.append(
            Move(
                workflow.id,
                Status.RUNNING,
                values={"start_timestamp": now, "claimed_by": None, "lease_expires_at": None},
            )
        )
        current = Status.RUNNING
    if finish is not None:
        target = Status(finish.status)
    else:
        status = driver_status
        if status is None or status in ("requested", "scheduled", "retrying"):
            return moves
        target = Status(status)
        if target in COMPLETED:
            return moves  # the driver's Finish carries the final move
    for step in status_path(current, target):
        values: dict[str, Any] = {}
        if step is target and finish is not None:
            values["result"] = dict(finish.result)
        moves.append(Move(workflow.id, step, values=values))
    return moves


def child_execution(
    workflow: Execution,
    command: StartAction,
    action: Resource,
    parameters: Mapping[str, Any],
    *,
    now: dt.datetime,
) -> Execution:
    """The execution a workflow's task starts: ``requested``, its context carrying the
    workflow's user, pack and parents (as StackStorm nests them) and the task's key."""
    user = str(workflow.context.get("user", ""))
    parent: dict[str, Any] = {
        "execution_id": workflow.id,
        "user": user,
        "pack": workflow.context.get("pack"),
    }
    if "parent" in workflow.context:
        parent["parent"] = workflow.context["parent"]
    context = {
        "user": user,
        "pack": action.pack,
        "parent": parent,
        **command.context,
        "workflow_key": dict(command.key),
    }
    run_after = iso(now + dt.timedelta(seconds=command.delay)) if command.delay > 0 else None
    return Execution(
        id=new_id(),
        action_ref=action.ref,
        runner_type=str(action.body.get("runner_type", "")),
        status=Status.REQUESTED,
        parameters=dict(parameters),
        context=context,
        created_at=iso(now),
        run_after=run_after,
        parent_id=workflow.id,
    )
