"""The task and workflow status tables: properties every row must have, and the behaviours of
orquesta that users see (reference/orquesta.md §1.9)."""

from __future__ import annotations

import pytest

from packhorse.workflow.machines import (
    REMEDIATED,
    TASK_TABLE,
    WORKFLOW_TABLE,
    Items,
    Progress,
    Source,
    TaskTrigger,
    WorkflowTrigger,
    next_task_status,
    next_workflow_status,
)
from packhorse.workflow.statuses import ACTIVE, COMPLETED, Status

S = Status
TASK_ROWS = [
    (current, trigger, new) for current, row in TASK_TABLE.items() for trigger, new in row.items()
]
WORKFLOW_ROWS = [
    (current, trigger, new)
    for current, row in WORKFLOW_TABLE.items()
    for trigger, new in row.items()
]


def test_every_status_a_task_or_workflow_can_leave_has_a_row() -> None:
    # Tasks that time out or are abandoned before running stay so; workflows never pend,
    # retry, time out or are abandoned (StackStorm sets those outside the conductor).
    assert set(TASK_TABLE) == {None, *Status} - {S.TIMEOUT, S.ABANDONED}
    assert set(WORKFLOW_TABLE) == {None, *Status} - {S.PENDING, S.RETRYING, S.TIMEOUT, S.ABANDONED}
    assert next_task_status(S.TIMEOUT, TaskTrigger(Source.ACTION, S.RUNNING)) == S.TIMEOUT


@pytest.mark.parametrize(("current", "trigger", "new"), TASK_ROWS, ids=str)
def test_task_rows(current: Status | None, trigger: TaskTrigger, new: Status) -> None:
    assert next_task_status(current, trigger) == new
    # A completed task only ever goes back to retrying; canceled is final.
    if current in COMPLETED:
        assert new == S.RETRYING and current != S.CANCELED
    # Items qualify only action events of items and workflow requests.
    if trigger.items is not None:
        assert trigger.source in (Source.ACTION, Source.WORKFLOW)
        assert trigger.active is not None
    # Engine commands act on tasks that have not started, or retry completed ones.
    if trigger.source == Source.ENGINE:
        assert current is None or current in COMPLETED


@pytest.mark.parametrize(("current", "trigger", "new"), WORKFLOW_ROWS, ids=str)
def test_workflow_rows(current: Status | None, trigger: WorkflowTrigger, new: Status) -> None:
    assert next_workflow_status(current, trigger) == new
    assert current not in (S.FAILED, S.CANCELED)  # final
    if current == S.SUCCEEDED:
        assert new == S.FAILED  # only an output that fails to render
    if trigger.status == S.FAILED and trigger.source == Source.TASK:
        assert new in (S.FAILED, S.CANCELING, S.CANCELED)  # fail fast, unless canceling
    if trigger.active and trigger.source == Source.REQUEST:
        assert new not in COMPLETED  # active tasks keep it pausing or canceling


def test_unlisted_triggers_change_nothing() -> None:
    assert next_task_status(S.CANCELED, TaskTrigger(Source.ACTION, S.RUNNING)) == S.CANCELED
    assert next_workflow_status(S.FAILED, WorkflowTrigger(Source.REQUEST, S.RUNNING)) == S.FAILED


@pytest.mark.parametrize("status", [S.TIMEOUT, S.ABANDONED])
def test_timeout_and_abandoned_fail_a_running_task(status: Status) -> None:
    assert next_task_status(S.RUNNING, TaskTrigger(Source.ACTION, status)) == S.FAILED
    assert next_task_status(S.REQUESTED, TaskTrigger(Source.ACTION, status)) == status


def test_a_canceling_task_ignores_a_plain_success() -> None:
    # orquesta's gap, kept: only the last item succeeding completes a canceling task.
    assert next_task_status(S.CANCELING, TaskTrigger(Source.ACTION, S.SUCCEEDED)) == S.CANCELING
    last_item = TaskTrigger(Source.ACTION, S.SUCCEEDED, False, Items.COMPLETED)
    assert next_task_status(S.CANCELING, last_item) == S.SUCCEEDED


def test_a_failed_item_waits_for_the_active_ones() -> None:
    failed_while_active = TaskTrigger(Source.ACTION, S.FAILED, True, Items.INCOMPLETE)
    assert next_task_status(S.RUNNING, failed_while_active) == S.RUNNING
    failed_last = TaskTrigger(Source.ACTION, S.SUCCEEDED, False, Items.FAILED)
    assert next_task_status(S.RUNNING, failed_last) == S.FAILED


def test_workflow_fails_fast_and_remediation_counts_as_success() -> None:
    assert next_workflow_status(S.RUNNING, WorkflowTrigger(Source.TASK, S.FAILED, True)) == S.FAILED
    remediated = WorkflowTrigger(Source.TASK, REMEDIATED, False, Progress.COMPLETED)
    assert next_workflow_status(S.RUNNING, remediated) == S.SUCCEEDED


def test_pause_depends_on_active_tasks() -> None:
    active = WorkflowTrigger(Source.REQUEST, S.PAUSING, True)
    dormant = WorkflowTrigger(Source.REQUEST, S.PAUSING, False)
    assert next_workflow_status(S.RUNNING, active) == S.PAUSING
    assert next_workflow_status(S.RUNNING, dormant) == S.PAUSED
    done = WorkflowTrigger(Source.REQUEST, S.RESUMING, None, Progress.COMPLETED)
    assert next_workflow_status(S.PAUSED, done) == S.SUCCEEDED


def test_active_statuses_are_not_completed() -> None:
    assert not ACTIVE & COMPLETED
