"""Rows of the ``executions`` table as :class:`Execution` values, and the filters of an
execution list as SQL conditions (shared by the stores that read executions)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from packhorse.model.execution import Execution, Status
from packhorse.storage import schema

_table = schema.executions

#: The order :func:`row_to_execution` unpacks a row of ``sa.select(_table)`` in.
_COLUMNS = (
    "id",
    "action_ref",
    "runner_type",
    "status",
    "parameters",
    "context",
    "result",
    "attempt",
    "created_at",
    "start_timestamp",
    "end_timestamp",
    "run_after",
    "claimed_by",
    "lease_expires_at",
    "pids",
    "parent_id",
)
assert tuple(column.name for column in _table.c) == _COLUMNS, "executions columns moved"


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    action_ref: str | None = None
    pack: str | None = None
    """Only executions of this pack's actions (refs ``pack.*``)."""
    statuses: tuple[Status, ...] = ()
    parent_id: str | None = None
    top_level: bool = False
    """Only executions that are not a workflow's task (StackStorm's list shows those)."""
    limit: int = 50
    offset: int = 0
    created_after: str | None = None
    """Only executions created strictly after this ISO-8601 time (StackStorm's
    ``timestamp_gt``); ``created_before`` likewise (``timestamp_lt``)."""
    created_before: str | None = None
    oldest_first: bool = False
    user: str | None = None
    """Only executions whose context names this user (StackStorm's ``user`` filter)."""


def row_to_execution(row: Sequence[Any], log: Sequence[Sequence[Any]] = ()) -> Execution:
    """An execution from a row of ``sa.select(_table)`` (an SQLAlchemy row or a driver tuple)."""
    (
        execution_id,
        action_ref,
        runner_type,
        status,
        parameters,
        context,
        result,
        attempt,
        created_at,
        start_timestamp,
        end_timestamp,
        run_after,
        claimed_by,
        lease_expires_at,
        pids,
        parent_id,
    ) = row
    return Execution(
        id=execution_id,
        action_ref=action_ref,
        runner_type=runner_type,
        status=Status(status),
        parameters=json.loads(parameters),
        context=json.loads(context),
        created_at=created_at,
        attempt=attempt,
        result=None if result is None else json.loads(result),
        start_timestamp=start_timestamp,
        end_timestamp=end_timestamp,
        run_after=run_after,
        claimed_by=claimed_by,
        lease_expires_at=lease_expires_at,
        pids=tuple(json.loads(pids)),
        parent_id=parent_id,
        log=tuple({"status": s, "timestamp": t} for s, t in log),
    )


def filter_conditions(query: ExecutionFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions of ``query`` (its limit, offset and order aside)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if query.action_ref:
        conditions.append(_table.c.action_ref == query.action_ref)
    if query.pack:
        conditions.append(_table.c.action_ref.startswith(f"{query.pack}.", autoescape=True))
    if query.statuses:
        conditions.append(_table.c.status.in_([s.value for s in query.statuses]))
    if query.parent_id:
        conditions.append(_table.c.parent_id == query.parent_id)
    elif query.top_level:
        conditions.append(_table.c.parent_id.is_(None))
    if query.created_after:
        conditions.append(_table.c.created_at > query.created_after)
    if query.created_before:
        conditions.append(_table.c.created_at < query.created_before)
    if query.user is not None:
        # The context is stored as canonical JSON: its top-level ``user`` reads like this.
        needle = '"user":' + json.dumps(query.user, ensure_ascii=False)
        conditions.append(_table.c.context.contains(needle, autoescape=True))
    return conditions
