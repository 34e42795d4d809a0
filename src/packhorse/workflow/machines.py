"""The task and workflow status machines, as tables (reference/orquesta.md §1.9).

A status changes when a *trigger* arrives that the table of the current status lists; any
other trigger leaves the status as it is. Triggers are values, not strings:

* :class:`TaskTrigger`: an action event for the task (``source`` ACTION), one of its items
  (ACTION, qualified by ``items``: how the *other* items stand), a workflow request passed down
  to it (WORKFLOW), or an engine command (ENGINE: ``continue``/``noop`` carry succeeded,
  ``fail`` failed, ``retry`` retrying);
* :class:`WorkflowTrigger`: a workflow request (REQUEST) or the new status of a task (TASK,
  with ``remediated`` for a failed task one of whose transitions was taken), qualified by
  whether other tasks are still active and how far the workflow has got.

The qualifiers are computed by the conductor; these tables only say what they lead to. They
reproduce orquesta's state machines (``machines.py``), whose behaviour is what StackStorm users
see, including its gaps: a canceling task ignores a plain ``succeeded``, and a task retrying
is moved only by action events and cancellation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

from packhorse.workflow.statuses import Status

S = Status


class Source(StrEnum):
    ACTION = "action"
    WORKFLOW = "workflow"
    ENGINE = "engine"
    REQUEST = "request"
    TASK = "task"


class Items(StrEnum):
    """How the other items of a with-items task stand, as orquesta summarises them."""

    INCOMPLETE = "incomplete"
    COMPLETED = "completed"
    PAUSED = "paused"
    CANCELED = "canceled"
    FAILED = "failed"


class Progress(StrEnum):
    """Where a workflow stands when one of its tasks succeeds (or is remediated)."""

    INCOMPLETE = "incomplete"
    COMPLETED = "completed"
    PAUSED = "paused"
    CANCELED = "canceled"


REMEDIATED: Final = "remediated"
"""The task status a workflow sees for a failed task that one of its transitions handles."""


@dataclass(frozen=True, slots=True)
class TaskTrigger:
    source: Source
    status: Status
    active: bool | None = None
    """For with-items tasks: whether other items are still active (None: not qualified)."""
    items: Items | None = None


@dataclass(frozen=True, slots=True)
class WorkflowTrigger:
    source: Source
    status: str
    """A :class:`Status`, or :data:`REMEDIATED`."""
    active: bool | None = None
    """Whether tasks are still active (None: not qualified)."""
    progress: Progress | None = None


TaskTable = Mapping[Status | None, Mapping[TaskTrigger, Status]]
WorkflowTable = Mapping[Status | None, Mapping[WorkflowTrigger, Status]]


def _action(*statuses: Status, to: Status | None = None) -> dict[TaskTrigger, Status]:
    """Plain action events leading to their own status (or to ``to``)."""
    return {TaskTrigger(Source.ACTION, status): to or status for status in statuses}


_ITEM_STATUSES: Final = (
    S.PENDING,
    S.PAUSED,
    S.CANCELED,
    S.FAILED,
    S.TIMEOUT,
    S.ABANDONED,
    S.SUCCEEDED,
)
_OUTCOMES: Final = (Items.PAUSED, Items.CANCELED, Items.FAILED, Items.INCOMPLETE, Items.COMPLETED)


def _dormant_items(rows: Mapping[Status, Iterable[Status]]) -> dict[TaskTrigger, Status]:
    """Item events when no other item is active: ``rows`` gives, for each item status, the
    new task status for each outcome of the other items, in the order of :data:`_OUTCOMES`."""
    table: dict[TaskTrigger, Status] = {}
    for status, results in rows.items():
        for outcome, result in zip(_OUTCOMES, results, strict=True):
            table[TaskTrigger(Source.ACTION, status, False, outcome)] = result
    return table


def _active_items(results: Mapping[Status, Status]) -> dict[TaskTrigger, Status]:
    """Item events while other items are still active (so the items are incomplete)."""
    return {
        TaskTrigger(Source.ACTION, status, True, Items.INCOMPLETE): result
        for status, result in results.items()
    }


def _workflow_to_items(
    *statuses: Status, active: Status, dormant: Status
) -> dict[TaskTrigger, Status]:
    """A workflow request passed to a with-items task whose items are incomplete."""
    table: dict[TaskTrigger, Status] = {}
    for status in statuses:
        table[TaskTrigger(Source.WORKFLOW, status, True, Items.INCOMPLETE)] = active
        table[TaskTrigger(Source.WORKFLOW, status, False, Items.INCOMPLETE)] = dormant
    return table


#                 paused      canceled    failed      incomplete  completed
_ABENDED_ROW: Final = (S.FAILED, S.CANCELED, S.FAILED, S.FAILED, S.FAILED)
_RUNNING_DORMANT: Final = {
    S.PENDING: (S.PAUSED, S.CANCELED, S.FAILED, S.PAUSED, S.PAUSED),
    S.PAUSED: (S.PAUSED, S.CANCELED, S.FAILED, S.PAUSED, S.PAUSED),
    S.CANCELED: (S.CANCELED,) * 5,
    S.FAILED: _ABENDED_ROW,
    S.TIMEOUT: _ABENDED_ROW,
    S.ABANDONED: _ABENDED_ROW,
    S.SUCCEEDED: (S.PAUSED, S.CANCELED, S.FAILED, S.RUNNING, S.SUCCEEDED),
}
# While pausing, an item that succeeds with others left to run pauses the task.
_PAUSING_DORMANT: Final = {
    **_RUNNING_DORMANT,
    S.SUCCEEDED: (S.PAUSED, S.CANCELED, S.FAILED, S.PAUSED, S.SUCCEEDED),
}
# While canceling, everything but the last item succeeding cancels the task.
_CANCELING_DORMANT: Final = {
    **{status: (S.CANCELED,) * 5 for status in _ITEM_STATUSES},
    S.SUCCEEDED: (S.CANCELED, S.CANCELED, S.CANCELED, S.CANCELED, S.SUCCEEDED),
}
_STOPPING: Final = (S.PAUSING, S.PAUSED, S.CANCELING, S.CANCELED, S.FAILED)

TASK_TABLE: Final[TaskTable] = {
    None: {
        **_action(S.REQUESTED, S.SCHEDULED, S.DELAYED, S.RUNNING, S.PENDING),
        TaskTrigger(Source.ENGINE, S.SUCCEEDED): S.SUCCEEDED,
        TaskTrigger(Source.ENGINE, S.FAILED): S.FAILED,
    },
    S.REQUESTED: _action(
        S.SCHEDULED, S.DELAYED, S.RUNNING, S.PENDING, *_STOPPING, S.TIMEOUT, S.ABANDONED
    ),
    S.SCHEDULED: _action(S.DELAYED, S.RUNNING, S.PENDING, *_STOPPING, S.TIMEOUT, S.ABANDONED),
    S.DELAYED: _action(S.SCHEDULED, S.RUNNING, S.PENDING, *_STOPPING, S.TIMEOUT, S.ABANDONED),
    S.RUNNING: {
        **_action(S.RUNNING, S.PENDING, *_STOPPING, S.SUCCEEDED),
        **_action(S.TIMEOUT, S.ABANDONED, to=S.FAILED),
        **_active_items(
            {
                S.PENDING: S.PAUSING,
                S.PAUSED: S.PAUSING,
                S.CANCELED: S.CANCELING,
                S.SUCCEEDED: S.RUNNING,
            }
        ),
        **_dormant_items(_RUNNING_DORMANT),
        **_workflow_to_items(S.PAUSING, S.PAUSED, active=S.PAUSING, dormant=S.PAUSED),
        **_workflow_to_items(S.CANCELING, S.CANCELED, active=S.CANCELING, dormant=S.CANCELED),
    },
    S.PENDING: {
        **_action(S.CANCELED, S.FAILED, S.SUCCEEDED),
        **_action(S.TIMEOUT, S.ABANDONED, to=S.FAILED),
    },
    S.PAUSING: {
        **_action(S.PAUSED, S.RESUMING, S.CANCELING, S.CANCELED, S.FAILED),
        **_action(S.TIMEOUT, S.ABANDONED, to=S.FAILED),
        **_dormant_items(_PAUSING_DORMANT),
    },
    S.PAUSED: _action(S.RUNNING, S.RESUMING, S.CANCELING, S.CANCELED),
    S.RESUMING: _action(S.RUNNING, S.CANCELING, S.CANCELED),
    S.RETRYING: {
        **_action(S.RUNNING, S.CANCELING, S.CANCELED),
        TaskTrigger(Source.WORKFLOW, S.CANCELING): S.CANCELED,
        TaskTrigger(Source.WORKFLOW, S.CANCELED): S.CANCELED,
    },
    S.CANCELING: {
        **_action(S.PAUSED, S.CANCELED, to=S.CANCELED),
        **_action(S.FAILED, S.TIMEOUT, S.ABANDONED, to=S.FAILED),
        **_dormant_items(_CANCELING_DORMANT),
    },
    S.CANCELED: {},
    S.SUCCEEDED: {TaskTrigger(Source.ENGINE, S.RETRYING): S.RETRYING},
    S.FAILED: {TaskTrigger(Source.ENGINE, S.RETRYING): S.RETRYING},
}
"""Task status -> trigger -> new task status."""


def _request(*statuses: Status, to: Status | None = None) -> dict[WorkflowTrigger, Status]:
    return {WorkflowTrigger(Source.REQUEST, status): to or status for status in statuses}


def _request_when(
    *statuses: Status, active: Status | None, dormant: Status | None
) -> dict[WorkflowTrigger, Status]:
    """Pause and cancel requests, which depend on whether tasks are still active."""
    table: dict[WorkflowTrigger, Status] = {}
    for status in statuses:
        if active is not None:
            table[WorkflowTrigger(Source.REQUEST, status, True)] = active
        if dormant is not None:
            table[WorkflowTrigger(Source.REQUEST, status, False)] = dormant
    return table


def _task(
    status: str, *, active: Status | None, dormant: Status | None
) -> dict[WorkflowTrigger, Status]:
    table: dict[WorkflowTrigger, Status] = {}
    if active is not None:
        table[WorkflowTrigger(Source.TASK, status, True)] = active
    if dormant is not None:
        table[WorkflowTrigger(Source.TASK, status, False)] = dormant
    return table


def _task_done(
    status: str,
    active: Mapping[Progress, Status],
    dormant: Mapping[Progress, Status],
) -> dict[WorkflowTrigger, Status]:
    """A task succeeded (or was remediated): the result depends on the other tasks."""
    table: dict[WorkflowTrigger, Status] = {}
    for is_active, results in ((True, active), (False, dormant)):
        for progress, result in results.items():
            table[WorkflowTrigger(Source.TASK, status, is_active, progress)] = result
    return table


def _done_both(
    active: Mapping[Progress, Status], dormant: Mapping[Progress, Status]
) -> dict[WorkflowTrigger, Status]:
    return {
        **_task_done(S.SUCCEEDED, active, dormant),
        **_task_done(REMEDIATED, active, dormant),
    }


P = Progress
_PAUSE_CANCEL: Final = {
    **_request_when(S.PAUSING, S.PAUSED, active=S.PAUSING, dormant=S.PAUSED),
    **_request_when(S.CANCELING, S.CANCELED, active=S.CANCELING, dormant=S.CANCELED),
}
_NOT_STARTED: Final = {
    **_request_when(S.PAUSING, S.PAUSED, active=None, dormant=S.PAUSED),
    **_request_when(S.CANCELING, S.CANCELED, active=None, dormant=S.CANCELED),
    **_request(S.FAILED),
}
_CANCELED_TASK: Final = {
    WorkflowTrigger(Source.TASK, S.CANCELING): S.CANCELING,
    **_task(S.CANCELED, active=S.CANCELING, dormant=S.CANCELED),
}
_RUNNING_DONE_DORMANT: Final = {
    P.INCOMPLETE: S.RUNNING,
    P.COMPLETED: S.SUCCEEDED,
    P.PAUSED: S.PAUSED,
    P.CANCELED: S.CANCELED,
}
_PAUSING_DONE_DORMANT: Final = {
    P.INCOMPLETE: S.PAUSED,
    P.COMPLETED: S.PAUSED,
    P.PAUSED: S.PAUSED,
    P.CANCELED: S.CANCELED,
}

WORKFLOW_TABLE: Final[WorkflowTable] = {
    None: _request(S.REQUESTED, S.SCHEDULED, S.DELAYED, S.RUNNING, S.FAILED),
    S.REQUESTED: {**_request(S.SCHEDULED, S.DELAYED, S.RUNNING), **_NOT_STARTED},
    S.SCHEDULED: {**_request(S.DELAYED, S.RUNNING), **_NOT_STARTED},
    S.DELAYED: {**_request(S.SCHEDULED, S.RUNNING), **_NOT_STARTED},
    S.RUNNING: {
        **_PAUSE_CANCEL,
        **_request(S.FAILED, S.SUCCEEDED),
        **_task(S.PENDING, active=S.PAUSING, dormant=S.PAUSED),
        WorkflowTrigger(Source.TASK, S.PAUSING): S.RUNNING,
        # A paused task leaves the others running; the workflow pauses once none is active.
        **_task(S.PAUSED, active=S.RUNNING, dormant=S.PAUSED),
        **_done_both(
            {
                P.INCOMPLETE: S.RUNNING,
                P.COMPLETED: S.RUNNING,
                P.PAUSED: S.PAUSING,
                P.CANCELED: S.CANCELING,
            },
            _RUNNING_DONE_DORMANT,
        ),
        # Fail fast: a task failing unhandled fails the workflow, tasks still running or not.
        **_task(S.FAILED, active=S.FAILED, dormant=S.FAILED),
        **_CANCELED_TASK,
    },
    S.PAUSING: {
        **_PAUSE_CANCEL,
        **_request(S.RUNNING, S.RESUMING, S.FAILED),
        **_task(S.PENDING, active=S.PAUSING, dormant=S.PAUSED),
        **_task(S.PAUSED, active=S.PAUSING, dormant=S.PAUSED),
        **_task_done(S.SUCCEEDED, dict.fromkeys(Progress, S.PAUSING), _PAUSING_DONE_DORMANT),
        **_task_done(
            REMEDIATED,
            {**dict.fromkeys(Progress, S.PAUSING), P.CANCELED: S.CANCELING},
            _PAUSING_DONE_DORMANT,
        ),
        **_task(S.FAILED, active=S.FAILED, dormant=S.FAILED),
        **_CANCELED_TASK,
        **_task(S.RETRYING, active=S.PAUSING, dormant=S.PAUSED),
    },
    S.PAUSED: {
        **_request(S.RUNNING, S.RESUMING, S.FAILED),
        # Resuming a paused workflow with nothing left to do completes it.
        WorkflowTrigger(Source.REQUEST, S.RUNNING, None, P.COMPLETED): S.SUCCEEDED,
        WorkflowTrigger(Source.REQUEST, S.RESUMING, None, P.COMPLETED): S.SUCCEEDED,
        **_request_when(S.CANCELING, S.CANCELED, active=None, dormant=S.CANCELED),
        WorkflowTrigger(Source.TASK, S.RUNNING): S.RUNNING,
        WorkflowTrigger(Source.TASK, S.RESUMING): S.RUNNING,
    },
    S.RESUMING: {
        **_PAUSE_CANCEL,
        **_request(S.RUNNING, S.FAILED),
        WorkflowTrigger(Source.TASK, S.RUNNING): S.RUNNING,
        **_task(S.PENDING, active=S.PAUSING, dormant=S.PAUSED),
        **_done_both({P.INCOMPLETE: S.RUNNING, P.COMPLETED: S.RUNNING}, _RUNNING_DONE_DORMANT),
        **_task(S.FAILED, active=S.FAILED, dormant=S.FAILED),
        **_CANCELED_TASK,
    },
    S.CANCELING: {
        **_request_when(S.CANCELING, S.CANCELED, active=S.CANCELING, dormant=S.CANCELED),
        **_request(S.FAILED),
        **_task(S.PENDING, active=S.CANCELING, dormant=S.CANCELED),
        **_task(S.PAUSED, active=S.CANCELING, dormant=S.CANCELED),
        **_done_both(
            {P.INCOMPLETE: S.CANCELING, P.COMPLETED: S.CANCELING},
            dict.fromkeys(Progress, S.CANCELED),
        ),
        **_task(S.FAILED, active=S.CANCELING, dormant=S.CANCELED),
        **_task(S.CANCELED, active=S.CANCELING, dormant=S.CANCELED),
        **_task(S.RETRYING, active=S.CANCELING, dormant=S.CANCELED),
    },
    S.CANCELED: {},
    S.SUCCEEDED: _request(S.FAILED),  # an output that fails to render fails the workflow
    S.FAILED: {},
}
"""Workflow status -> trigger -> new workflow status."""


task_trigger: Final = lru_cache(maxsize=1024)(TaskTrigger)
"""A :class:`TaskTrigger`, shared: triggers are values, and an event makes several."""

workflow_trigger: Final = lru_cache(maxsize=1024)(WorkflowTrigger)


def next_task_status(current: Status | None, trigger: TaskTrigger) -> Status | None:
    """The task status after ``trigger``: the current one when the table lists no change
    (a task timed out or abandoned before it ran has no row: nothing moves it)."""
    return TASK_TABLE.get(current, {}).get(trigger, current)


def next_workflow_status(current: Status | None, trigger: WorkflowTrigger) -> Status | None:
    """The workflow status after ``trigger``: the current one when the table lists no change."""
    return WORKFLOW_TABLE.get(current, {}).get(trigger, current)
