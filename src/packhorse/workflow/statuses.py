"""The statuses of Orquesta workflows, tasks and action executions, and their groups
(reference/orquesta.md §1.9).

The unset status is ``None`` here (orquesta writes it ``"null"``): a task whose execution has
been created but has had no event yet, or a workflow not started.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Status(StrEnum):
    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    DELAYED = "delayed"
    RUNNING = "running"
    PENDING = "pending"
    PAUSING = "pausing"
    PAUSED = "paused"
    RESUMING = "resuming"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"
    RETRYING = "retrying"
    CANCELING = "canceling"
    CANCELED = "canceled"


def parse_status(text: str | None) -> Status | None:
    """``text`` as a status; ``None``, ``""`` and ``"null"`` are the unset status. Raises
    ValueError for anything else."""
    if text is None or text in ("", "null"):
        return None
    status = _BY_VALUE.get(text)
    if status is None:
        raise ValueError(f"{text!r} is not a status")
    return status


_BY_VALUE: Final = {status.value: status for status in Status}


STARTING: Final = frozenset(
    {Status.REQUESTED, Status.SCHEDULED, Status.DELAYED, Status.RUNNING, Status.PENDING}
)
"""Statuses that begin an execution: such an event for a completed task starts a new one."""

RUNNING: Final = frozenset(
    {
        Status.REQUESTED,
        Status.SCHEDULED,
        Status.DELAYED,
        Status.RUNNING,
        Status.RESUMING,
        Status.RETRYING,
    }
)
"""Workflow statuses in which tasks are handed out."""

ACTIVE: Final = frozenset(
    {
        Status.REQUESTED,
        Status.SCHEDULED,
        Status.DELAYED,
        Status.RUNNING,
        Status.RESUMING,
        Status.PAUSING,
        Status.CANCELING,
    }
)
"""Task statuses of an execution still in progress (what makes a workflow "active")."""

PAUSE: Final = frozenset({Status.PAUSING, Status.PAUSED})
CANCEL: Final = frozenset({Status.CANCELING, Status.CANCELED})
ABENDED: Final = frozenset({Status.FAILED, Status.TIMEOUT, Status.ABANDONED})
COMPLETED: Final = frozenset(
    {Status.SUCCEEDED, Status.FAILED, Status.TIMEOUT, Status.ABANDONED, Status.CANCELED}
)
