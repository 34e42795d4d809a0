"""The Orquesta workflow conductor: a pure state machine that runs StackStorm workflows.

The conductor holds the parsed workflow (spec, graph, evaluator) and no execution state: every
call takes the :class:`~packhorse.workflow.state.WorkflowState` of one execution and changes it
in place. It does no I/O and reads no clock; the host stores the state (whole, or
incrementally with ``state.take_changes()``), starts the actions it is told to start, and
reports their outcomes.

Two levels of API:

* orquesta's, step by step (what the conformance corpus drives): :meth:`Conductor.create`,
  :meth:`~Conductor.request`, :meth:`~Conductor.task_event`, :meth:`~Conductor.next_tasks`
  and :meth:`~Conductor.render_output`;
* the host's, :meth:`Conductor.apply`: one event in, the commands it leads to out (see there).

Behaviour follows orquesta (reference/orquesta.md, conformance FORMAT.md); the differences are
listed in docs/compatibility.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import yaml

from packhorse.collector import collection_paused
from packhorse.errors import Refusal, ValidationFailed
from packhorse.workflow import dispatch, lifecycle
from packhorse.workflow.evaluation import Evaluator
from packhorse.workflow.flow import Flow
from packhorse.workflow.graph import WorkflowGraph
from packhorse.workflow.messages import (
    CancelTasks,
    Command,
    Event,
    Finished,
    NextItem,
    NextTask,
    PauseTasks,
    Request,
    RerunTask,
    ResumeTasks,
    RunTask,
    TaskEvent,
    TaskKey,
)
from packhorse.workflow.spec import WorkflowSpec, parse_workflow
from packhorse.workflow.state import WorkflowState
from packhorse.workflow.statuses import ACTIVE, COMPLETED, STARTING, Status, parse_status

__all__ = [
    "CancelTasks",
    "Command",
    "Conductor",
    "Event",
    "Finished",
    "NextItem",
    "NextTask",
    "PauseTasks",
    "Refusal",
    "Request",
    "RerunTask",
    "ResumeTasks",
    "RunTask",
    "TaskEvent",
    "WorkflowState",
]

MAX_IMMEDIATE_COMPLETIONS: Final = 100_000
"""Action-less tasks one :meth:`Conductor.apply` completes at most: a loop of action-less tasks
whose conditions never change would otherwise never return. The workflow fails past it."""

# Workflow statuses a first request may ask for (the others need a started workflow).
_FIRST_REQUESTS: Final = frozenset(
    {Status.REQUESTED, Status.SCHEDULED, Status.DELAYED, Status.RUNNING, Status.FAILED}
)


class Conductor:
    """Runs executions of one workflow (see the module docstring).

    ``workflow`` is the workflow definition (YAML text or its parsed mapping); it is parsed,
    checked and turned into a graph once. Raises :class:`~packhorse.errors.ValidationFailed`
    with every diagnostic when it is not a valid Orquesta workflow (names read through ``ctx()``
    are not checked: as in orquesta, a missing one fails the execution where it is read).
    ``functions`` are host functions (``st2kv``, ``task``...) that YAQL and Jinja expressions
    may call, next to orquesta's and StackStorm's.
    """

    def __init__(
        self,
        workflow: str | Mapping[str, Any],
        *,
        functions: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        text = workflow if isinstance(workflow, str) else yaml.safe_dump(dict(workflow))
        spec, diagnostics = parse_workflow(text, "<workflow>", check_context=False)
        if spec is None:
            raise ValidationFailed("the workflow definition is not valid", diagnostics)
        self.spec: WorkflowSpec = spec
        self.graph = WorkflowGraph(spec)
        self.evaluator = Evaluator(functions)

    def _flow(self, state: WorkflowState) -> Flow:
        return Flow(self.graph, self.evaluator, state)

    # -- orquesta's API ------------------------------------------------------------------------

    def create(
        self,
        input: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
    ) -> WorkflowState:
        """A new execution with these runtime inputs and parent context (StackStorm's
        ``{st2: {...}, parent: {...}}``). It has no status: inputs and vars are rendered at the
        first request."""
        return WorkflowState(input, context)

    def request(
        self, state: WorkflowState, status: str, *, tasks: Sequence[RerunTask] | None = None
    ) -> None:
        """Apply a workflow request: ``run``, ``pause``, ``resume``, ``cancel``, ``paused``,
        ``canceled``, ``fail`` or ``rerun`` (``tasks``: which to rerun; none reruns the failed
        terminal tasks). ``paused``/``canceled`` leave a workflow with active tasks pausing or
        canceling. Raises :class:`Refusal` (``InvalidWorkflowStatusTransition``,
        ``WorkflowIsActiveAndNotRerunableError``, ``InvalidTaskRerunRequest``) without changing
        the state, except that a first ``run`` whose inputs or vars fail to render leaves the
        workflow failed with the errors logged before it is refused."""
        flow = self._flow(state)
        if status == "rerun":
            lifecycle.rerun(flow, tasks)
            return
        wanted = lifecycle.requested_status(status)
        if not state.started and wanted not in _FIRST_REQUESTS:
            raise Refusal(
                "InvalidWorkflowStatusTransition",
                f'Unable to process event "workflow_{wanted}" for workflow in "null" status.',
            )
        lifecycle.request(flow, status)

    def task_event(
        self,
        state: WorkflowState,
        task_id: str,
        route: int,
        status: str,
        result: Any = None,
        *,
        item: int | None = None,
    ) -> None:
        """Apply a status change of a task's action execution (of item ``item`` of a
        with-items task). ``timeout`` and ``abandoned`` fail a running task. Raises
        :class:`Refusal` without changing the state: ``InvalidStatus``, ``InvalidTask`` (not
        in the workflow) or ``InvalidTaskStateEntry`` (neither staged nor run on ``route``;
        an item not handed out)."""
        flow = self._flow(state)
        parsed = self._check_event(state, task_id, route, status, item)
        flow.task_event(task_id, route, parsed, result, item=item)

    def _check_event(
        self, state: WorkflowState, task_id: str, route: int, status: str, item: int | None
    ) -> Status:
        try:
            parsed = parse_status(status)
        except ValueError:
            raise Refusal("InvalidStatus", f'Status "{status}" is not valid.') from None
        if parsed is None:
            raise Refusal("InvalidStatus", 'Status "null" is not valid for an event.')
        if not self.graph.has_task(task_id):
            raise Refusal("InvalidTask", f'Task "{task_id}" does not exist.')
        staged = state.staged.get((task_id, route))
        record = state.latest(task_id, route)
        not_staged = f'Task "{task_id}" is not staged or has not started yet.'
        if staged is None and (
            record is None
            or self.graph.is_command(task_id)
            or (record.status in COMPLETED and parsed in STARTING)
        ):
            raise Refusal("InvalidTaskStateEntry", not_staged)
        if item is not None and (
            staged is None
            or staged.items is None
            or not 0 <= item < state.item_sets[staged.items].count
        ):
            raise Refusal("InvalidTaskStateEntry", f"{not_staged} (item {item})")
        return parsed

    def next_tasks(self, state: WorkflowState) -> list[NextTask]:
        """The tasks to dispatch now (sorted by task id and route), their actions, inputs,
        items and delays rendered at this moment. Empty unless the workflow is running (or it
        failed through a ``fail`` command staged with other tasks, which still run). Changes
        the state: it allocates with-items slots, and a rendering error fails the workflow.
        It does not mark anything started: a second call returns the same tasks."""
        return dispatch.next_tasks(self._flow(state))

    def render_output(self, state: WorkflowState) -> dict[str, Any] | None:
        """The workflow output: rendered the first time it is asked for after the workflow
        completed (a rendering error is logged and fails it, unless canceled); None when there
        is none or it is empty."""
        return lifecycle.render_output(self._flow(state))

    # -- the host's API ------------------------------------------------------------------------

    def apply(self, state: WorkflowState, event: Event) -> list[Command]:
        """Apply one event and return the commands the host must carry out, in order.

        1. The event: a :class:`Request` (see :meth:`request`) or a :class:`TaskEvent` (see
           :meth:`task_event`). A :class:`Refusal` propagates and the state is unchanged, with
           one exception: a first ``run`` whose inputs or vars fail to render is not refused
           here; the workflow fails and :class:`Finished` reports the errors.
        2. After a ``pause`` (``cancel``) request that leaves the workflow pausing (canceling),
           :class:`PauseTasks` (:class:`CancelTasks`) lists the executions the host must pause
           (cancel): active ones, and paused ones too for a cancel. After a ``resume``,
           :class:`ResumeTasks` lists the paused executions to resume. Keys are
           (task id, route, item index or None).
        3. Dispatch, as StackStorm's workflow service does, until nothing more can start:
           query the next tasks and mark each one ``running`` at once (each item, for
           with-items), so it is never handed out twice. A task with an action yields a
           :class:`RunTask`; so does each item of a with-items task (``item`` and
           ``items_count`` set). A task without an action succeeds at once with no result,
           and a with-items task with no items runs and succeeds at once with ``[]``; their
           transitions may stage more tasks, which the next round dispatches.
        4. If the workflow has completed and the host has not been told yet, render the
           output and end with :class:`Finished` (status, output, errors). It comes once per
           run; a rerun may bring another. A workflow whose inputs or vars failed to render
           never ran: its output is not rendered (StackStorm reports only the rendering
           errors, with a null output).

        The host then reports each action's outcome as a :class:`TaskEvent` (its ``running``
        status again, harmlessly, then the final one), and feeds those to ``apply`` in turn.
        """
        # A step allocates what the state keeps and what reference counting frees (a whole
        # 10,000-task run leaves no cyclic garbage), and the step that stages and hands out a
        # 10,000-branch fan-out allocates 80,000 objects at once: with the collector running,
        # that brought on a full pass over the process, a tenth of the run's time, where a
        # 1,000-branch fan-out brings on none.
        with collection_paused():
            return self._apply(state, event)

    def _apply(self, state: WorkflowState, event: Event) -> list[Command]:
        commands: list[Command] = []
        never_ran = False
        match event:
            case Request(status="rerun", tasks=tasks):
                self.request(state, "rerun", tasks=tasks)
                commands.extend(self._children_for(state, Status.RESUMING))
            case Request(status=status):
                wanted = lifecycle.requested_status(status)
                first = not state.started
                try:
                    self.request(state, status)
                except Refusal as refusal:
                    failed_start = first and state.status == Status.FAILED
                    if not (failed_start and refusal.kind == "InvalidWorkflowStatusTransition"):
                        raise
                    never_ran = True
                commands.extend(self._children_for(state, wanted))
            case TaskEvent():
                flow = self._flow(state)
                status = self._check_event(
                    state, event.task_id, event.route, event.status, event.item
                )
                flow.task_event(event.task_id, event.route, status, event.result, item=event.item)
        flow = self._flow(state)
        commands.extend(self._dispatch(flow))
        if state.status in COMPLETED and not state.finished:
            output = None if never_ran else lifecycle.render_output(flow)
            state.set_finished(True)
            commands.append(Finished(str(state.status), output, tuple(state.errors)))
        return commands

    def _dispatch(self, flow: Flow) -> list[RunTask]:
        runs: list[RunTask] = []
        immediate = 0
        while True:
            tasks = dispatch.next_tasks(flow)
            if not tasks:
                return runs
            for task in tasks:
                immediate += self._start(flow, task, runs)
            if immediate > MAX_IMMEDIATE_COMPLETIONS:
                flow.log_error(
                    f"WorkflowLoopError: more than {MAX_IMMEDIATE_COMPLETIONS} tasks without an "
                    "action completed in one step; the workflow is failed to stop the loop."
                )
                flow.fail()
                return runs

    @staticmethod
    def _start(flow: Flow, task: NextTask, runs: list[RunTask]) -> int:
        """Mark a handed-out task (or its items) running; complete it at once when it has
        nothing to run. Returns the number of tasks so completed."""
        task_id, route = task.task_id, task.route
        if task.items_count is None:
            flow.task_event(task_id, route, Status.RUNNING)
            if task.action is None:
                flow.task_event(task_id, route, Status.SUCCEEDED)
                return 1
            runs.append(RunTask(task_id, route, str(task.action), task.input, task.delay))
            return 0
        if task.items_count == 0:
            flow.task_event(task_id, route, Status.RUNNING)
            flow.task_event(task_id, route, Status.SUCCEEDED, [])
            return 1
        for item in task.items:
            flow.task_event(task_id, route, Status.RUNNING, item=item.index)
            runs.append(
                RunTask(
                    task_id,
                    route,
                    str(item.action),
                    item.input,
                    task.delay,
                    item.index,
                    task.items_count,
                )
            )
        return 0

    def _children_for(self, state: WorkflowState, wanted: Status) -> list[Command]:
        """The executions a pause, cancel or resume request must reach."""
        if wanted in (Status.PAUSING, Status.PAUSED) and state.status == Status.PAUSING:
            keys = self.executions(state, ACTIVE - {Status.PAUSING, Status.CANCELING})
            return [PauseTasks(keys)] if keys else []
        if wanted in (Status.CANCELING, Status.CANCELED) and state.status in (
            Status.CANCELING,
            Status.CANCELED,
        ):
            statuses = (ACTIVE - {Status.CANCELING}) | {Status.PAUSED, Status.PENDING}
            keys = self.executions(state, statuses)
            return [CancelTasks(keys)] if keys else []
        if wanted in (Status.RESUMING, Status.RUNNING):
            keys = self.executions(state, {Status.PAUSED, Status.PAUSING})
            return [ResumeTasks(keys)] if keys else []
        return []

    @staticmethod
    def executions(
        state: WorkflowState, statuses: set[Status] | frozenset[Status]
    ) -> tuple[TaskKey, ...]:
        """(task id, route, item) of the latest executions (and items) in ``statuses``."""
        keys: list[TaskKey] = []
        for index in sorted(state.pointed(statuses)):
            record = state.sequence[index]
            staged = state.staged.get((record.id, record.route))
            if staged is not None and staged.items is not None:
                item_set = state.item_sets[staged.items]
                keys.extend(
                    (record.id, record.route, i)
                    for i, status in enumerate(item_set.statuses)
                    if status in statuses
                )
            else:
                keys.append((record.id, record.route, None))
        return tuple(keys)
