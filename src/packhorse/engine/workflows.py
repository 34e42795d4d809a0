"""The workflow shell: runs workflow executions (Orquesta, action-chain) on the work queue.

A workflow execution is claimed by a worker like any other; instead of a runner, the worker
hands it to :meth:`WorkflowShell.start`, which asks the workflow's driver for the first tasks
and writes, in one transaction, the workflow's state, its first child executions and its move
to ``running``. From then on nobody holds it: when a child changes status, the store drops an
event in the workflow's inbox in the same transaction (see
:func:`packhorse.storage.executions.transition_in`); :meth:`WorkflowShell.process` applies
inbox events to the state and writes the new state, the events it consumed, the children it
starts and the workflow's new status in one transaction again. So a crash anywhere loses no
event and repeats no task: either a step is written whole, or its events are still waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from packhorse.engine.clock import iso, parse_iso, utc_now
from packhorse.engine.observer import NO_OBSERVER, Observer
from packhorse.engine.waiting import nap
from packhorse.engine.workflow_steps import (
    child_execution,
    own_moves,
    rerun_tasks,
    st2_context,
    stepping_bound,
    task_label,
)
from packhorse.errors import (
    Conflict,
    NotFound,
    PackhorseError,
    StateVersionError,
    WorkflowInspectionFailed,
)
from packhorse.model.content import Resource
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.model.workflow import (
    Command,
    Finish,
    SignalChildren,
    StartAction,
    WorkflowDriver,
    WorkflowSession,
)
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.workflows import (
    Commit,
    InboxEvent,
    Move,
    SqlWorkflowStore,
    StoredWorkflow,
    VersionConflict,
)

log = logging.getLogger(__name__)

_ACTIVE = frozenset(
    {
        Status.REQUESTED,
        Status.SCHEDULED,
        Status.DELAYED,
        Status.RUNNING,
        Status.PENDING,
        Status.PAUSING,
        Status.PAUSED,
        Status.RESUMING,
        Status.CANCELING,
    }
)
#: Children a workflow's cancel cancels at once: they wait for time or for a person.
_WAITING = (Status.DELAYED, Status.PENDING)


class WorkflowShell:
    """Drives every workflow execution of this instance through its driver."""

    def __init__(
        self,
        executions: SqlExecutionStore,
        workflows: SqlWorkflowStore,
        drivers: Mapping[str, WorkflowDriver],
        action_for: Callable[[str], Resource | None],
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        holds_back: Callable[[str], bool] = lambda ref: False,
        protect: Callable[[Resource, Mapping[str, Any]], Mapping[str, Any]] = (
            lambda action, parameters: parameters
        ),
        on_children: Callable[[], None] = lambda: None,
        api_url: str = "",
    ) -> None:
        self._executions = executions
        self.store = workflows
        self._drivers = drivers
        self._action_for = action_for
        self._clock = clock
        self._holds_back = holds_back
        self._protect = protect
        self.on_children = on_children
        self.observer: Observer = NO_OBSERVER
        """Told when a workflow execution ends."""
        self.api_url = api_url
        """The instance's public API URL, for ``ctx().st2.api_url``."""
        self._sessions: dict[str, tuple[int, WorkflowSession, Execution]] = {}
        """Live workflows: stored version, session, and the workflow's row as last written."""
        self._wake = asyncio.Event()
        self._refused: set[str] = set()
        """Workflows whose saved state is of a newer version, already reported."""

    def drives(self, runner_type: str) -> bool:
        return runner_type in self._drivers

    def wake(self) -> None:
        self._wake.set()

    # -- start --------------------------------------------------------------------------------

    def start(
        self,
        execution: Execution,
        parameters: Mapping[str, Any],
        entry_point: str,
        runner_parameters: Mapping[str, Any] | None = None,
    ) -> None:
        """Start a claimed workflow execution: its first step, written in one transaction."""
        with stepping_bound(execution.id):
            self._start(execution, parameters, entry_point, runner_parameters)

    def _start(
        self,
        execution: Execution,
        parameters: Mapping[str, Any],
        entry_point: str,
        runner_parameters: Mapping[str, Any] | None,
    ) -> None:
        driver = self._drivers[execution.runner_type]
        try:
            definition = Path(entry_point).read_text(encoding="utf-8")
        except OSError as error:
            self._fail_to_start(execution, f"cannot read the workflow {entry_point}: {error}")
            return
        rerun = execution.context.get("re-run") or {}
        base: Mapping[str, Any] = {}
        try:
            if rerun.get("tasks"):
                session, base, definition = self._rerun_session(execution, rerun)
                commands = session.request("rerun", {"tasks": rerun_tasks(rerun)})
            else:
                context = {
                    **execution.context,
                    "st2": st2_context(execution, self.api_url),
                    "runner_parameters": dict(runner_parameters or {}),
                }
                session = driver.start(definition, parameters, context)
                commands = session.begin()
        except WorkflowInspectionFailed as failed:
            self._fail_to_start(execution, failed.message, errors=failed.errors)
            return
        except PackhorseError as error:
            self._fail_to_start(execution, error.message)
            return
        self._write(
            execution,
            session,
            commands,
            version=0,
            consumed=(),
            kind=driver.kind,
            definition=definition,
            base_parts=base,
        )

    def _rerun_session(
        self, execution: Execution, rerun: Mapping[str, Any]
    ) -> tuple[WorkflowSession, Mapping[str, Any], str]:
        """The original workflow's stored state, to carry on from (``re-run --tasks``)."""
        stored = self.store.load(str(rerun.get("ref")))
        if stored is None:
            raise NotFound("workflow state of execution", str(rerun.get("ref")))
        session = self._load(execution.runner_type, stored)
        return session, stored.parts, stored.definition

    def _fail_to_start(
        self,
        execution: Execution,
        message: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """The workflow fails before its first step; ``errors`` (an inspection's) replace the
        one error entry ``message`` would make."""
        now = iso(self._clock())
        self._executions.transition(execution.id, Status.RUNNING, now=now, start_timestamp=now)
        entries = [dict(e) for e in errors] if errors else [{"type": "error", "message": message}]
        if self._executions.transition(
            execution.id,
            Status.FAILED,
            now=now,
            result={"output": None, "errors": entries},
        ):
            self._report_end(execution, Status.FAILED, self._clock())

    # -- the inbox ----------------------------------------------------------------------------

    batch = 1000
    """Events read from the inbox at a time."""

    def process(self, *, limit: int | None = None) -> int:
        """Apply waiting inbox events, one transaction per workflow; returns how many."""
        events = self.store.inbox(limit=limit or self.batch)
        if not events:
            return 0
        by_workflow: dict[str, list[InboxEvent]] = defaultdict(list)
        for event in events:
            by_workflow[event.workflow_id].append(event)
        # Events from the queue's own moves carry their child's key and result; others (a
        # policy's cancel) name the child only, and it is read.
        child_ids = [
            str(e.payload["child"])
            for e in events
            if "child" in e.payload and "key" not in e.payload
        ]
        # A running workflow's own row changes only in this shell's commits: it is cached
        # with its session, and read only when the session is not.
        unknown = [wf for wf in by_workflow if wf not in self._sessions]
        rows = self.store.executions([*child_ids, *unknown]) if child_ids or unknown else {}
        for workflow_id, batch in by_workflow.items():
            cached = self._sessions.get(workflow_id)
            workflow = cached[2] if cached is not None else rows.get(workflow_id)
            if workflow is None or workflow.completed:
                self._discard(workflow_id, batch)
                continue
            with stepping_bound(workflow_id):
                try:
                    self._step(workflow, batch, rows)
                except StateVersionError as error:
                    # Left as it is, events and all, for the Packhorse that can read it.
                    self._refuse(error)
        return len(events)

    def _refuse(self, error: StateVersionError) -> None:
        """Say once per workflow that its state is of a version this code does not read."""
        if error.owner not in self._refused:
            self._refused.add(error.owner)
            log.error("%s: %s", error.message, error.hint)

    def _discard(self, workflow_id: str, batch: Sequence[InboxEvent]) -> None:
        """Events for a workflow that has ended (a late child) change nothing."""
        version = self.store.version(workflow_id)
        if version is None:
            # Not a workflow we run (or purged): drop the events.
            self.store.commit(
                Commit(workflow_id, 0, consumed=[e.id for e in batch], kind="gone"),
                now=iso(self._clock()),
            )
            self.store.delete([workflow_id])
            return
        with contextlib.suppress(VersionConflict):
            self.store.commit(
                Commit(workflow_id, version, consumed=[e.id for e in batch]),
                now=iso(self._clock()),
            )
        self._sessions.pop(workflow_id, None)

    def _session(self, workflow: Execution) -> tuple[int, WorkflowSession] | None:
        cached = self._sessions.get(workflow.id)
        if cached is not None:
            return cached[0], cached[1]
        stored = self.store.load(workflow.id)
        if stored is None:
            return None
        return stored.version, self._load(workflow.runner_type, stored)

    def _load(self, runner_type: str, stored: StoredWorkflow) -> WorkflowSession:
        """The session of a stored workflow. One whose state was saved in an older version is
        upgraded as it loads, and its next step writes it back in the current version; one of
        a newer version is refused, naming the workflow."""
        try:
            return self._drivers[runner_type].load(stored.definition, stored.parts)
        except StateVersionError as error:
            raise error.naming(stored.execution_id) from None

    def _step(
        self, workflow: Execution, batch: Sequence[InboxEvent], rows: Mapping[str, Execution]
    ) -> None:
        loaded = self._session(workflow)
        if loaded is None:
            log.warning("events for workflow %s, which has no stored state", workflow.id)
            return
        version, session = loaded
        commands: list[Command] = []
        try:
            for event in batch:
                commands.extend(self._apply(session, event, rows))
        except Exception:
            # A bug must not wedge the inbox: the workflow fails, saying so, and moves on.
            log.exception("applying events to workflow %s failed", workflow.id)
            self._sessions.pop(workflow.id, None)
            commands = [
                Finish(
                    "failed",
                    {
                        "output": None,
                        "errors": [
                            {"type": "error", "message": "internal error applying an event"}
                        ],
                    },
                )
            ]
        self._write(
            workflow,
            session,
            commands,
            version=version,
            consumed=[e.id for e in batch],
            upward=self._cancel_upward(workflow, batch),
        )

    def _cancel_upward(
        self, workflow: Execution, batch: Sequence[InboxEvent]
    ) -> list[tuple[str, Mapping[str, Any]]]:
        """As StackStorm: a subworkflow asked to cancel asks its root workflow to cancel too
        (unless the root is already canceling); the root's cancel then reaches every branch."""
        if workflow.parent_id is None or not any(
            event.payload.get("request") == "cancel" for event in batch
        ):
            return []
        root = workflow
        while root.parent_id is not None:
            parent = self.store.executions([root.parent_id]).get(root.parent_id)
            if parent is None:
                break
            root = parent
        if root is workflow or root.completed or root.status is Status.CANCELING:
            return []
        if root.runner_type not in self._drivers:
            return []
        return [(root.id, {"request": "cancel"})]

    def _apply(
        self, session: WorkflowSession, event: InboxEvent, rows: Mapping[str, Execution]
    ) -> list[Command]:
        payload = event.payload
        if "key" in payload:
            return session.child_event(
                payload["key"] or {},
                str(payload["status"]),
                payload["result"],
                str(payload["child"]),
            )
        if "child" in payload:
            child = rows.get(str(payload["child"]))
            if child is None:
                return []
            status = str(payload["status"])
            result = child.result if Status(status) in COMPLETED else None
            key = child.context.get("workflow_key", {})
            return session.child_event(key, status, result, child.id)
        request = str(payload.get("request", ""))
        try:
            return session.request(request, payload.get("options"))
        except PackhorseError as error:
            log.info("workflow %s refused %r: %s", event.workflow_id, request, error.message)
            return []

    # -- writing a step -----------------------------------------------------------------------

    def _write(
        self,
        workflow: Execution,
        session: WorkflowSession,
        commands: list[Command],
        *,
        version: int,
        consumed: Sequence[int],
        kind: str = "",
        definition: str = "",
        base_parts: Mapping[str, Any] | None = None,
        upward: Sequence[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        now_moment = self._clock()
        now = iso(now_moment)
        children: list[tuple[Execution, Status | None]] = []
        moves: list[Move] = []
        events: list[tuple[str, Mapping[str, Any]]] = list(upward)
        finish: Finish | None = None
        queue = deque(commands)  # a fan-out's step starts thousands: no list.pop(0)
        while queue:
            command = queue.popleft()
            if isinstance(command, StartAction):
                child, failure = self._child(workflow, command, now_moment)
                if child is None:
                    # Unknown or disabled action: the task fails at once, as in StackStorm.
                    queue.extend(session.child_event(command.key, "failed", {"error": failure}, ""))
                    continue
                # A task with a delay waits ``delayed`` (as in StackStorm) until a scheduler
                # pass finds it due; one a policy holds back waits ``requested``.
                if self._holds_back(child.action_ref):
                    children.append((child, None))
                else:
                    children.append(
                        (child, Status.DELAYED if child.run_after else Status.SCHEDULED)
                    )
            elif isinstance(command, SignalChildren):
                signal_moves, signal_events = self._signal(workflow.id, command)
                moves.extend(signal_moves)
                events.extend(signal_events)
            elif isinstance(command, Finish):
                finish = command
        moves.extend(own_moves(workflow, session.status, finish, now))
        upserts, deletes = session.take_changes()
        if base_parts:
            # A rerun: the new workflow starts with every part of the one it reruns.
            upserts = {
                **{k: v for k, v in base_parts.items() if k not in set(deletes)},
                **upserts,
            }
            deletes = set()
        step = Commit(
            workflow.id,
            version,
            upserts=upserts,
            deletes=deletes,
            consumed=consumed,
            children=children,
            moves=moves,
            events=events,
            kind=kind,
            definition=definition,
        )
        try:
            self.store.commit(step, now=now)
        except VersionConflict:
            # Another process applied these events first: ours is stale, reload next time.
            self._sessions.pop(workflow.id, None)
            return
        if finish is not None:
            self._sessions.pop(workflow.id, None)
            self._report_end(workflow, Status(finish.status), now_moment)
        else:
            own = [move.status for move in moves if move.execution_id == workflow.id]
            row = replace(workflow, status=own[-1]) if own else workflow
            self._sessions[workflow.id] = (version + 1, session, row)
        if children:
            self.on_children()

    def _report_end(self, workflow: Execution, status: Status, now: dt.datetime) -> None:
        if status not in COMPLETED:
            return
        started = workflow.start_timestamp
        seconds = (now - parse_iso(started)).total_seconds() if started else 0.0
        self.observer.execution_finished(
            workflow.runner_type, status, seconds, workflow_task=workflow.parent_id is not None
        )

    def _child(
        self, workflow: Execution, command: StartAction, now: dt.datetime
    ) -> tuple[Execution | None, str]:
        action = self._action_for(command.action_ref)
        if action is None:
            return None, f'Action "{command.action_ref}" is not registered.'
        if not action.enabled:
            return None, f'Action "{command.action_ref}" is disabled.'
        parameters = self._protect(action, command.parameters)
        return child_execution(workflow, command, action, parameters, now=now), ""

    def _signal(
        self, workflow_id: str, command: SignalChildren
    ) -> tuple[list[Move], list[tuple[str, Mapping[str, Any]]]]:
        wanted = [dict(key) for key in command.keys]
        moves: list[Move] = []
        events: list[tuple[str, Mapping[str, Any]]] = []
        for child in self.store.children(workflow_id):
            if child.status not in _ACTIVE:
                continue
            if wanted and dict(child.context.get("workflow_key", {})) not in wanted:
                continue
            if child.runner_type in self._drivers:
                # A subworkflow hears the request through its own inbox.
                events.append((child.id, {"request": command.request}))
            elif command.request == "cancel" and child.status in _WAITING:
                moves.append(Move(child.id, Status.CANCELED, expected=_WAITING))
            # Any other action the workflow started runs to its end: as in StackStorm,
            # canceling a workflow cancels its subworkflows and what waits (a delay, an
            # inquiry) but interrupts no action (cancel that execution itself to kill it).
        return moves, events

    # -- requests -----------------------------------------------------------------------------

    def request(
        self, execution_id: str, request: str, options: Mapping[str, Any] | None = None
    ) -> None:
        """Queue a pause, resume or cancel of a workflow execution (applied by :meth:`process`)."""
        execution = self._executions.get(execution_id)
        if execution is None:
            raise NotFound("execution", execution_id)
        if execution.runner_type not in self._drivers:
            raise Conflict(f"execution {execution_id} is not a workflow; only workflows {request}")
        if execution.completed:
            raise Conflict(f"workflow {execution_id} is already {execution.status.value}")
        payload: dict[str, Any] = {"request": request}
        if options:
            payload["options"] = dict(options)
        self.store.add_event(execution_id, payload, now=iso(self._clock()))
        self.wake()

    # -- reading ------------------------------------------------------------------------------

    def tree(self, workflow: Execution) -> list[dict[str, Any]]:
        """The workflow's tasks in order, each with its child executions (nested for
        subworkflows)."""
        loaded = self._session(workflow)
        if loaded is None:
            return []
        _, session = loaded
        children = self.store.children(workflow.id)
        by_key: dict[str, list[Execution]] = defaultdict(list)
        for child in children:
            by_key[task_label(child.context.get("workflow_key", {}))].append(child)
        tree = []
        for entry in session.tree():
            node = dict(entry)
            runs = by_key.get(task_label(entry), [])
            node["executions"] = [
                {
                    "id": child.id,
                    "action": child.action_ref,
                    "status": child.status.value,
                    **(
                        {"item": child.context["workflow_key"]["item"]}
                        if child.context.get("workflow_key", {}).get("item") is not None
                        else {}
                    ),
                    **({"tasks": self.tree(child)} if child.runner_type in self._drivers else {}),
                }
                for child in runs
            ]
            tree.append(node)
        return tree

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, poll_seconds: float = 0.5) -> None:
        """Apply inbox events until ``stop`` is set."""
        while not stop.is_set():
            self._wake.clear()
            try:
                busy = self.process()
            except PackhorseError:
                log.exception("workflow shell pass failed; will retry")
                busy = 0
            if busy >= self.batch:
                await asyncio.sleep(0)  # more may be waiting: go on at once, letting others in
                continue
            await nap(poll_seconds, stop, self._wake)
