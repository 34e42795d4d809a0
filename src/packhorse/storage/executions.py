"""Executions on SQLAlchemy Core: the durable work queue.

Every status change is written together with its row in ``execution_log``, in one
transaction, and only when the status table allows it. Claims take a lease that heartbeats
extend. On SQLite a claim is one ``BEGIN IMMEDIATE`` transaction (one writer at a time); on
PostgreSQL the due rows are read with ``FOR UPDATE SKIP LOCKED``, so processes claiming at the
same moment take different rows instead of waiting on each other's locks.

The hot path of an execution (create, claim, transition, get, add_pid) runs its statements
on the driver (:mod:`packhorse.storage.driver`): Core builds and compiles each statement once,
per shape; the rest (scheduler passes, filters, retention) goes through SQLAlchemy as usual.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from packhorse.model.content import canonical_json
from packhorse.model.execution import COMPLETED, Execution, Status, can_move
from packhorse.storage import schema
from packhorse.storage.database import transaction
from packhorse.storage.driver import (
    DriverTransaction,
    Prepared,
    driver_statement,
    driver_transaction,
)
from packhorse.storage.execution_rows import (
    ExecutionFilter,
    filter_conditions,
    row_to_execution,
)
from packhorse.storage.moves import (
    NOTIFY_PARENT,
    _insert,
    transition_alone,
    transition_in,
)

__all__ = ["Decide", "ExecutionFilter", "SqlExecutionStore"]
"""``ExecutionFilter`` (``storage/execution_rows.py``) is the store's query: imported from here."""

_table = schema.executions
_log = schema.execution_log
_output = schema.execution_output

_LOG_INSERT = _log.insert()
_SELECT_ONE = Prepared(sa.select(_table).where(_table.c.id == sa.bindparam("target_id")))
_EXISTS = Prepared(sa.select(_table.c.id).where(_table.c.id == sa.bindparam("target_id")))
_SELECT_LOG = Prepared(
    sa.select(_log.c.status, _log.c.timestamp)
    .where(_log.c.execution_id == sa.bindparam("target_id"))
    .order_by(_log.c.id)
)
_CLAIMABLE = sa.and_(
    _table.c.status == Status.SCHEDULED.value,
    sa.or_(_table.c.claimed_by.is_(None), _table.c.lease_expires_at <= sa.bindparam("now")),
)
_CLAIM_ONE = Prepared(
    _table.update()
    .where(_table.c.id == sa.bindparam("target_id"), _CLAIMABLE)
    .values(claimed_by=sa.bindparam("worker"), lease_expires_at=sa.bindparam("until"))
)
_DUE_SELECT = (
    sa.select(_table.c.id)
    .where(
        _CLAIMABLE,
        sa.or_(_table.c.run_after.is_(None), _table.c.run_after <= sa.bindparam("now")),
    )
    .order_by(_table.c.created_at, _table.c.id)
    .limit(sa.bindparam("limit"))
)
_DUE = Prepared(_DUE_SELECT)
_DUE_CHILDREN_SELECT = _DUE_SELECT.where(_table.c.parent_id.is_not(None))
_DUE_CHILDREN = Prepared(_DUE_CHILDREN_SELECT)
"""While the intake is not open (a cutover), only the tasks of workflows already running."""


def _claim_due(due: sa.Select[tuple[str]]) -> Prepared:
    """PostgreSQL: the claim in one statement: lock the due rows, skipping those another
    claimer holds (a row it claimed meanwhile is re-checked against the conditions once
    locked), then take them and return them. Reading the ids, updating and reading back each
    row cost two more round trips per execution. ``MATERIALIZED``: the locking select runs
    once, whatever plan the update gets."""
    locked = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
    return Prepared(
        _table.update()
        .where(_table.c.id == locked.c.id, _CLAIMABLE)
        .values(claimed_by=sa.bindparam("worker"), lease_expires_at=sa.bindparam("until"))
        .returning(*_table.c)
    )


_CLAIM_DUE = _claim_due(_DUE_SELECT)
_CLAIM_DUE_CHILDREN = _claim_due(_DUE_CHILDREN_SELECT)
_WAITING_ACTIONS = Prepared(
    sa.select(_table.c.action_ref)
    .where(
        _table.c.status.in_([sa.literal(Status.REQUESTED.value), sa.literal(Status.DELAYED.value)]),
        sa.or_(_table.c.run_after.is_(None), _table.c.run_after <= sa.bindparam("now")),
    )
    .distinct()
)
_SELECT_PIDS = Prepared(sa.select(_table.c.pids).where(_table.c.id == sa.bindparam("target_id")))
_SET_PIDS = Prepared(
    _table.update()
    .where(_table.c.id == sa.bindparam("target_id"))
    .values(pids=sa.bindparam("new_pids"))
)

Decide = Callable[
    [Sequence[Execution], Sequence[Mapping[str, Any]]], Sequence[tuple[str, Status, Any]]
]
"""The scheduler's decision: (waiting executions, parameters of those holding a slot) ->
``(id, new status, result)`` for each execution to move."""


def _lock_key(action_ref: str) -> int:
    """A signed 64-bit advisory lock key for one action ref."""
    digest = hashlib.sha256(f"packhorse.schedule:{action_ref}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SqlExecutionStore:
    """Executions and their log over an SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    # -- writes -------------------------------------------------------------------------------

    def create(
        self,
        execution: Execution,
        *,
        then: Status | None = None,
        along: Callable[[DriverTransaction], None] | None = None,
    ) -> None:
        """Store a new execution; with ``then``, move it on at once; ``along`` writes what
        goes with it (a rule enforcement): all in one transaction."""
        with driver_transaction(self._engine, write=True) as driver:
            _insert(driver, execution, then)
            if along is not None:
                along(driver)

    def _append_log(
        self, connection: sa.Connection, execution_id: str, status: Status, at: str
    ) -> None:
        connection.execute(
            _LOG_INSERT, {"execution_id": execution_id, "status": status.value, "timestamp": at}
        )

    def transition(
        self,
        execution_id: str,
        target: Status,
        *,
        now: str,
        attempt: int | None = None,
        expected: Iterable[Status] | None = None,
        follow_up: tuple[Execution, Status | None] | None = None,
        top_level: bool = False,
        **values: Any,
    ) -> bool:
        """Move to ``target`` if the table allows it from the current status (and the current
        status is in ``expected``, and the attempt matches); write ``values`` with it.

        Returns False, changing nothing, otherwise: that is what makes recording a result
        idempotent (a second ``finish`` of the same attempt is a no-op). ``follow_up`` (a new
        execution and the status to move it on to) is stored in the same transaction, only
        when the move happened and no execution with its id exists (a policy retry).

        ``top_level``: the caller knows the execution is no workflow's child (an execution's
        parent never changes). On PostgreSQL the move and its log row are then one statement,
        a transaction by itself: one round trip to the server instead of four.
        """
        if top_level and follow_up is None and self._engine.dialect.name == "postgresql":
            with driver_statement(self._engine) as driver:
                return transition_alone(
                    driver,
                    execution_id,
                    target,
                    now=now,
                    attempt=attempt,
                    expected=expected,
                    values=values,
                )
        with driver_transaction(self._engine, write=True) as driver:
            if not transition_in(
                driver,
                execution_id,
                target,
                now=now,
                attempt=attempt,
                expected=expected,
                values=values,
            ):
                return False
            if follow_up is not None:
                new, then = follow_up
                if driver.first(_EXISTS, {"target_id": new.id}) is None:
                    _insert(driver, new, then)
        return True

    def settle(
        self, execution_id: str, target: Status, *, now: str, attempt: int, result: Any
    ) -> bool:
        """``scheduled -> running -> target`` in one transaction, for a run that started and
        ended with nothing in between to record (``core.noop``): both log rows, one commit."""
        with driver_transaction(self._engine, write=True) as driver:
            started = transition_in(
                driver,
                execution_id,
                Status.RUNNING,
                now=now,
                attempt=attempt,
                expected=(Status.SCHEDULED,),
                values={"start_timestamp": now},
            )
            if not started:
                return False
            return transition_in(
                driver, execution_id, target, now=now, attempt=attempt, values={"result": result}
            )

    def claim(
        self, worker: str, *, now: str, lease_until: str, limit: int, top_level: bool = True
    ) -> list[Execution]:
        """Take up to ``limit`` scheduled executions that are due and not leased; without
        ``top_level``, only workflow tasks (the intake is closed: see ``model/intake.py``)."""
        claimed = []
        if self._engine.dialect.name == "postgresql":
            arguments = {"now": now, "limit": limit, "worker": worker, "until": lease_until}
            statement = _CLAIM_DUE if top_level else _CLAIM_DUE_CHILDREN
            with driver_statement(self._engine) as driver:
                rows = driver.all(statement, arguments)
            claimed = [row_to_execution(row) for row in rows]
            claimed.sort(key=lambda execution: (execution.created_at, execution.id))
            return claimed
        due_select = _DUE if top_level else _DUE_CHILDREN
        with driver_transaction(self._engine, write=True) as driver:
            due = [row[0] for row in driver.all(due_select, {"now": now, "limit": limit})]
            for execution_id in due:
                arguments = {
                    "target_id": execution_id,
                    "now": now,
                    "worker": worker,
                    "until": lease_until,
                }
                # Each claim is conditional: a concurrent claimer's row is skipped, not taken.
                if driver.execute(_CLAIM_ONE, arguments):
                    row = driver.first(_SELECT_ONE, {"target_id": execution_id})
                    assert row is not None
                    claimed.append(row_to_execution(row))
        return claimed

    def claim_one(
        self, execution_id: str, worker: str, *, now: str, lease_until: str
    ) -> Execution | None:
        """Claim one given execution if it is scheduled and free (``packhorse run``)."""
        arguments = {"target_id": execution_id, "now": now, "worker": worker, "until": lease_until}
        with driver_transaction(self._engine, write=True) as driver:
            if not driver.execute(_CLAIM_ONE, arguments):
                return None
            row = driver.first(_SELECT_ONE, {"target_id": execution_id})
        assert row is not None
        return row_to_execution(row)

    def heartbeat(self, worker: str, ids: Sequence[str], *, lease_until: str) -> None:
        if not ids:
            return
        with transaction(self._engine, write=True) as connection:
            connection.execute(
                _table.update()
                .where(_table.c.id.in_(list(ids)), _table.c.claimed_by == worker)
                .values(lease_expires_at=lease_until)
            )

    def release(self, worker: str, ids: Sequence[str]) -> None:
        """Give back claimed executions that did not start (clean shutdown)."""
        if not ids:
            return
        with transaction(self._engine, write=True) as connection:
            connection.execute(
                _table.update()
                .where(
                    _table.c.id.in_(list(ids)),
                    _table.c.claimed_by == worker,
                    _table.c.status == Status.SCHEDULED.value,
                )
                .values(claimed_by=None, lease_expires_at=None)
            )

    def add_pid(self, execution_id: str, pid: int) -> None:
        with driver_transaction(self._engine, write=True) as driver:
            row = driver.first(_SELECT_PIDS, {"target_id": execution_id})
            if row is None:
                return
            pids = [*json.loads(row[0]), pid]
            driver.execute(_SET_PIDS, {"target_id": execution_id, "new_pids": json.dumps(pids)})

    def waiting_actions(self, *, now: str) -> list[str]:
        """Action refs with executions waiting for the scheduler (requested or delayed, due)."""
        with driver_statement(self._engine, write=False) as driver:  # each scheduler pass
            return sorted(row[0] for row in driver.all(_WAITING_ACTIONS, {"now": now}))

    def schedule(
        self,
        action_ref: str,
        decide: Decide,
        *,
        holding: Iterable[Status],
        now: str,
    ) -> list[tuple[str, Status]]:
        """One scheduler pass over one action, in one write transaction.

        Reads the action's due waiting executions (``requested``/``delayed``, oldest first) and
        the parameters of those ``holding`` a slot, asks ``decide`` and applies its decisions
        ``(id, status, result)``. Passes for the same action are serialised: on SQLite by
        ``BEGIN IMMEDIATE`` (one writer at a time), on PostgreSQL by a transaction-scoped
        advisory lock on the action ref, taken before anything is read, so two schedulers can
        never both count the same free slot. Returns the moves made.
        """
        waiting_select = (
            sa.select(_table)
            .where(
                _table.c.action_ref == action_ref,
                _table.c.status.in_([Status.REQUESTED.value, Status.DELAYED.value]),
                sa.or_(_table.c.run_after.is_(None), _table.c.run_after <= now),
            )
            .order_by(_table.c.created_at, _table.c.id)
        )
        active_select = sa.select(_table.c.parameters).where(
            _table.c.action_ref == action_ref,
            _table.c.status.in_([s.value for s in holding]),
        )
        moves: list[tuple[str, Status]] = []
        with transaction(self._engine, write=True) as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(action_ref)}
                )
            waiting = [row_to_execution(row) for row in connection.execute(waiting_select)]
            if not waiting:
                return []
            active = [json.loads(row.parameters) for row in connection.execute(active_select)]
            # Each move is a compare-and-set on the status read above, never a move from
            # whatever the row has become since (``scheduled -> delayed`` is a legal move).
            read = {execution.id: execution.status for execution in waiting}
            parents = {execution.id: execution.parent_id for execution in waiting}
            for execution_id, target, result in decide(waiting, active):
                if not can_move(read[execution_id], target):
                    continue
                values: dict[str, Any] = {"status": target.value}
                if target in COMPLETED:
                    values.update(
                        end_timestamp=now,
                        result=None if result is None else canonical_json(result),
                    )
                changed = connection.execute(
                    _table.update()
                    .where(
                        _table.c.id == execution_id,
                        _table.c.status == read[execution_id].value,
                    )
                    .values(**values)
                ).rowcount
                if changed:
                    self._append_log(connection, execution_id, target, now)
                    parent_id = parents[execution_id]
                    if parent_id is not None and target in NOTIFY_PARENT:
                        connection.execute(
                            schema.workflow_events.insert(),
                            {
                                "workflow_id": parent_id,
                                "payload": canonical_json(
                                    {"child": execution_id, "status": target.value}
                                ),
                                "created_at": now,
                            },
                        )
                    moves.append((execution_id, target))
        return moves

    # -- retention ----------------------------------------------------------------------------

    def _completed_before(self, before: str) -> sa.ColumnElement[bool]:
        return sa.and_(
            _table.c.status.in_([s.value for s in COMPLETED]),
            sa.func.coalesce(_table.c.end_timestamp, _table.c.created_at) < before,
        )

    def count_completed(self, *, before: str) -> int:
        """Completed executions that ended before ``before``."""
        select = (
            sa.select(sa.func.count()).select_from(_table).where(self._completed_before(before))
        )
        with transaction(self._engine) as connection:
            return int(connection.execute(select).scalar_one())

    def delete_completed(self, *, before: str, batch: int = 500) -> int:
        """Delete up to ``batch`` completed executions that ended before ``before``, with their
        log rows and stored output, in one short transaction. Returns how many were deleted."""
        select = (
            sa.select(_table.c.id)
            .where(self._completed_before(before))
            .order_by(_table.c.created_at)
            .limit(batch)
        )
        with transaction(self._engine, write=True) as connection:
            ids = [row.id for row in connection.execute(select)]
            if ids:
                connection.execute(_log.delete().where(_log.c.execution_id.in_(ids)))
                connection.execute(_output.delete().where(_output.c.execution_id.in_(ids)))
                # A purged workflow execution takes its stored state and inbox with it.
                for table, column in (
                    (schema.workflow_parts, schema.workflow_parts.c.workflow_id),
                    (schema.workflow_events, schema.workflow_events.c.workflow_id),
                    (schema.workflow_definitions, schema.workflow_definitions.c.workflow_id),
                    (schema.workflows, schema.workflows.c.execution_id),
                ):
                    connection.execute(table.delete().where(column.in_(ids)))
                connection.execute(_table.delete().where(_table.c.id.in_(ids)))
        return len(ids)

    # -- reads --------------------------------------------------------------------------------

    def get(self, execution_id: str) -> Execution | None:
        arguments = {"target_id": execution_id}
        with driver_transaction(self._engine) as driver:
            row = driver.first(_SELECT_ONE, arguments)
            if row is None:
                return None
            log = driver.all(_SELECT_LOG, arguments)
        return row_to_execution(row, log)

    def get_many(self, ids: Iterable[str]) -> dict[str, Execution]:
        """Executions by id, read in one transaction (without their log); missing ones are
        left out."""
        found: dict[str, Execution] = {}
        with driver_transaction(self._engine) as driver:
            for execution_id in dict.fromkeys(ids):
                row = driver.first(_SELECT_ONE, {"target_id": execution_id})
                if row is not None:
                    found[execution_id] = row_to_execution(row)
        return found

    def find(self, query: ExecutionFilter) -> list[Execution]:
        """A page of the executions ``query`` matches, newest first unless ``oldest_first``."""
        select = sa.select(_table).where(*filter_conditions(query))
        if query.oldest_first:
            select = select.order_by(_table.c.created_at, _table.c.id)
        else:
            select = select.order_by(_table.c.created_at.desc(), _table.c.id.desc())
        select = select.limit(query.limit).offset(query.offset)
        with transaction(self._engine) as connection:
            return [row_to_execution(row) for row in connection.execute(select)]

    def child_ids(self, parent_ids: Sequence[str]) -> dict[str, list[str]]:
        """The ids of the executions each of ``parent_ids`` started, oldest first: one query
        for a page of workflows, not one each."""
        found: dict[str, list[str]] = {parent_id: [] for parent_id in parent_ids}
        if not found:
            return found
        select = (
            sa.select(_table.c.parent_id, _table.c.id)
            .where(_table.c.parent_id.in_(list(found)))
            .order_by(_table.c.parent_id, _table.c.created_at, _table.c.id)
        )
        with transaction(self._engine) as connection:
            for parent_id, child_id in connection.execute(select):
                found[parent_id].append(child_id)
        return found

    def count(self, query: ExecutionFilter) -> int:
        """How many executions ``query`` matches, paging aside (StackStorm's X-Total-Count)."""
        select = sa.select(sa.func.count()).select_from(_table).where(*filter_conditions(query))
        with transaction(self._engine) as connection:
            return int(connection.execute(select).scalar_one())

    def status_counts(self) -> dict[Status, int]:
        """How many executions have each status now (statuses with none are left out): one
        ``GROUP BY`` over the status index, read by the metrics at each scrape."""
        select = sa.select(_table.c.status, sa.func.count()).group_by(_table.c.status)
        with transaction(self._engine) as connection:
            return {Status(status): int(count) for status, count in connection.execute(select)}

    def oldest_created(self, statuses: Iterable[Status]) -> str | None:
        """The creation time of the oldest execution with one of ``statuses`` (None: none)."""
        select = sa.select(sa.func.min(_table.c.created_at)).where(
            _table.c.status.in_([s.value for s in statuses])
        )
        with transaction(self._engine) as connection:
            oldest = connection.execute(select).scalar_one()
        return None if oldest is None else str(oldest)

    def expired_leases(self, *, now: str) -> list[Execution]:
        """Claimed executions whose worker stopped heartbeating (it died)."""
        select = sa.select(_table).where(
            _table.c.claimed_by.is_not(None), _table.c.lease_expires_at <= now
        )
        with transaction(self._engine) as connection:
            return [row_to_execution(row) for row in connection.execute(select)]

    def by_status(self, statuses: Iterable[Status], *, limit: int = 1000) -> list[Execution]:
        select = (
            sa.select(_table)
            .where(_table.c.status.in_([s.value for s in statuses]))
            .order_by(_table.c.created_at)
            .limit(limit)
        )
        with transaction(self._engine) as connection:
            return [row_to_execution(row) for row in connection.execute(select)]

    def recovery_candidates(
        self, *, now: str, host: str, unheld_runners: Iterable[str], limit: int = 100_000
    ) -> list[Execution]:
        """What lease recovery looks at, chosen by the database rather than every claimed
        execution of the site: those whose lease has expired, those claimed on ``host`` (whose
        worker may be a dead process of this machine), and those running or canceling that
        nobody holds, but for the runners in ``unheld_runners`` (workflows: held by nobody)."""
        statuses = [Status.SCHEDULED, Status.RUNNING, Status.CANCELING, Status.PENDING]
        claimed = _table.c.claimed_by.is_not(None) & (
            (_table.c.lease_expires_at <= now)
            | _table.c.claimed_by.startswith(f"{host}:", autoescape=True)
        )
        unclaimed = (
            _table.c.claimed_by.is_(None)
            & _table.c.status.in_([Status.RUNNING.value, Status.CANCELING.value])
            & _table.c.runner_type.not_in(list(unheld_runners))
        )
        select = (
            sa.select(_table)
            .where(_table.c.status.in_([s.value for s in statuses]), claimed | unclaimed)
            .order_by(_table.c.created_at)
            .limit(limit)
        )
        with transaction(self._engine) as connection:
            return [row_to_execution(row) for row in connection.execute(select)]

    # -- output ------------------------------------------------------------------------------

    def append_output(self, execution_id: str, chunks: Sequence[tuple[str, str, str]]) -> None:
        """Store output chunks ``(stream, text, timestamp)`` in order (``execution tail``)."""
        if not chunks:
            return
        rows = [
            {"execution_id": execution_id, "stream": stream, "data": text, "timestamp": at}
            for stream, text, at in chunks
        ]
        with transaction(self._engine, write=True) as connection:
            connection.execute(_output.insert(), rows)

    def output_since(self, execution_id: str, after: int = 0) -> list[tuple[int, str, str]]:
        """Output chunks ``(id, stream, text)`` stored after chunk ``after``."""
        query = (
            sa.select(_output.c.id, _output.c.stream, _output.c.data)
            .where(_output.c.execution_id == execution_id, _output.c.id > after)
            .order_by(_output.c.id)
        )
        with transaction(self._engine) as connection:
            return [
                (int(i), str(stream), str(data)) for i, stream, data in connection.execute(query)
            ]
