"""Events on SQLAlchemy Core: trigger instances, rule enforcements, timer fires, sensor status.

A trigger instance is stored ``pending`` before anything acts on it. Enforcing a rule writes
the enforcement row in the same transaction as the execution it requests (see
:meth:`SqlEventStore.enforcement_writer`); the row is unique per (trigger instance, rule), so
processing an instance again after a crash enforces nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from packhorse.errors import Conflict
from packhorse.model.content import canonical_json
from packhorse.model.events import (
    Enforcement,
    SensorStatus,
    TriggerInstance,
    TriggerInstanceStatus,
)
from packhorse.storage import schema, watermark
from packhorse.storage.database import transaction
from packhorse.storage.driver import DriverTransaction, Prepared, driver_transaction
from packhorse.storage.rows import SENSOR_STATUS_COLUMNS, sensor_status_from_row

_instances = schema.trigger_instances
_enforcements = schema.rule_enforcements
_timers = schema.timer_fires
_sensors = schema.sensor_status
_cursors = schema.event_cursors
_log = schema.execution_log

INSTANCE_COLUMNS = tuple(
    _instances.c[name]
    for name in (
        "id",
        "trigger",
        "trigger_type",
        "payload",
        "occurrence_time",
        "status",
        "source",
        "trace_tag",
        "created_at",
    )
)
"""What a trigger instance is (its claim, ``claimed_by`` and ``lease_expires_at``, is not)."""

_INSTANCE_INSERT = Prepared(
    _instances.insert()
    .inline()
    .values(
        id=sa.bindparam("id"),
        trigger=sa.bindparam("trigger"),
        trigger_type=sa.bindparam("trigger_type"),
        payload=sa.bindparam("payload"),
        occurrence_time=sa.bindparam("occurrence_time"),
        status=sa.bindparam("status"),
        source=sa.bindparam("source"),
        trace_tag=sa.bindparam("trace_tag"),
        created_at=sa.bindparam("created_at"),
    )
)
_ENFORCEMENT_INSERT = Prepared(
    _enforcements.insert()
    .inline()
    .values(
        id=sa.bindparam("id"),
        rule=sa.bindparam("rule"),
        trigger_instance_id=sa.bindparam("trigger_instance_id"),
        execution_id=sa.bindparam("execution_id"),
        failure_reason=sa.bindparam("failure_reason"),
        enforced_at=sa.bindparam("enforced_at"),
    )
)
_CLAIMABLE_INSTANCE = sa.and_(
    _instances.c.status == TriggerInstanceStatus.PENDING.value,
    sa.or_(_instances.c.claimed_by.is_(None), _instances.c.lease_expires_at <= sa.bindparam("now")),
)
_PENDING_SELECT = (
    sa.select(*INSTANCE_COLUMNS)
    .where(_CLAIMABLE_INSTANCE)
    .order_by(_instances.c.created_at, _instances.c.id)
    .limit(sa.bindparam("limit"))
)
_PENDING = Prepared(_PENDING_SELECT)
_PENDING_SKIP_LOCKED = Prepared(_PENDING_SELECT.with_for_update(skip_locked=True))
_CLAIM_INSTANCE = Prepared(
    _instances.update()
    .where(_instances.c.id == sa.bindparam("target_id"), _CLAIMABLE_INSTANCE)
    .values(claimed_by=sa.bindparam("worker"), lease_expires_at=sa.bindparam("until"))
)
_STATUS_UPDATE = Prepared(
    _instances.update()
    .where(_instances.c.id == sa.bindparam("target_id"))
    .values(status=sa.bindparam("status"))
)
_resources = schema.resources
_RULE_VERSIONS = Prepared(
    sa.select(
        _resources.c.ref,
        _resources.c.digest,
        sa.case((_resources.c.enabled, 1), else_=0).label("on"),
    )
    .where(_resources.c.kind == "rule")
    .order_by(_resources.c.ref)
)
_TRIGGER_TYPE_VERSIONS = Prepared(
    sa.select(_resources.c.ref, _resources.c.digest)
    .where(_resources.c.kind == "trigger_type")
    .order_by(_resources.c.ref)
)
_ENFORCED = Prepared(
    sa.select(_enforcements.c.rule).where(
        _enforcements.c.trigger_instance_id == sa.bindparam("target_id")
    )
)
_TIMER = Prepared(sa.select(_timers.c.last_due).where(_timers.c.trigger == sa.bindparam("trigger")))
_TIMER_INSERT = Prepared(
    _timers.insert()
    .inline()
    .values(
        trigger=sa.bindparam("trigger"),
        last_due=sa.bindparam("due"),
        updated_at=sa.bindparam("now"),
    )
)
_TIMER_ADVANCE = Prepared(
    _timers.update()
    .where(_timers.c.trigger == sa.bindparam("trigger"), _timers.c.last_due < sa.bindparam("due"))
    .values(last_due=sa.bindparam("due"), updated_at=sa.bindparam("now"))
)


def instance_from_row(row: Sequence[Any]) -> TriggerInstance:
    """A trigger instance from a row of ``sa.select(trigger_instances)``."""
    id_, trigger, trigger_type, payload, occurred, status, source, trace_tag, created_at = row
    return TriggerInstance(
        id=id_,
        trigger=trigger,
        trigger_type=trigger_type,
        payload=json.loads(payload),
        occurrence_time=occurred,
        status=TriggerInstanceStatus(status),
        source=source,
        trace_tag=trace_tag,
        created_at=created_at,
    )


def _enforcement(row: Sequence[Any]) -> Enforcement:
    id_, rule, instance_id, execution_id, failure_reason, enforced_at = row
    return Enforcement(
        id=id_,
        rule=rule,
        trigger_instance_id=instance_id,
        execution_id=execution_id,
        failure_reason=failure_reason,
        enforced_at=enforced_at,
    )


def _instance_row(instance: TriggerInstance) -> dict[str, Any]:
    return {
        "id": instance.id,
        "trigger": instance.trigger,
        "trigger_type": instance.trigger_type,
        "payload": canonical_json(instance.payload),
        "occurrence_time": instance.occurrence_time,
        "status": instance.status.value,
        "source": instance.source,
        "trace_tag": instance.trace_tag,
        "created_at": instance.created_at or instance.occurrence_time,
    }


@dataclass(frozen=True)
class InstanceFilter:
    trigger: str | None = None
    trigger_type: str | None = None
    statuses: tuple[TriggerInstanceStatus, ...] = ()
    since: str | None = None
    until: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class EnforcementFilter:
    rule: str | None = None
    trigger_instance_id: str | None = None
    execution_id: str | None = None
    limit: int = 50
    offset: int = 0


class SqlEventStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- trigger instances --------------------------------------------------------------------

    def record(self, instance: TriggerInstance) -> None:
        """Store a new trigger instance (durable when this returns)."""
        with driver_transaction(self._engine, write=True) as driver:
            driver.execute(_INSTANCE_INSERT, _instance_row(instance))

    def get(self, instance_id: str) -> TriggerInstance | None:
        select = sa.select(*INSTANCE_COLUMNS).where(_instances.c.id == instance_id)
        with transaction(self._engine) as connection:
            row = connection.execute(select).first()
        return None if row is None else instance_from_row(row)

    @staticmethod
    def _instance_conditions(query: InstanceFilter) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        if query.trigger:
            conditions.append(_instances.c.trigger == query.trigger)
        if query.trigger_type:
            conditions.append(_instances.c.trigger_type == query.trigger_type)
        if query.statuses:
            conditions.append(_instances.c.status.in_([s.value for s in query.statuses]))
        if query.since:
            conditions.append(_instances.c.created_at >= query.since)
        if query.until:
            conditions.append(_instances.c.created_at < query.until)
        return conditions

    def count(self, query: InstanceFilter) -> int:
        """How many instances ``query`` matches, ignoring its limit and offset."""
        select = sa.select(sa.func.count()).select_from(_instances)
        select = select.where(*self._instance_conditions(query))
        with transaction(self._engine) as connection:
            return int(connection.execute(select).scalar_one())

    def find(self, query: InstanceFilter) -> list[TriggerInstance]:
        """Newest first."""
        select = sa.select(*INSTANCE_COLUMNS).where(*self._instance_conditions(query))
        select = (
            select.order_by(_instances.c.created_at.desc(), _instances.c.id.desc())
            .limit(query.limit)
            .offset(query.offset)
        )
        with transaction(self._engine) as connection:
            return [instance_from_row(row) for row in connection.execute(select)]

    def pending(self, *, limit: int = 100) -> list[TriggerInstance]:
        """Instances the rules have not finished with, oldest first."""
        select = (
            sa.select(*INSTANCE_COLUMNS)
            .where(_instances.c.status == TriggerInstanceStatus.PENDING.value)
            .order_by(_instances.c.created_at, _instances.c.id)
            .limit(limit)
        )
        with transaction(self._engine) as connection:
            return [instance_from_row(row) for row in connection.execute(select)]

    def claim_pending(
        self, worker: str, *, now: str, lease_until: str, limit: int = 100
    ) -> list[TriggerInstance]:
        """Take up to ``limit`` pending instances, oldest first, that no other rules engine
        holds (or whose holder's lease ran out: it died), leased to ``worker`` until
        ``lease_until``. On PostgreSQL the rows are read ``FOR UPDATE SKIP LOCKED``, so engines
        claiming at once take different instances; on SQLite the claim is one ``BEGIN
        IMMEDIATE`` transaction. Marking an instance processed ends its claim."""
        postgres = self._engine.dialect.name == "postgresql"
        select = _PENDING_SKIP_LOCKED if postgres else _PENDING
        claimed = []
        with driver_transaction(self._engine, write=True) as driver:
            for row in driver.all(select, {"now": now, "limit": limit}):
                arguments = {
                    "target_id": row[0],
                    "now": now,
                    "worker": worker,
                    "until": lease_until,
                }
                if driver.execute(_CLAIM_INSTANCE, arguments):
                    claimed.append(instance_from_row(row))
        return claimed

    def claim_holders(self) -> list[str]:
        """Who holds claims on pending instances now (rules engines, alive or not)."""
        select = (
            sa.select(_instances.c.claimed_by)
            .where(
                _instances.c.status == TriggerInstanceStatus.PENDING.value,
                _instances.c.claimed_by.is_not(None),
            )
            .distinct()
        )
        with transaction(self._engine) as connection:
            return sorted(str(row[0]) for row in connection.execute(select))

    def release_claims(self, holder: str) -> int:
        """Give back the pending instances ``holder`` claimed (it is known to be dead)."""
        update = (
            _instances.update()
            .where(
                _instances.c.claimed_by == holder,
                _instances.c.status == TriggerInstanceStatus.PENDING.value,
            )
            .values(claimed_by=None, lease_expires_at=None)
        )
        with transaction(self._engine, write=True) as connection:
            return int(connection.execute(update).rowcount)

    def set_status(self, instance_id: str, status: TriggerInstanceStatus) -> None:
        with driver_transaction(self._engine, write=True) as driver:
            self.status_writer(instance_id, status)(driver)

    @staticmethod
    def status_writer(
        instance_id: str, status: TriggerInstanceStatus
    ) -> Callable[[DriverTransaction], None]:
        """A step that sets an instance's status inside another transaction."""

        def write(driver: DriverTransaction) -> None:
            driver.execute(_STATUS_UPDATE, {"target_id": instance_id, "status": status.value})

        return write

    def delete_before(self, before: str, *, batch: int = 500) -> int:
        """Delete up to ``batch`` processed instances created before ``before`` and their
        enforcements (retention); pending ones are kept whatever their age."""
        ids = (
            sa.select(_instances.c.id)
            .where(
                _instances.c.created_at < before,
                _instances.c.status != TriggerInstanceStatus.PENDING.value,
            )
            .limit(batch)
        )
        with transaction(self._engine, write=True) as connection:
            doomed = [row[0] for row in connection.execute(ids)]
            if not doomed:
                return 0
            connection.execute(
                _enforcements.delete().where(_enforcements.c.trigger_instance_id.in_(doomed))
            )
            connection.execute(_instances.delete().where(_instances.c.id.in_(doomed)))
        return len(doomed)

    def rule_versions(self) -> tuple[tuple[str, str, bool], ...]:
        """``(ref, digest, enabled)`` of every registered rule: a cheap way to see whether
        the rules changed (no bodies read)."""
        with driver_transaction(self._engine) as driver:
            return tuple((r[0], r[1], bool(r[2])) for r in driver.all(_RULE_VERSIONS))

    def trigger_type_versions(self) -> tuple[tuple[str, str], ...]:
        """``(ref, digest)`` of every registered trigger type (no bodies read)."""
        with driver_transaction(self._engine) as driver:
            return tuple((r[0], r[1]) for r in driver.all(_TRIGGER_TYPE_VERSIONS))

    # -- enforcements -------------------------------------------------------------------------

    def enforcement_writer(self, enforcement: Enforcement) -> Callable[[DriverTransaction], None]:
        """A step that writes ``enforcement`` inside another store's transaction (the one that
        creates its execution). It raises :class:`Conflict` when the rule was already enforced
        for that instance, which rolls the whole transaction back."""

        def write(driver: DriverTransaction) -> None:
            driver.execute(_ENFORCEMENT_INSERT, _enforcement_row(enforcement))

        return write

    def record_enforcement(
        self, enforcement: Enforcement, *, along: Callable[[DriverTransaction], None] | None = None
    ) -> bool:
        """Store an enforcement on its own (one that failed before any execution), with what
        ``along`` writes; False (nothing written) when the rule was already enforced for that
        instance."""
        try:
            with driver_transaction(self._engine, write=True) as driver:
                driver.execute(_ENFORCEMENT_INSERT, _enforcement_row(enforcement))
                if along is not None:
                    along(driver)
        except Conflict:
            return False
        return True

    def enforced_rules(self, instance_id: str) -> set[str]:
        with driver_transaction(self._engine) as driver:
            return {row[0] for row in driver.all(_ENFORCED, {"target_id": instance_id})}

    @staticmethod
    def _enforcement_conditions(query: EnforcementFilter) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        if query.rule:
            conditions.append(_enforcements.c.rule == query.rule)
        if query.trigger_instance_id:
            conditions.append(_enforcements.c.trigger_instance_id == query.trigger_instance_id)
        if query.execution_id:
            conditions.append(_enforcements.c.execution_id == query.execution_id)
        return conditions

    def count_enforcements(self, query: EnforcementFilter) -> int:
        """How many enforcements ``query`` matches, ignoring its limit and offset."""
        select = sa.select(sa.func.count()).select_from(_enforcements)
        select = select.where(*self._enforcement_conditions(query))
        with transaction(self._engine) as connection:
            return int(connection.execute(select).scalar_one())

    def enforcements(self, query: EnforcementFilter) -> list[Enforcement]:
        """Newest first."""
        select = sa.select(_enforcements).where(*self._enforcement_conditions(query))
        select = (
            select.order_by(_enforcements.c.enforced_at.desc(), _enforcements.c.id.desc())
            .limit(query.limit)
            .offset(query.offset)
        )
        with transaction(self._engine) as connection:
            return [_enforcement(row) for row in connection.execute(select)]

    def get_enforcement(self, enforcement_id: str) -> Enforcement | None:
        select = sa.select(_enforcements).where(_enforcements.c.id == enforcement_id)
        with transaction(self._engine) as connection:
            row = connection.execute(select).first()
        return None if row is None else _enforcement(row)

    # -- timers -------------------------------------------------------------------------------

    def last_fire(self, trigger: str) -> str | None:
        """The last due time ``trigger`` fired for, if it ever did."""
        with driver_transaction(self._engine) as driver:
            row = driver.first(_TIMER, {"trigger": trigger})
        return None if row is None else str(row[0])

    def fire(self, trigger: str, due: str, instance: TriggerInstance, *, now: str) -> bool:
        """Record that ``trigger`` fired for ``due`` and store its instance, in one
        transaction, unless it already fired for ``due`` or later (another process, or this
        one before a crash): then nothing is written and False is returned."""
        arguments = {"trigger": trigger, "due": due, "now": now}
        try:
            with driver_transaction(self._engine, write=True) as driver:
                if driver.first(_TIMER, {"trigger": trigger}) is None:
                    driver.execute(_TIMER_INSERT, arguments)
                elif driver.execute(_TIMER_ADVANCE, arguments) == 0:
                    return False
                driver.execute(_INSTANCE_INSERT, _instance_row(instance))
        except Conflict:  # another process inserted the first fire at the same moment
            return False
        return True

    # -- log readers --------------------------------------------------------------------------

    def cursor(self, name: str) -> int | None:
        select = sa.select(_cursors.c.position).where(_cursors.c.name == name)
        with transaction(self._engine) as connection:
            return connection.execute(select).scalar_one_or_none()

    def completions_since(
        self, after: int, statuses: Sequence[str], *, limit: int = 500
    ) -> tuple[list[tuple[int, str, str]], int]:
        """Execution log rows after ``after`` that moved an execution to one of ``statuses``
        (``(log id, execution id, status)``, oldest first, at most ``limit``), and the
        position to advance to: the last row read, or the end of the log when fewer matched.
        On PostgreSQL positions are transaction ids, not log ids (see ``watermark.py``)."""
        with transaction(self._engine) as connection:
            if watermark.follows_transactions(connection):
                found_rows, position = watermark.rows_between(
                    connection,
                    _log,
                    (_log.c.id, _log.c.execution_id, _log.c.status),
                    after=after,
                    until=watermark.horizon(connection),
                    limit=limit,
                    where=(_log.c.status.in_(list(statuses)),),
                )
                found = [(int(r[0]), str(r[1]), str(r[2])) for r in found_rows]
                return found, max(after, position)
            # The end first: rows committed after it are left for the next read.
            end = int(connection.execute(sa.select(sa.func.max(_log.c.id))).scalar() or 0)
            rows = (
                sa.select(_log.c.id, _log.c.execution_id, _log.c.status)
                .where(_log.c.id > after, _log.c.id <= end, _log.c.status.in_(list(statuses)))
                .order_by(_log.c.id)
                .limit(limit)
            )
            found = [(int(r[0]), str(r[1]), str(r[2])) for r in connection.execute(rows)]
        if len(found) == limit:
            return found, found[-1][0]
        return found, max(after, end)

    def advance(
        self, name: str, old: int | None, new: int, instances: Sequence[TriggerInstance]
    ) -> bool:
        """Move cursor ``name`` from ``old`` to ``new`` and store ``instances``, in one
        transaction; False (nothing written) when another reader moved it first."""
        try:
            with transaction(self._engine, write=True) as connection:
                if old is None:
                    connection.execute(_cursors.insert().values(name=name, position=new))
                else:
                    moved = connection.execute(
                        _cursors.update()
                        .where(_cursors.c.name == name, _cursors.c.position == old)
                        .values(position=new)
                    ).rowcount
                    if not moved:
                        return False
                for instance in instances:
                    connection.execute(_instances.insert().values(**_instance_row(instance)))
        except Conflict:
            return False
        return True

    # -- sensors ------------------------------------------------------------------------------

    def put_sensor_status(self, status: SensorStatus) -> None:
        values = status.fields()
        with transaction(self._engine, write=True) as connection:
            changed = connection.execute(
                _sensors.update().where(_sensors.c.ref == status.ref).values(**values)
            ).rowcount
            if not changed:
                connection.execute(_sensors.insert().values(ref=status.ref, **values))

    def sensor_statuses(self) -> list[SensorStatus]:
        """By ref."""
        columns = [_sensors.c[name] for name in SENSOR_STATUS_COLUMNS]
        select = sa.select(*columns).order_by(_sensors.c.ref)
        with transaction(self._engine) as connection:
            return [sensor_status_from_row(row) for row in connection.execute(select)]


def _enforcement_row(enforcement: Enforcement) -> dict[str, Any]:
    return {
        "id": enforcement.id,
        "rule": enforcement.rule,
        "trigger_instance_id": enforcement.trigger_instance_id,
        "execution_id": enforcement.execution_id,
        "failure_reason": enforcement.failure_reason,
        "enforced_at": enforcement.enforced_at,
    }
