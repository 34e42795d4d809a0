"""Status moves of executions inside a caller's driver transaction: the transition (checked
against the status table and the expected statuses), its ``execution_log`` row and, for a
workflow's child, the event in the workflow's inbox; and the insert of a new execution. The
queue (:mod:`packhorse.storage.executions`) and the workflow store use them, so that a move
and everything recorded with it are always one write.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from packhorse.model.content import canonical_json
from packhorse.model.execution import COMPLETED, TRANSITIONS, Execution, Status, can_move
from packhorse.storage import schema
from packhorse.storage.driver import DriverTransaction, Prepared

_table = schema.executions
_log = schema.execution_log

_EVENT_INSERT = Prepared(
    schema.workflow_events.insert()
    .inline()
    .values(
        workflow_id=sa.bindparam("workflow_id"),
        payload=sa.bindparam("payload"),
        created_at=sa.bindparam("created_at"),
    )
)
_APPEND_LOG = Prepared(
    _log.insert()
    .inline()
    .values(
        execution_id=sa.bindparam("execution_id"),
        status=sa.bindparam("status"),
        timestamp=sa.bindparam("timestamp"),
    )
)
_INSERT = Prepared(_table.insert())

#: Built once per shape: constructing and compiling statements is most of a transition's cost.
_TRANSITIONS: dict[tuple[Status, tuple[str, ...], bool, tuple[str, ...]], Prepared] = {}


def _transition_statement(
    target: Status, sources: tuple[str, ...], with_attempt: bool, values: dict[str, Any]
) -> Prepared:
    key = (target, sources, with_attempt, tuple(sorted(values)))
    statement = _TRANSITIONS.get(key)
    if statement is None:
        condition = [
            _table.c.id == sa.bindparam("target_id"),
            # Literal binds, not an expanding IN: the statement compiles once, completely.
            _table.c.status.in_([sa.literal(source) for source in sources]),
        ]
        if with_attempt:
            condition.append(_table.c.attempt == sa.bindparam("expected_attempt"))
        statement = Prepared(
            _table.update()
            .where(*condition)
            .values(status=target.value, **{k: sa.bindparam(f"new_{k}") for k in key[3]})
            .returning(_table.c.parent_id, _table.c.context, _table.c.result)
        )
        _TRANSITIONS[key] = statement
    return statement


#: The same moves as one statement that also writes the log row (PostgreSQL), per shape.
_LOGGED_TRANSITIONS: dict[tuple[Status, tuple[str, ...], bool, tuple[str, ...]], Prepared] = {}


def _logged_transition_statement(
    target: Status, sources: tuple[str, ...], with_attempt: bool, values: dict[str, Any]
) -> Prepared:
    """``WITH moved AS (UPDATE ... RETURNING), logged AS (INSERT INTO execution_log ...)
    SELECT ... FROM moved``: the move and its log row, both or neither, in one statement."""
    key = (target, sources, with_attempt, tuple(sorted(values)))
    statement = _LOGGED_TRANSITIONS.get(key)
    if statement is None:
        condition = [
            _table.c.id == sa.bindparam("target_id"),
            _table.c.status.in_([sa.literal(source) for source in sources]),
            # A workflow's child is never moved here: its parent would miss the inbox event.
            _table.c.parent_id.is_(None),
        ]
        if with_attempt:
            condition.append(_table.c.attempt == sa.bindparam("expected_attempt"))
        moved = (
            _table.update()
            .where(*condition)
            .values(status=target.value, **{k: sa.bindparam(f"new_{k}") for k in key[3]})
            .returning(_table.c.id)
            .cte("moved")
        )
        logged = _log.insert().from_select(
            ["execution_id", "status", "timestamp"],
            sa.select(
                moved.c.id,
                sa.literal(target.value, sa.String),
                sa.bindparam("log_timestamp", type_=sa.String),
            ),
        )
        statement = Prepared(sa.select(moved.c.id).add_cte(logged.cte("logged")))
        _LOGGED_TRANSITIONS[key] = statement
    return statement


def transition_alone(
    driver: DriverTransaction,
    execution_id: str,
    target: Status,
    *,
    now: str,
    attempt: int | None = None,
    expected: Iterable[Status] | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """:func:`transition_in` as one statement, for :func:`.driver.driver_statement` (on
    PostgreSQL), for an execution that is no workflow's child: a child (whose parent must get
    an inbox event with the move) is not moved, and False returned."""
    sources = _sources_of(target, expected)
    if not sources:
        return False
    encoded = _encoded(target, now, values)
    statement = _logged_transition_statement(target, tuple(sources), attempt is not None, encoded)
    arguments = {f"new_{k}": v for k, v in encoded.items()}
    arguments.update(target_id=execution_id, expected_attempt=attempt, log_timestamp=now)
    return driver.first(statement, arguments) is not None


def _encoded(target: Status, now: str, values: Mapping[str, Any] | None) -> dict[str, Any]:
    encoded = {
        k: canonical_json(v) if k in {"result", "pids"} and v is not None else v
        for k, v in (values or {}).items()
    }
    if target in COMPLETED:
        encoded.setdefault("end_timestamp", now)
        encoded.update(claimed_by=None, lease_expires_at=None)
    return encoded


def _sources_of(target: Status, expected: Iterable[Status] | None) -> list[str]:
    """The statuses ``target`` may be reached from, kept to ``expected`` when given."""
    wanted = None if expected is None else set(expected)
    return [s.value for s in _SOURCES[target] if wanted is None or s in wanted]


#: target status -> the statuses it may be reached from (the transition table, inverted)
_SOURCES: dict[Status, frozenset[Status]] = {
    target: frozenset(s for s, targets in TRANSITIONS.items() if target in targets)
    for target in Status
}


#: Statuses of a child execution its parent workflow is told about (the workflow shell applies
#: them to the workflow's state): the ones orquesta's conductor acts on.
NOTIFY_PARENT: frozenset[Status] = frozenset(
    {Status.PENDING, Status.PAUSED, Status.RESUMING, Status.CANCELED} | COMPLETED
)


def transition_in(
    driver: DriverTransaction,
    execution_id: str,
    target: Status,
    *,
    now: str,
    attempt: int | None = None,
    expected: Iterable[Status] | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """:meth:`SqlExecutionStore.transition` inside the caller's transaction: the move, its log
    row and, when the execution belongs to a workflow and the workflow acts on ``target``, the
    event in the workflow's inbox (so a child's end can never be recorded without its parent
    hearing of it)."""
    sources = _sources_of(target, expected)
    if not sources:
        return False
    encoded = _encoded(target, now, values)
    statement = _transition_statement(target, tuple(sources), attempt is not None, encoded)
    # Bind names must differ from column names: SQLAlchemy reads those as SET values.
    arguments = {f"new_{k}": v for k, v in encoded.items()}
    arguments.update(target_id=execution_id, expected_attempt=attempt)
    row = driver.first(statement, arguments)
    if row is None:
        return False
    _log_status(driver, execution_id, target, now)
    parent_id, context, result = row
    if parent_id is not None and target in NOTIFY_PARENT:
        driver.execute(
            _EVENT_INSERT,
            {
                "workflow_id": parent_id,
                "payload": child_event(execution_id, target, context, result),
                "created_at": now,
            },
        )
    return True


def child_event(execution_id: str, status: Status, context: str, result: str | None) -> str:
    """The inbox event of a child's status change, carrying what the workflow needs (its task
    key and, once it has ended, its result) so that applying it reads nothing more. The stored
    JSON of the result is spliced in as it is, not decoded and encoded again."""
    key = json.loads(context).get("workflow_key")
    head = json.dumps({"child": execution_id, "status": status.value, "key": key})
    ended = status in COMPLETED or status is Status.PENDING
    return f'{head[:-1]}, "result": {result if ended and result is not None else "null"}}}'


def _log_status(driver: DriverTransaction, execution_id: str, status: Status, at: str) -> None:
    driver.execute(
        _APPEND_LOG, {"execution_id": execution_id, "status": status.value, "timestamp": at}
    )


def _insert(driver: DriverTransaction, execution: Execution, then: Status | None) -> None:
    statuses = [execution.status]
    if then is not None:
        assert can_move(execution.status, then)
        statuses.append(then)
    driver.execute(
        _INSERT,
        {
            "id": execution.id,
            "action_ref": execution.action_ref,
            "runner_type": execution.runner_type,
            "status": statuses[-1].value,
            "parameters": canonical_json(execution.parameters),
            "context": canonical_json(execution.context),
            "result": None if execution.result is None else canonical_json(execution.result),
            "attempt": execution.attempt,
            "created_at": execution.created_at,
            "start_timestamp": None,
            "end_timestamp": None,
            "run_after": execution.run_after,
            "claimed_by": None,
            "lease_expires_at": None,
            "pids": "[]",
            "parent_id": execution.parent_id,
        },
    )
    for status in statuses:
        _log_status(driver, execution.id, status, execution.created_at)
