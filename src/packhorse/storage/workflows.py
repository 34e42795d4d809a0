"""Workflow executions on SQLAlchemy Core: definition, state parts and the event inbox.

A workflow's state is stored as parts (opaque key -> JSON) so that applying one event
rewrites only what the event changed: the cost of an event does not grow with the workflow.
Everything one step of the workflow shell decides is written by :meth:`commit` in one
transaction (state parts, consumed events, new child executions, the workflow's own status),
guarded by the state's version: a crash before the commit loses nothing (the events are still
in the inbox), a crash after it repeats nothing (they are gone with the state that applied them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from packhorse.model.content import canonical_json
from packhorse.model.execution import Execution, Status
from packhorse.storage import schema
from packhorse.storage.database import transaction
from packhorse.storage.executions import _insert, _row_to_execution, transition_in

_workflows = schema.workflows
_parts = schema.workflow_parts
_events = schema.workflow_events
_executions = schema.executions

_EVENT_INSERT = _events.insert()
_PART_DELETE = _parts.delete().where(
    _parts.c.workflow_id == sa.bindparam("wf"), _parts.c.key == sa.bindparam("part")
)
_VERSION_BUMP = (
    _workflows.update()
    .where(
        _workflows.c.execution_id == sa.bindparam("wf"),
        _workflows.c.version == sa.bindparam("expected"),
    )
    .values(version=sa.bindparam("new_version"), updated_at=sa.bindparam("now"))
)


@dataclass(frozen=True, slots=True)
class StoredWorkflow:
    execution_id: str
    kind: str
    definition: str
    version: int
    parts: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class InboxEvent:
    id: int
    workflow_id: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Move:
    """A status change of one execution, made in the commit's transaction."""

    execution_id: str
    status: Status
    expected: tuple[Status, ...] | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    """Columns written with the move (``result``, ``start_timestamp``...)."""


@dataclass(slots=True)
class Commit:
    """What one step of a workflow writes, all or nothing."""

    workflow_id: str
    version: int
    """The version the step started from (0 for a new workflow); the commit bumps it by one
    and fails if another writer got there first."""
    upserts: Mapping[str, Any] = field(default_factory=dict)
    deletes: Iterable[str] = ()
    consumed: Sequence[int] = ()
    children: Sequence[tuple[Execution, Status | None]] = ()
    """New child executions, each stored and moved on to the status given with it."""
    moves: Sequence[Move] = ()
    """Status changes: the workflow's own, and children told to cancel."""
    events: Sequence[tuple[str, Mapping[str, Any]]] = ()
    """Events for other workflows (a pause or cancel passed down to a subworkflow)."""
    kind: str = ""
    definition: str = ""
    """For a new workflow (``version == 0``): what it runs."""


class VersionConflict(Exception):
    """Another writer changed the workflow since it was read: reload and apply again."""


class SqlWorkflowStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def commit(self, step: Commit, *, now: str) -> None:
        """Write ``step`` in one transaction; raises :class:`VersionConflict` (writing nothing)
        when the stored version is not ``step.version``."""
        with transaction(self._engine, write=True) as connection:
            if step.version == 0:
                connection.execute(
                    _workflows.insert(),
                    {
                        "execution_id": step.workflow_id,
                        "kind": step.kind,
                        "definition": step.definition,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            else:
                bumped = connection.execute(
                    _VERSION_BUMP,
                    {
                        "wf": step.workflow_id,
                        "expected": step.version,
                        "new_version": step.version + 1,
                        "now": now,
                    },
                ).rowcount
                if not bumped:
                    raise VersionConflict(step.workflow_id)
            self._write_parts(connection, step)
            if step.consumed:
                connection.execute(_events.delete().where(_events.c.id.in_(list(step.consumed))))
            for child, then in step.children:
                _insert(connection, child, then)
            for move in step.moves:
                transition_in(
                    connection,
                    move.execution_id,
                    move.status,
                    now=now,
                    expected=move.expected,
                    values=move.values,
                )
            if step.events:
                connection.execute(
                    _EVENT_INSERT,
                    [
                        {"workflow_id": wf, "payload": canonical_json(payload), "created_at": now}
                        for wf, payload in step.events
                    ],
                )

    def _write_parts(self, connection: sa.Connection, step: Commit) -> None:
        deletes = [{"wf": step.workflow_id, "part": key} for key in step.deletes]
        if step.upserts:
            # Delete-then-insert is an upsert both databases run the same way.
            deletes.extend({"wf": step.workflow_id, "part": key} for key in step.upserts)
        if deletes:
            connection.execute(_PART_DELETE, deletes)
        if step.upserts:
            connection.execute(
                _parts.insert(),
                [
                    {"workflow_id": step.workflow_id, "key": key, "value": canonical_json(value)}
                    for key, value in step.upserts.items()
                ],
            )

    def add_event(self, workflow_id: str, payload: Mapping[str, Any], *, now: str) -> None:
        with transaction(self._engine, write=True) as connection:
            connection.execute(
                _EVENT_INSERT,
                {"workflow_id": workflow_id, "payload": canonical_json(payload), "created_at": now},
            )

    def load(self, workflow_id: str) -> StoredWorkflow | None:
        with transaction(self._engine) as connection:
            row = connection.execute(
                sa.select(_workflows).where(_workflows.c.execution_id == workflow_id)
            ).first()
            if row is None:
                return None
            parts = {
                key: json.loads(value)
                for key, value in connection.execute(
                    sa.select(_parts.c.key, _parts.c.value).where(
                        _parts.c.workflow_id == workflow_id
                    )
                )
            }
        return StoredWorkflow(row.execution_id, row.kind, row.definition, row.version, parts)

    def version(self, workflow_id: str) -> int | None:
        with transaction(self._engine) as connection:
            value = connection.execute(
                sa.select(_workflows.c.version).where(_workflows.c.execution_id == workflow_id)
            ).scalar()
        return None if value is None else int(value)

    def inbox(self, *, limit: int = 500) -> list[InboxEvent]:
        """The oldest events not yet applied, in arrival order."""
        select = sa.select(_events).order_by(_events.c.id).limit(limit)
        with transaction(self._engine) as connection:
            return [
                InboxEvent(row.id, row.workflow_id, json.loads(row.payload))
                for row in connection.execute(select)
            ]

    def executions(self, ids: Iterable[str]) -> dict[str, Execution]:
        """Child executions by id (the shell reads each event's child once per batch)."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        with transaction(self._engine) as connection:
            rows = connection.execute(sa.select(_executions).where(_executions.c.id.in_(wanted)))
            return {row.id: _row_to_execution(row) for row in rows}

    def children(self, workflow_id: str) -> list[Execution]:
        select = (
            sa.select(_executions)
            .where(_executions.c.parent_id == workflow_id)
            .order_by(_executions.c.created_at, _executions.c.id)
        )
        with transaction(self._engine) as connection:
            return [_row_to_execution(row) for row in connection.execute(select)]

    def exists(self, workflow_id: str) -> bool:
        return self.version(workflow_id) is not None

    def copy_state(self, source_id: str, target_id: str, *, now: str) -> None:
        """Start ``target_id`` from ``source_id``'s stored state (a rerun of a workflow)."""
        stored = self.load(source_id)
        if stored is None:
            raise KeyError(source_id)
        self.commit(
            Commit(
                target_id,
                0,
                upserts=stored.parts,
                kind=stored.kind,
                definition=stored.definition,
            ),
            now=now,
        )

    def delete(self, workflow_ids: Sequence[str]) -> None:
        """Forget workflows (retention purges them with their executions)."""
        if not workflow_ids:
            return
        ids = list(workflow_ids)
        with transaction(self._engine, write=True) as connection:
            connection.execute(_parts.delete().where(_parts.c.workflow_id.in_(ids)))
            connection.execute(_events.delete().where(_events.c.workflow_id.in_(ids)))
            connection.execute(_workflows.delete().where(_workflows.c.execution_id.in_(ids)))


def complete_with_events(
    engine: sa.Engine,
    execution_id: str,
    target: Status,
    *,
    now: str,
    expected: tuple[Status, ...],
    result: Any,
    events: Sequence[tuple[str, Mapping[str, Any]]] = (),
) -> bool:
    """Move an execution (an answered inquiry) and queue ``events`` for workflows, in one
    transaction; False, writing nothing, when the execution was not in ``expected``."""
    with transaction(engine, write=True) as connection:
        if not transition_in(
            connection, execution_id, target, now=now, expected=expected, values={"result": result}
        ):
            return False
        if events:
            connection.execute(
                _EVENT_INSERT,
                [
                    {"workflow_id": wf, "payload": canonical_json(payload), "created_at": now}
                    for wf, payload in events
                ],
            )
    return True
