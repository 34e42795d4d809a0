"""Executions: one run of an action, its status machine and its ids.

Statuses and transitions are data (a table), checked by one parametrized test. Status names
are StackStorm's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    DELAYED = "delayed"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"
    CANCELING = "canceling"
    CANCELED = "canceled"
    PENDING = "pending"
    PAUSING = "pausing"
    PAUSED = "paused"
    RESUMING = "resuming"


COMPLETED: frozenset[Status] = frozenset(
    {Status.SUCCEEDED, Status.FAILED, Status.TIMEOUT, Status.ABANDONED, Status.CANCELED}
)
"""Final statuses: nothing changes an execution once it has one."""

_S = Status
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    _S.REQUESTED: frozenset({_S.SCHEDULED, _S.DELAYED, _S.CANCELED, _S.FAILED}),
    _S.DELAYED: frozenset({_S.SCHEDULED, _S.CANCELED, _S.FAILED}),
    _S.SCHEDULED: frozenset({_S.RUNNING, _S.CANCELED, _S.FAILED, _S.DELAYED}),
    _S.RUNNING: frozenset(
        {
            _S.SUCCEEDED,
            _S.FAILED,
            _S.TIMEOUT,
            _S.ABANDONED,
            _S.CANCELING,
            _S.PENDING,
            _S.PAUSING,
        }
    ),
    _S.CANCELING: frozenset({_S.CANCELED, _S.SUCCEEDED, _S.FAILED, _S.TIMEOUT, _S.ABANDONED}),
    _S.PENDING: frozenset({_S.RUNNING, _S.SUCCEEDED, _S.FAILED, _S.CANCELED, _S.TIMEOUT}),
    _S.PAUSING: frozenset({_S.PAUSED, _S.CANCELING, _S.CANCELED, _S.FAILED}),
    _S.PAUSED: frozenset({_S.RESUMING, _S.CANCELING, _S.CANCELED}),
    _S.RESUMING: frozenset({_S.RUNNING, _S.CANCELING, _S.FAILED}),
    **{status: frozenset() for status in COMPLETED},
}
"""status -> the statuses it may move to."""


def can_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True, slots=True)
class Execution:
    """One execution as stored."""

    id: str
    action_ref: str
    runner_type: str
    status: Status
    parameters: Mapping[str, Any]
    """Parameters as the caller gave them, secrets masked."""
    context: Mapping[str, Any]
    """StackStorm's execution context: user, source, rule, trigger_instance, parent..."""
    created_at: str
    attempt: int = 1
    result: Any = None
    start_timestamp: str | None = None
    end_timestamp: str | None = None
    run_after: str | None = None
    claimed_by: str | None = None
    lease_expires_at: str | None = None
    pids: tuple[int, ...] = ()
    parent_id: str | None = None
    log: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    """Status changes: ``{"status", "timestamp"}`` in order (StackStorm's ``log``)."""

    @property
    def completed(self) -> bool:
        return self.status in COMPLETED
