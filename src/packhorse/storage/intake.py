"""The intake row, each process's acknowledgement, and the handover queries (cutover).

Handing over is idempotent on ids: the receiver inserts trigger instances and executions under
their original ids unless it has them already, and the sender marks what it gave afterwards,
so a handover repeated after a crash between the two gives nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from packhorse.model.events import TriggerInstance, TriggerInstanceStatus
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.model.intake import (
    INITIAL,
    Acknowledgement,
    IntakeState,
    IntakeStatus,
    handed_over_result,
    is_handed_over,
)
from packhorse.storage import schema
from packhorse.storage.database import transaction
from packhorse.storage.driver import Prepared, driver_transaction
from packhorse.storage.events import (
    _INSTANCE_INSERT,
    INSTANCE_COLUMNS,
    _instance_row,
    instance_from_row,
)
from packhorse.storage.execution_rows import row_to_execution
from packhorse.storage.moves import _insert, _log_status, transition_in

_intake = schema.intake
_acks = schema.intake_acks
_instances = schema.trigger_instances
_executions = schema.executions
_ROW_ID = 1

_INSTANCE_EXISTS = Prepared(
    sa.select(_instances.c.id).where(_instances.c.id == sa.bindparam("target_id"))
)
_HAND_OVER_INSTANCE = Prepared(
    _instances.update()
    .where(
        _instances.c.id == sa.bindparam("target_id"),
        _instances.c.status == TriggerInstanceStatus.HELD.value,
    )
    .values(status=TriggerInstanceStatus.HANDED_OVER.value)
)

_RELEASE = Prepared(
    _instances.update()
    .where(_instances.c.status == TriggerInstanceStatus.HELD.value)
    .values(status=TriggerInstanceStatus.PENDING.value)
)
_STATUS_RESULT = Prepared(
    sa.select(_executions.c.status, _executions.c.result).where(
        _executions.c.id == sa.bindparam("target_id")
    )
)
_REQUEUE = Prepared(
    _executions.update()
    .where(_executions.c.id == sa.bindparam("target_id"))
    .values(
        status=sa.bindparam("queued"),
        result=None,
        end_timestamp=None,
        claimed_by=None,
        lease_expires_at=None,
    )
)


def _returning(row: tuple[Any, ...]) -> bool:
    status, result = row
    return status == Status.CANCELED.value and is_handed_over(
        None if result is None else json.loads(result)
    )


QUEUED: frozenset[Status] = frozenset({Status.REQUESTED, Status.DELAYED, Status.SCHEDULED})
"""Statuses of an execution that has not started."""
PARKED: frozenset[Status] = frozenset({Status.PAUSED, Status.PENDING})
"""In flight but waiting for a person (a paused workflow, an inquiry): not waited for."""


@dataclass(frozen=True, slots=True)
class InFlight:
    """What still runs on an instance: executions started (or claimed) and not finished."""

    running: tuple[str, ...]
    """Ids of executions a drain waits for."""
    parked: tuple[str, ...]
    """Paused or pending: they stay on the old instance, which is kept up."""
    pending_instances: int = 0
    """Trigger instances not processed by the rules yet."""


def _queued_top_level(now: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        _executions.c.parent_id.is_(None),
        _executions.c.status.in_([s.value for s in QUEUED]),
        sa.or_(_executions.c.claimed_by.is_(None), _executions.c.lease_expires_at <= now),
    )


class SqlIntakeStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- the intake row -----------------------------------------------------------------------

    def read(self) -> IntakeState:
        with transaction(self._engine) as connection:
            row = connection.execute(
                sa.select(
                    _intake.c.state,
                    _intake.c.generation,
                    _intake.c.successor,
                    _intake.c.reason,
                    _intake.c.changed_at,
                ).where(_intake.c.id == _ROW_ID)
            ).first()
        if row is None:
            return INITIAL
        state, generation, successor, reason, changed_at = row
        return IntakeState(IntakeStatus(state), generation, successor, reason, changed_at)

    def change(
        self, status: IntakeStatus, *, successor: str | None, reason: str | None, now: str
    ) -> IntakeState:
        """Set the intake, bumping its generation (even to the same status: a new drain is
        acknowledged anew)."""
        with transaction(self._engine, write=True) as connection:
            row = connection.execute(
                sa.select(_intake.c.generation).where(_intake.c.id == _ROW_ID)
            ).first()
            generation = (row[0] if row is not None else INITIAL.generation) + 1
            values = {
                "state": status.value,
                "generation": generation,
                "successor": successor,
                "reason": reason,
                "changed_at": now,
            }
            if row is None:
                connection.execute(_intake.insert().values(id=_ROW_ID, **values))
            else:
                connection.execute(_intake.update().where(_intake.c.id == _ROW_ID).values(values))
        return IntakeState(status, generation, successor, reason, now)

    def acknowledge(self, node: str, generation: int, *, now: str) -> None:
        with transaction(self._engine, write=True) as connection:
            updated = connection.execute(
                _acks.update()
                .where(_acks.c.node == node)
                .values(generation=generation, seen_at=now)
            )
            if not updated.rowcount:
                connection.execute(
                    _acks.insert().values(node=node, generation=generation, seen_at=now)
                )

    def forget(self, node: str) -> None:
        """A process that stops cleanly is no longer waited for."""
        with transaction(self._engine, write=True) as connection:
            connection.execute(_acks.delete().where(_acks.c.node == node))

    def acknowledgements(self) -> list[Acknowledgement]:
        with transaction(self._engine) as connection:
            rows = connection.execute(
                sa.select(_acks.c.node, _acks.c.generation, _acks.c.seen_at).order_by(_acks.c.node)
            ).all()
        return [Acknowledgement(node, generation, seen_at) for node, generation, seen_at in rows]

    # -- what a handover moves ----------------------------------------------------------------

    def held(self, *, limit: int = 1000) -> list[TriggerInstance]:
        select = (
            sa.select(*INSTANCE_COLUMNS)
            .where(_instances.c.status == TriggerInstanceStatus.HELD.value)
            .order_by(_instances.c.created_at, _instances.c.id)
            .limit(limit)
        )
        with transaction(self._engine) as connection:
            return [instance_from_row(row) for row in connection.execute(select)]

    def queued(self, *, now: str, limit: int = 1000) -> list[Execution]:
        """Top-level executions that have not started (a workflow's tasks stay with it)."""
        select = (
            sa.select(_executions)
            .where(_queued_top_level(now))
            .order_by(_executions.c.created_at, _executions.c.id)
            .limit(limit)
        )
        with transaction(self._engine) as connection:
            return [row_to_execution(row) for row in connection.execute(select)]

    def in_flight(self, *, now: str) -> InFlight:
        select = (
            sa.select(_executions.c.id, _executions.c.status)
            .where(
                _executions.c.status.not_in([s.value for s in COMPLETED]),
                sa.not_(_queued_top_level(now)),
            )
            .order_by(_executions.c.created_at, _executions.c.id)
        )
        with transaction(self._engine) as connection:
            rows = connection.execute(select).all()
            pending = connection.execute(
                sa.select(sa.func.count())
                .select_from(_instances)
                .where(_instances.c.status == TriggerInstanceStatus.PENDING.value)
            ).scalar_one()
        running = tuple(id_ for id_, status in rows if Status(status) not in PARKED)
        parked = tuple(id_ for id_, status in rows if Status(status) in PARKED)
        return InFlight(running, parked, int(pending))

    def receive(
        self,
        instances: Sequence[TriggerInstance],
        executions: Sequence[Execution],
        *,
        then: Callable[[Execution], Status | None],
    ) -> tuple[list[str], list[str]]:
        """Store what a predecessor hands over, under the same ids; what is here already is
        skipped. Trigger instances arrive ``pending`` (the rules process them), executions
        ``requested`` and moved on to ``then(execution)``. Returns the ids stored."""
        new_instances: list[str] = []
        new_executions: list[str] = []
        with driver_transaction(self._engine, write=True) as driver:
            for instance in instances:
                if driver.first(_INSTANCE_EXISTS, {"target_id": instance.id}) is not None:
                    continue
                row = _instance_row(replace(instance, status=TriggerInstanceStatus.PENDING))
                driver.execute(_INSTANCE_INSERT, row)
                new_instances.append(instance.id)
            for execution in executions:
                known = driver.first(_STATUS_RESULT, {"target_id": execution.id})
                if known is not None:
                    if _returning(known):
                        # Handed over from here before and handed back now (a rollback):
                        # queued again under its id, as it was before it left.
                        then_status = then(execution)
                        driver.execute(
                            _REQUEUE,
                            {"target_id": execution.id, "queued": Status.REQUESTED.value},
                        )
                        _log_status(driver, execution.id, Status.REQUESTED, execution.created_at)
                        if then_status is not None:
                            driver.execute(
                                _REQUEUE,
                                {"target_id": execution.id, "queued": then_status.value},
                            )
                            _log_status(driver, execution.id, then_status, execution.created_at)
                        new_executions.append(execution.id)
                    continue
                fresh = replace(
                    execution,
                    status=Status.REQUESTED,
                    result=None,
                    claimed_by=None,
                    lease_expires_at=None,
                    pids=(),
                    start_timestamp=None,
                    end_timestamp=None,
                )
                _insert(driver, fresh, then(fresh))
                new_executions.append(execution.id)
        return new_instances, new_executions

    def release(self) -> int:
        """Held trigger instances become pending: the rules of this instance process them (a
        rollback reopens the old instance, and what it held since is its own again)."""
        with driver_transaction(self._engine, write=True) as driver:
            return driver.execute(_RELEASE)

    def hand_over(
        self,
        instance_ids: Iterable[str],
        execution_ids: Iterable[str],
        *,
        successor: str,
        now: str,
    ) -> tuple[int, int]:
        """Mark what the successor has stored: held instances ``handed_over``, queued
        executions ``canceled`` with a result naming the successor. Idempotent."""
        instance_ids = list(instance_ids)
        marked_instances = 0
        marked_executions = 0
        with driver_transaction(self._engine, write=True) as driver:
            for instance_id in instance_ids:
                marked_instances += driver.execute(_HAND_OVER_INSTANCE, {"target_id": instance_id})
            for execution_id in execution_ids:
                if transition_in(
                    driver,
                    execution_id,
                    Status.CANCELED,
                    now=now,
                    expected=QUEUED,
                    values={"result": handed_over_result(successor)},
                ):
                    marked_executions += 1
        return marked_instances, marked_executions
