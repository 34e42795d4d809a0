"""What the event stream reads: the execution log (every status change is a row) and the
stored output chunks, both after a cursor, with the executions they concern; and the trigger
instances stored since a time.

A position is two numbers. On SQLite they are the tables' increasing ids: a read takes the
end of each table first and reads up to it, so a row committed during the read is left for the
next one (one writer at a time: ids commit in order). On PostgreSQL a row with a lower id can
commit after a higher one was read, so there they are transaction ids: a read takes the rows of
the transactions that ended before the oldest one in progress (see ``watermark.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from packhorse.model.events import TriggerInstance
from packhorse.model.execution import Execution
from packhorse.storage import schema, watermark
from packhorse.storage.database import transaction
from packhorse.storage.events import INSTANCE_COLUMNS, instance_from_row
from packhorse.storage.executions import SqlExecutionStore

_log = schema.execution_log
_output = schema.execution_output
_instances = schema.trigger_instances

INSTANCE_LAG = dt.timedelta(seconds=2)
"""How far before the newest trigger instance read the next read looks again: an instance's
``created_at`` is stamped before its transaction commits, so one stamped earlier can commit
after a later one was read. The reader skips the ids it has already seen."""


@dataclass(frozen=True, slots=True)
class Position:
    """How far a reader has got: the last log row and the last output chunk it read."""

    log: int = 0
    output: int = 0
    instances: str = ""
    """The ``created_at`` of the newest trigger instance read ("" before any)."""


@dataclass(frozen=True, slots=True)
class StatusRow:
    """A row of the execution log: ``execution_id`` moved to ``status`` at ``timestamp``;
    ``first`` when it is the execution's first row (it was created)."""

    id: int
    execution_id: str
    status: str
    timestamp: str
    first: bool


@dataclass(frozen=True, slots=True)
class OutputRow:
    """A stored output chunk (already redacted by the worker)."""

    id: int
    execution_id: str
    stream: str
    data: str
    timestamp: str


@dataclass(frozen=True, slots=True)
class Batch:
    statuses: tuple[StatusRow, ...]
    outputs: tuple[OutputRow, ...]
    executions: dict[str, Execution] = field(default_factory=dict)
    """The executions the rows concern, as they are now (without their log)."""
    logs: dict[str, tuple[tuple[int, str, str], ...]] = field(default_factory=dict)
    """Each execution's log rows ``(id, status, timestamp)`` up to the end of this batch."""
    position: Position = Position()
    full: bool = False
    """A table had more rows than the limit: read again at once."""
    instances: tuple[TriggerInstance, ...] = ()
    """Trigger instances stored since ``INSTANCE_LAG`` before the previous position, oldest
    first (some may have been read before: the reader keeps the ids it has seen)."""


class SqlFeed:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._executions = SqlExecutionStore(engine)

    def end(self) -> Position:
        """The position after the last rows stored now."""
        with transaction(self._engine) as connection:
            return self._end(connection)

    @staticmethod
    def _end(connection: sa.Connection) -> Position:
        if watermark.follows_transactions(connection):
            horizon = watermark.horizon(connection)
            newest = connection.execute(sa.select(sa.func.max(_instances.c.created_at))).scalar()
            return Position(horizon, horizon, str(newest or ""))
        log_end = connection.execute(sa.select(sa.func.max(_log.c.id))).scalar()
        output_end = connection.execute(sa.select(sa.func.max(_output.c.id))).scalar()
        newest = connection.execute(sa.select(sa.func.max(_instances.c.created_at))).scalar()
        return Position(int(log_end or 0), int(output_end or 0), str(newest or ""))

    @staticmethod
    def _instances_since(
        connection: sa.Connection, after: str, limit: int
    ) -> tuple[TriggerInstance, ...]:
        query = sa.select(*INSTANCE_COLUMNS).order_by(_instances.c.created_at, _instances.c.id)
        if after:
            query = query.where(_instances.c.created_at > earlier(after, INSTANCE_LAG))
        return tuple(instance_from_row(row) for row in connection.execute(query.limit(limit)))

    def output_of(self, execution_id: str) -> list[OutputRow]:
        """Every output chunk stored for ``execution_id`` so far, in order."""
        query = (
            sa.select(_output.c.id, _output.c.stream, _output.c.data, _output.c.timestamp)
            .where(_output.c.execution_id == execution_id)
            .order_by(_output.c.id)
        )
        with transaction(self._engine) as connection:
            return [
                OutputRow(int(row_id), execution_id, str(stream), str(data), str(at))
                for row_id, stream, data, at in connection.execute(query)
            ]

    def since(self, after: Position, *, limit: int = 500, details: bool = True) -> Batch:
        """Rows after ``after`` (at most ``limit`` of each table, oldest first). Without
        ``details`` only the new position is read (nobody listens)."""
        with transaction(self._engine) as connection:
            end = self._end(connection)
            if not details:
                return Batch((), (), position=end)
            instances = self._instances_since(connection, after.instances, limit)
            status_columns = (_log.c.id, _log.c.execution_id, _log.c.status, _log.c.timestamp)
            output_columns = (
                _output.c.id,
                _output.c.execution_id,
                _output.c.stream,
                _output.c.data,
                _output.c.timestamp,
            )
            by_transaction = watermark.follows_transactions(connection)
            if by_transaction:
                status_rows, log_to = watermark.rows_between(
                    connection, _log, status_columns, after=after.log, until=end.log, limit=limit
                )
                output_rows, output_to = watermark.rows_between(
                    connection,
                    _output,
                    output_columns,
                    after=after.output,
                    until=end.output,
                    limit=limit,
                )
                log_to, output_to = max(log_to, after.log), max(output_to, after.output)
                full = log_to < end.log or output_to < end.output
                log_bound = _log.c.tx < log_to
            else:
                status_rows = [
                    tuple(row)
                    for row in connection.execute(
                        sa.select(*status_columns)
                        .where(_log.c.id > after.log, _log.c.id <= end.log)
                        .order_by(_log.c.id)
                        .limit(limit)
                    )
                ]
                output_rows = [
                    tuple(row)
                    for row in connection.execute(
                        sa.select(*output_columns)
                        .where(_output.c.id > after.output, _output.c.id <= end.output)
                        .order_by(_output.c.id)
                        .limit(limit)
                    )
                ]
                log_to = int(status_rows[-1][0]) if len(status_rows) == limit else end.log
                output_to = int(output_rows[-1][0]) if len(output_rows) == limit else end.output
                full = len(status_rows) == limit or len(output_rows) == limit
                log_bound = _log.c.id <= log_to
            ids = {str(row[1]) for row in status_rows} | {str(row[1]) for row in output_rows}
            logs: dict[str, list[tuple[int, str, str]]] = {}
            if ids:
                every = connection.execute(
                    sa.select(_log.c.execution_id, _log.c.id, _log.c.status, _log.c.timestamp)
                    .where(_log.c.execution_id.in_(sorted(ids)), log_bound)
                    .order_by(_log.c.id)
                )
                for execution_id, row_id, status, at in every:
                    logs.setdefault(str(execution_id), []).append(
                        (int(row_id), str(status), str(at))
                    )
        firsts = {execution_id: rows[0][0] for execution_id, rows in logs.items()}
        statuses = tuple(
            StatusRow(int(row_id), str(eid), str(status), str(at), firsts.get(str(eid)) == row_id)
            for row_id, eid, status, at in status_rows
        )
        outputs = tuple(
            OutputRow(int(row_id), str(eid), str(stream), str(data), str(at))
            for row_id, eid, stream, data, at in output_rows
        )
        return Batch(
            statuses,
            outputs,
            executions=self._executions.get_many(sorted(ids)) if ids else {},
            logs={k: tuple(v) for k, v in logs.items()},
            position=Position(
                log_to,
                output_to,
                max([after.instances, *(i.created_at for i in instances)]),
            ),
            full=full,
            instances=instances,
        )


def earlier(stamp: str, by: dt.timedelta) -> str:
    """An ISO-8601 UTC time ``by`` earlier, in the same form (they compare as text)."""
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) - by
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
