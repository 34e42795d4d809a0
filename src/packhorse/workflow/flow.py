"""How task events move a workflow (reference/orquesta.md §2.3-2.6): the core of the conductor.

A :class:`Flow` binds a graph and an evaluator to one state for the length of a call. It applies
a task event (:meth:`Flow.task_event`): finds or creates the task's execution, moves its status
through the task table, retries it or evaluates its transitions (publishing, routing, staging
the targets and deciding whether they are ready), runs the engine commands they name, then moves
the workflow status through the workflow table.

Every query here reads an index of the state, never a scan of it: the latest execution of a
task, executions by status, ready staged tasks, and for each task on each route the inbound
tasks that have transitioned into it and those that have run at all. That is what keeps an
event's cost independent of the size of the workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, Final

from packhorse.errors import ExpressionError
from packhorse.expr.yaql import PreparedData
from packhorse.workflow.evaluation import Evaluator, Scope, error_message
from packhorse.workflow.graph import COMMAND_NODES, Transition, WorkflowGraph
from packhorse.workflow.machines import (
    REMEDIATED,
    WORKFLOW_TABLE,
    Items,
    Progress,
    Source,
    TaskTrigger,
    WorkflowTrigger,
    next_task_status,
    next_workflow_status,
    task_trigger,
    workflow_trigger,
)
from packhorse.workflow.records import StagedRecord, TaskRecord
from packhorse.workflow.state import WorkflowState
from packhorse.workflow.statuses import (
    ABENDED,
    ACTIVE,
    CANCEL,
    COMPLETED,
    PAUSE,
    STARTING,
    Status,
)

EXECUTION_FAILED: Final = "Execution failed. See result for details."

# Item statuses whose event orquesta qualifies by the state of the other items.
_QUALIFIED_ITEM_STATUSES: Final = frozenset(
    {
        Status.RESUMING,
        Status.PENDING,
        Status.PAUSED,
        Status.SUCCEEDED,
        Status.FAILED,
        Status.TIMEOUT,
        Status.ABANDONED,
        Status.CANCELED,
    }
)
# Task statuses whose workflow event depends on whether other tasks are still active.
_CONDITIONAL: Final = frozenset(
    {
        Status.PENDING,
        Status.PAUSED,
        Status.SUCCEEDED,
        Status.FAILED,
        REMEDIATED,
        Status.CANCELED,
        Status.RETRYING,
    }
)
_COMMAND_STATUS: Final = {
    "continue": Status.SUCCEEDED,
    "noop": Status.SUCCEEDED,
    "fail": Status.FAILED,
}
_PREPARED_CACHE_SIZE: Final = 4096


class Inbound(Enum):
    """Whether a task's inbound transitions allow it to run (a join's barrier)."""

    SATISFIED = "satisfied"
    WIP = "wip"
    NOT_SATISFIED = "not_satisfied"


class Flow:
    """One state driven by one graph (see the module docstring)."""

    def __init__(self, graph: WorkflowGraph, evaluator: Evaluator, state: WorkflowState) -> None:
        self.graph = graph
        self.evaluator = evaluator
        self.state = state
        state.attach(graph)

    # -- evaluation ------------------------------------------------------------------------

    def scope(
        self,
        node: int,
        *,
        task: tuple[str, int] | None = None,
        result: Any = None,
        with_result: bool = False,
    ) -> Scope:
        """The scope of a task whose contexts are chain ``node``."""
        state = self.state
        prepared = state.prepared_cache.get(node)
        variables = state.variables(node)
        if prepared is None or prepared.value is not variables:
            # The variables as YAQL data, converted once for every evaluation in this context.
            if len(state.prepared_cache) >= _PREPARED_CACHE_SIZE:
                state.prepared_cache.clear()
            prepared = state.prepared_cache[node] = PreparedData(variables)
        if with_result:
            return Scope(state, variables, task=task, result=result, prepared=prepared)
        return Scope(state, variables, task=task, prepared=prepared)

    def evaluate(self, value: Any, scope: Scope) -> Any:
        return self.evaluator.evaluate(value, scope)

    def render_pairs(
        self, pairs: tuple[tuple[str, Any], ...], scope: Scope, base: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[ExpressionError]]:
        """Render ``name: expression`` pairs in order, each seeing the ones before it through
        ``ctx()`` (publish, vars, output); a failing pair is left out and reported."""
        rolling = dict(base)
        rendered: dict[str, Any] = {}
        errors: list[ExpressionError] = []
        for name, expression in pairs:
            try:
                value = self.evaluate(expression, scope.with_variables(rolling))
            except ExpressionError as error:
                errors.append(error)
                continue
            rolling[name] = value
            rendered[name] = value
        return rendered, errors

    # -- logging and failing -----------------------------------------------------------------

    def log_error(
        self,
        error: Exception | str,
        *,
        task_id: str | None = None,
        route: int | None = None,
        transition_id: str | None = None,
        result: Any = None,
    ) -> None:
        """Log an error entry as orquesta does (absent keys left out)."""
        message = error if isinstance(error, str) else error_message(error)
        entry: dict[str, Any] = {"type": "error", "message": message}
        if task_id is not None:
            entry["task_id"] = task_id
        if route is not None:
            entry["route"] = route
        if transition_id is not None:
            entry["task_transition_id"] = transition_id
        if result is not None:
            entry["result"] = result
        self.state.log_entry(entry)

    def fail(self) -> None:
        """The workflow's own request to fail (an error in an expression or a render)."""
        self.apply_request(Status.FAILED)

    # -- workflow requests -----------------------------------------------------------------

    def plan_request(
        self, status: Status
    ) -> tuple[list[tuple[TaskRecord, Status | None]], Status | None]:
        """What a request would do, changing nothing: the task status changes it passes down
        to active tasks, and the workflow status it leads to."""
        state = self.state
        updates: list[tuple[TaskRecord, Status | None]] = []
        active = state.count(ACTIVE)
        paused = state.count((Status.PAUSED, Status.PENDING))
        for index in sorted(state.pointed(ACTIVE)):
            record = state.sequence[index]
            new = next_task_status(record.status, self._request_trigger_for_task(record, status))
            if new != record.status:
                updates.append((record, new))
                active += (new in ACTIVE) - (record.status in ACTIVE)
                paused += (new in (Status.PAUSED, Status.PENDING)) - (
                    record.status in (Status.PAUSED, Status.PENDING)
                )
        qualified = status in PAUSE or status in CANCEL
        progress = None
        if (
            state.status == Status.PAUSED
            and status in (Status.RUNNING, Status.RESUMING)
            and not active
            and not state.has_ready_tasks()
            and not paused
        ):
            progress = Progress.COMPLETED
        trigger = workflow_trigger(
            Source.REQUEST, status, bool(active) if qualified else None, progress
        )
        return updates, next_workflow_status(state.status, trigger)

    def apply_request(self, status: Status) -> None:
        updates, new_status = self.plan_request(status)
        for record, task_status in updates:
            self.state.set_record_status(record, task_status)
        self.state.set_status(new_status)

    def _request_trigger_for_task(self, record: TaskRecord, status: Status) -> TaskTrigger:
        staged = self.state.staged.get((record.id, record.route))
        if (
            (status in PAUSE or status in CANCEL)
            and staged is not None
            and staged.items is not None
        ):
            item_set = self.state.item_sets[staged.items]
            done = sum(item_set.tally[s] for s in COMPLETED)
            items = Items.INCOMPLETE if done < item_set.count else Items.COMPLETED
            return task_trigger(Source.WORKFLOW, status, item_set.active() > 0, items)
        return task_trigger(Source.WORKFLOW, status)

    # -- joins -----------------------------------------------------------------------------

    def inbound(self, task_id: str, route: int) -> Inbound:
        """Whether enough inbound tasks transitioned into ``task_id`` on ``route`` (§2.6)."""
        state = self.state
        if len(state.satisfied.get((task_id, route), ())) >= self.graph.requirement(task_id):
            return Inbound.SATISFIED
        unknown = state.known.get((task_id, route), 0) < len(self.graph.inbound_tasks(task_id))
        if unknown and (state.has_active_tasks() or state.has_ready_tasks()):
            return Inbound.WIP
        return Inbound.NOT_SATISFIED

    def has_next(self, record: TaskRecord, *, evaluate_joins: bool = True) -> bool:
        """Whether a completed task transitioned into anything but ``continue`` (into a join
        that can still be satisfied, unless ``evaluate_joins`` is false)."""
        if record.status not in COMPLETED:
            return False
        for transition in self.graph.outbound(record.id):
            if transition.target == "continue" or not record.next.get(transition.id):
                continue
            if self.graph.is_barrier(transition.target):
                if not evaluate_joins:
                    return True
                if self.inbound(transition.target, record.route) == Inbound.NOT_SATISFIED:
                    continue
            return True
        return False

    def unreachable_joins(self) -> list[StagedRecord]:
        state = self.state
        found = []
        for key in sorted(state.unready, key=lambda k: state.staged[k].order):
            staged = state.staged[key]
            if self.graph.barrier(staged.id) in (None, 0):
                continue
            if self.inbound(staged.id, staged.route) == Inbound.NOT_SATISFIED:
                found.append(staged)
        return found

    # -- task events -----------------------------------------------------------------------

    def task_event(
        self,
        task_id: str,
        route: int,
        status: Status,
        result: Any = None,
        *,
        item: int | None = None,
        source: Source = Source.ACTION,
    ) -> None:
        """Apply one event to a task (checked by the caller: the task exists and is staged or
        has run on ``route``; an item event names an allocated item)."""
        state = self.state
        key = (task_id, route)
        staged = state.staged.get(key)
        record = state.latest(task_id, route)
        if (
            record is None
            or task_id in COMMAND_NODES
            or (record.status in COMPLETED and status in STARTING)
        ):
            assert staged is not None
            record = self.new_record(task_id, staged)
        if staged is not None and staged.items is None:
            state.unstage(key)
        if staged is not None and item is not None and staged.items is not None:
            state.set_item(staged.items, item, status=status)
            if status != Status.RUNNING:
                state.set_item(staged.items, item, result=result)
            state.set_record_items(record, staged.items)
        if status == Status.FAILED:
            self.log_error(EXECUTION_FAILED, task_id=task_id, result=result)
        old = record.status
        trigger = self._task_trigger(status, source, staged if item is not None else None, item)
        new = next_task_status(old, trigger)
        state.set_record_status(record, new)
        if new == Status.RETRYING:
            self._restage_for_retry(record)
        if new in COMPLETED and self._completed(record, staged, item, result):
            return  # retried: no transitions for this attempt
        commands: list[tuple[str, int]] = []
        if new in COMPLETED and new != old:
            commands = self._transitions(record, self._task_result(record, staged, item, result))
        self._task_to_workflow(record)
        for command, command_route in commands:
            self.task_event(command, command_route, _COMMAND_STATUS[command], source=Source.ENGINE)
        if state.status in COMPLETED:
            state.set_term(record, True)

    def _task_trigger(
        self, status: Status, source: Source, staged: StagedRecord | None, item: int | None
    ) -> TaskTrigger:
        if staged is None or item is None or staged.items is None:
            return task_trigger(source, status)
        if status not in _QUALIFIED_ITEM_STATUSES:
            return task_trigger(source, status)
        tally = self.state.item_sets[staged.items].tally

        def others(statuses: frozenset[Status] | tuple[Status | None, ...]) -> int:
            return sum(tally[s] for s in statuses) - (status in statuses)

        active = others(ACTIVE) > 0
        incomplete = sum(tally.values()) - 1 - others(COMPLETED) > 0
        if not active and others((Status.PENDING, Status.PAUSED)):
            outcome = Items.PAUSED
        elif not active and others((Status.CANCELED,)):
            outcome = Items.CANCELED
        elif not active and others(ABENDED):
            outcome = Items.FAILED
        else:
            outcome = Items.INCOMPLETE if incomplete else Items.COMPLETED
        return task_trigger(source, status, active, outcome)

    def new_record(self, task_id: str, staged: StagedRecord) -> TaskRecord:
        """A new execution of a staged task, with its retry policy set up."""
        retry = self._retry_state(task_id, staged)
        return self.state.add_record(task_id, staged.route, staged.chain, staged.prev, retry)

    def _retry_state(self, task_id: str, staged: StagedRecord) -> dict[str, Any] | None:
        """The task's retry policy with its count and delay evaluated (against the task's
        context, no current task), and a tally of 0."""
        policy = self.graph.retry_policy(task_id)
        if policy is None:
            return None
        retry: dict[str, Any] = {"when": policy.when, "count": policy.count, "delay": policy.delay}
        scope = self.scope(staged.chain)
        for name in ("delay", "count"):
            if isinstance(retry[name], str):
                try:
                    value = self.evaluate(retry[name], scope)
                    if not isinstance(value, int):
                        raise ValueError(
                            f'The retry {name} for task "{task_id}" is not an integer.'
                        )
                except (ExpressionError, ValueError) as error:
                    self.log_error(error, task_id=task_id, route=staged.route)
                    self.fail()
                    return None
                retry[name] = value
        retry["tally"] = 0
        return retry

    def _restage_for_retry(self, record: TaskRecord) -> None:
        state = self.state
        retry = dict(record.retry or {})
        retry["tally"] = retry.get("tally", 0) + 1
        state.set_record_retry(record, retry)
        state.unstage((record.id, record.route))
        state.stage(record.id, record.route, record.chain, record.prev, ready=True, retry=retry)

    def _task_result(
        self, record: TaskRecord, staged: StagedRecord | None, item: int | None, result: Any
    ) -> Any:
        if not self.graph.has_items(record.id):
            return result
        if item is not None and staged is not None and staged.items is not None:
            return list(self.state.item_sets[staged.items].results)
        return result or []

    def _completed(
        self, record: TaskRecord, staged: StagedRecord | None, item: int | None, result: Any
    ) -> bool:
        """Unstage a completed task (a failed with-items task stays, for a rerun of its
        failed items) and retry it if its policy says so; whether it was retried."""
        state = self.state
        key = (record.id, record.route)
        if self.graph.has_items(record.id) and record.status in ABENDED:
            kept = state.staged.get(key)
            if kept is not None:
                state.update_staged(kept, completed=True)
        else:
            state.unstage(key)
        if record.retry is None or state.status not in ACTIVE:
            return False
        task_result = self._task_result(record, staged, item, result)
        scope = self.scope(record.chain, task=key, result=task_result, with_result=True)
        if not self._should_retry(record, scope):
            return False
        self.task_event(record.id, record.route, Status.RETRYING, source=Source.ENGINE)
        return True

    def _should_retry(self, record: TaskRecord, scope: Scope) -> bool:
        retry = record.retry or {}
        if retry.get("tally", 0) >= retry.get("count", 0):
            return False
        when = retry.get("when")
        if when is None:
            return record.status in ABENDED
        try:
            return bool(self.evaluate(when, scope))
        except ExpressionError as error:
            self.log_error(error, task_id=record.id, route=record.route)
            self.fail()
            return False

    # -- transitions -------------------------------------------------------------------------

    def _transitions(self, record: TaskRecord, result: Any) -> list[tuple[str, int]]:
        """Evaluate a completed task's transitions, in target order; stage the targets of
        those taken. Returns the engine commands to run."""
        state = self.state
        edges = self.graph.outbound(record.id)
        if not edges:
            state.set_term(record, True)
            return []
        scope = self.scope(
            record.chain, task=(record.id, record.route), result=result, with_result=True
        )
        commands: list[tuple[str, int]] = []
        ready: list[StagedRecord] = []
        manual_fail = False
        for transition in edges:
            staged = self._take(record, transition, scope)
            if staged is None:
                continue
            if transition.target in COMMAND_NODES:
                commands.append(staged.key)
                manual_fail = manual_fail or transition.target == "fail"
            elif staged.ready:
                ready.append(staged)
        if manual_fail:
            # "Remediate then fail": tasks staged along with a fail command still run.
            for staged in ready:
                state.update_staged(staged, run_on_fail=True)
        return commands

    def _take(
        self, record: TaskRecord, transition: Transition, scope: Scope
    ) -> StagedRecord | None:
        """Evaluate one transition; if taken, publish and stage its target."""
        state = self.state
        try:
            taken = transition.when is None or bool(self.evaluate(transition.when, scope))
        except ExpressionError as error:
            self._transition_failed(record, transition, [error])
            return None
        state.set_next(record, transition.id, taken, transition.target)
        if not taken:
            return None
        out = record.chain
        spec = self.graph.task_spec(record.id)
        publish = spec.next[transition.index].publish if spec is not None else ()
        if publish:
            published, errors = self.render_pairs(publish, scope, scope.variables())
            if errors:
                self._transition_failed(record, transition, errors)
                return None
            if published:
                out = state.extend_chain(record.chain, state.add_context(published))
        route = self._route(transition, record.route)
        staged = state.staged.get((transition.target, route))
        if staged is not None:
            # Reached again before it ran (a join): add this arrival's contexts and origin.
            state.set_prev(staged.prev, transition.backref, record.index)
            state.release_items(staged)
            state.rendered_items.pop(staged.order, None)
            state.items_cache.pop(staged.order, None)
            state.update_staged(
                staged, chain=state.join_chain(staged.chain, out), items=None, completed=False
            )
        else:
            prev = state.new_prevs({transition.backref: record.index})
            staged = state.stage(transition.target, route, out, prev, ready=False)
        ready = self.inbound(transition.target, record.route) == Inbound.SATISFIED
        state.update_staged(staged, ready=ready)
        return staged

    def _transition_failed(
        self, record: TaskRecord, transition: Transition, errors: list[ExpressionError]
    ) -> None:
        for error in errors:
            self.log_error(
                error, task_id=record.id, route=record.route, transition_id=transition.id
            )
        self.fail()

    def _route(self, transition: Transition, route: int) -> int:
        """The route of a transition's target: a new one into a split outside cycles (§2.5)."""
        if not self.graph.is_split(transition.target) or self.graph.in_cycle(transition.target):
            return route
        current = self.state.routes[route]
        if transition.backref in current:
            return route
        return self.state.add_route([*current, transition.backref])

    # -- the workflow's view of a task -----------------------------------------------------

    def _task_to_workflow(self, record: TaskRecord) -> None:
        """Move the workflow status for the task's new status (§1.9); a workflow that
        completes with a join it can no longer reach fails."""
        state = self.state
        trigger = self._workflow_trigger(record)
        if trigger is None or trigger not in WORKFLOW_TABLE.get(state.status, {}):
            return
        state.set_status(next_workflow_status(state.status, trigger))
        if state.status not in COMPLETED:
            return
        unreachable = self.unreachable_joins()
        if unreachable:
            state.set_status(Status.FAILED)
            for staged in unreachable:
                message = (
                    f'UnreachableJoinError: The join task|route "{staged.id}|{staged.route}" '
                    "is partially satisfied but unreachable."
                )
                self.log_error(message, task_id=staged.id, route=staged.route)

    def _workflow_trigger(self, record: TaskRecord) -> WorkflowTrigger | None:
        state = self.state
        status = record.status
        if status is None:
            return None
        has_next = self.has_next(record)
        label: str = status
        if status in ABENDED and (has_next or self.has_next(record, evaluate_joins=False)):
            label = REMEDIATED
        active = state.has_active_tasks() if label in _CONDITIONAL else None
        progress = None
        if label in (Status.SUCCEEDED, REMEDIATED):
            if state.count(CANCEL):
                progress = Progress.CANCELED
            elif state.count((Status.PAUSING, Status.PAUSED, Status.PENDING)):
                progress = Progress.PAUSED
            elif state.has_ready_tasks() or has_next:
                progress = Progress.INCOMPLETE
            else:
                progress = Progress.COMPLETED
        return workflow_trigger(Source.TASK, label, active, progress)
