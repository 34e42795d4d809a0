"""Workflow executions on SQLAlchemy Core: definition, state parts and the event inbox.

A workflow's state is stored as parts (opaque key -> JSON) so that applying one event
rewrites only what the event changed: the cost of an event does not grow with the workflow.
For the same reason its definition is written once, in a table of its own, apart from the
small row whose version every step bumps.
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
from packhorse.storage.driver import DriverTransaction, Prepared, driver_transaction
from packhorse.storage.execution_rows import row_to_execution
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.moves import _EVENT_INSERT, _insert, transition_in

_workflows = schema.workflows
_definitions = schema.workflow_definitions
_parts = schema.workflow_parts
_events = schema.workflow_events
_executions = schema.executions

_PART_DELETE = Prepared(
    _parts.delete().where(
        _parts.c.workflow_id == sa.bindparam("wf"), _parts.c.key == sa.bindparam("part")
    )
)
_PART_INSERT = Prepared(
    _parts.insert()
    .inline()
    .values(workflow_id=sa.bindparam("wf"), key=sa.bindparam("part"), value=sa.bindparam("value"))
)
_PARTS = Prepared(
    sa.select(_parts.c.key, _parts.c.value).where(_parts.c.workflow_id == sa.bindparam("wf"))
)
_WORKFLOW_INSERT = Prepared(
    _workflows.insert()
    .inline()
    .values(
        execution_id=sa.bindparam("wf"),
        kind=sa.bindparam("kind"),
        version=sa.bindparam("version"),
        created_at=sa.bindparam("now"),
        updated_at=sa.bindparam("now"),
    )
)
_DEFINITION_INSERT = Prepared(
    _definitions.insert()
    .inline()
    .values(workflow_id=sa.bindparam("wf"), definition=sa.bindparam("definition"))
)
_WORKFLOW = Prepared(
    sa.select(_workflows.c.kind, _workflows.c.version).where(
        _workflows.c.execution_id == sa.bindparam("wf")
    )
)
_DEFINITION = Prepared(
    sa.select(_definitions.c.definition).where(_definitions.c.workflow_id == sa.bindparam("wf"))
)
_VERSION_BUMP = Prepared(
    _workflows.update()
    .where(
        _workflows.c.execution_id == sa.bindparam("wf"),
        _workflows.c.version == sa.bindparam("expected"),
    )
    .values(version=sa.bindparam("new_version"), updated_at=sa.bindparam("now"))
)
_EVENT_DELETE = Prepared(_events.delete().where(_events.c.id == sa.bindparam("event_id")))
_INBOX = Prepared(
    sa.select(_events.c.id, _events.c.workflow_id, _events.c.payload)
    .order_by(_events.c.id)
    .limit(sa.bindparam("limit"))
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
        with driver_transaction(self._engine, write=True) as driver:
            if step.version == 0:
                driver.execute(
                    _WORKFLOW_INSERT,
                    {"wf": step.workflow_id, "kind": step.kind, "version": 1, "now": now},
                )
                driver.execute(
                    _DEFINITION_INSERT, {"wf": step.workflow_id, "definition": step.definition}
                )
            elif not driver.execute(
                _VERSION_BUMP,
                {
                    "wf": step.workflow_id,
                    "expected": step.version,
                    "new_version": step.version + 1,
                    "now": now,
                },
            ):
                raise VersionConflict(step.workflow_id)
            _write_parts(driver, step)
            if step.consumed:
                driver.execute_many(_EVENT_DELETE, [{"event_id": i} for i in step.consumed])
            for child, then in step.children:
                _insert(driver, child, then)
            for move in step.moves:
                transition_in(
                    driver,
                    move.execution_id,
                    move.status,
                    now=now,
                    expected=move.expected,
                    values=move.values,
                )
            if step.events:
                driver.execute_many(
                    _EVENT_INSERT,
                    [
                        {"workflow_id": wf, "payload": canonical_json(payload), "created_at": now}
                        for wf, payload in step.events
                    ],
                )

    def add_event(self, workflow_id: str, payload: Mapping[str, Any], *, now: str) -> None:
        with driver_transaction(self._engine, write=True) as driver:
            driver.execute(
                _EVENT_INSERT,
                {"workflow_id": workflow_id, "payload": canonical_json(payload), "created_at": now},
            )

    def load(self, workflow_id: str) -> StoredWorkflow | None:
        with driver_transaction(self._engine) as driver:
            row = driver.first(_WORKFLOW, {"wf": workflow_id})
            if row is None:
                return None
            text = driver.first(_DEFINITION, {"wf": workflow_id})
            stored = driver.all(_PARTS, {"wf": workflow_id})
        kind, version = row
        definition = "" if text is None else text[0]
        parts = {key: json.loads(value) for key, value in stored}
        return StoredWorkflow(workflow_id, kind, definition, int(version), parts)

    def definition(self, workflow_id: str) -> tuple[str, str] | None:
        """The kind (``orquesta``, ``action-chain``) and definition a workflow runs, without
        its state (what the console draws)."""
        with driver_transaction(self._engine) as driver:
            row = driver.first(_WORKFLOW, {"wf": workflow_id})
            if row is None:
                return None
            text = driver.first(_DEFINITION, {"wf": workflow_id})
        return str(row[0]), "" if text is None else str(text[0])

    def version(self, workflow_id: str) -> int | None:
        with driver_transaction(self._engine) as driver:
            row = driver.first(_WORKFLOW, {"wf": workflow_id})
        return None if row is None else int(row[1])

    def inbox(self, *, limit: int = 500) -> list[InboxEvent]:
        """The oldest events not yet applied, in arrival order."""
        with driver_transaction(self._engine) as driver:
            rows = driver.all(_INBOX, {"limit": limit})
        return [InboxEvent(i, wf, json.loads(payload)) for i, wf, payload in rows]

    def executions(self, ids: Iterable[str]) -> dict[str, Execution]:
        """Executions by id (the shell reads each event's child once per batch)."""
        return SqlExecutionStore(self._engine).get_many(ids)

    def children(self, workflow_id: str) -> list[Execution]:
        select = (
            sa.select(_executions)
            .where(_executions.c.parent_id == workflow_id)
            .order_by(_executions.c.created_at, _executions.c.id)
        )
        with transaction(self._engine) as connection:
            return [row_to_execution(row) for row in connection.execute(select)]

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
            connection.execute(_definitions.delete().where(_definitions.c.workflow_id.in_(ids)))
            connection.execute(_workflows.delete().where(_workflows.c.execution_id.in_(ids)))


class _NotMoved(Exception):
    """Rolls back the events queued before a move that did not happen."""


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
    transaction; False, writing nothing, when the execution was not in ``expected``.

    ``events`` are queued *before* the move's own event to its parent: an answered inquiry
    resumes its workflow first and then completes its task, as StackStorm does, so that the
    task's transitions (a ``fail`` command, say) apply to a running workflow, not a paused
    one that would ignore them."""
    try:
        with driver_transaction(engine, write=True) as driver:
            if events:
                driver.execute_many(
                    _EVENT_INSERT,
                    [
                        {"workflow_id": wf, "payload": canonical_json(payload), "created_at": now}
                        for wf, payload in events
                    ],
                )
            if not transition_in(
                driver, execution_id, target, now=now, expected=expected, values={"result": result}
            ):
                raise _NotMoved
    except _NotMoved:
        return False
    return True


def _write_parts(driver: DriverTransaction, step: Commit) -> None:
    deletes = [{"wf": step.workflow_id, "part": key} for key in step.deletes]
    # Delete-then-insert is an upsert both databases run the same way.
    deletes.extend({"wf": step.workflow_id, "part": key} for key in step.upserts)
    if deletes:
        driver.execute_many(_PART_DELETE, deletes)
    if step.upserts:
        driver.execute_many(
            _PART_INSERT,
            [
                {"wf": step.workflow_id, "part": key, "value": canonical_json(value)}
                for key, value in step.upserts.items()
            ],
        )
