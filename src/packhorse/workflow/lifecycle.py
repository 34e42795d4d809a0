"""Requests about the whole workflow: start, pause, resume, cancel, fail, rerun, and the output
(reference/orquesta.md §1.10, §1.12, §2.8; conformance FORMAT.md §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from packhorse.errors import ExpressionError, Refusal
from packhorse.workflow.contexts import merge
from packhorse.workflow.evaluation import Scope
from packhorse.workflow.flow import Flow
from packhorse.workflow.messages import RerunTask
from packhorse.workflow.records import TaskRecord, key_text
from packhorse.workflow.statuses import ABENDED, COMPLETED, Status

REQUESTS: Final = {
    "run": Status.RUNNING,
    "pause": Status.PAUSING,
    "resume": Status.RESUMING,
    "cancel": Status.CANCELING,
    "paused": Status.PAUSED,
    "canceled": Status.CANCELED,
    "fail": Status.FAILED,
}
"""Request names (FORMAT.md) and the workflow status each asks for. orquesta's status names
(``running``, ``pausing``...) are accepted too."""


def requested_status(name: str) -> Status:
    if name in REQUESTS:
        return REQUESTS[name]
    try:
        return Status(name)
    except ValueError:
        raise Refusal("InvalidStatus", f'Status "{name}" is not valid.') from None


def start(flow: Flow) -> None:
    """Set the workflow up at its first request: render the inputs then the vars over the
    parent context, and stage the start tasks. A rendering error fails the workflow."""
    state = flow.state
    spec = flow.graph.spec
    scope = Scope(state, {})
    initial: dict[str, Any] = dict(state.context)
    rolling = dict(initial)
    errors: list[ExpressionError] = []
    for declared in spec.input:
        value = state.input.get(declared.name, declared.default)
        try:
            rolling[declared.name] = flow.evaluate(value, scope.with_variables(rolling))
        except ExpressionError as error:
            errors.append(error)
    initial = merge(initial, rolling)
    rendered_vars, var_errors = flow.render_pairs(spec.vars, scope, initial)
    initial = merge(initial, rendered_vars)
    errors.extend(var_errors)
    if errors:
        for failure in errors:
            flow.log_error(failure)
        flow.fail()
    if state.status in ABENDED:
        return
    state.add_context(initial)
    root = state.root_chain()
    state.add_route([])
    for name in flow.graph.start_tasks:
        state.stage(name, 0, root, state.new_prevs(), ready=True)


def request(flow: Flow, name: str) -> None:
    """Apply a workflow request; raises :class:`Refusal` if the workflow cannot take it,
    having changed nothing (but the set-up of a first request, which fails the workflow when
    its inputs or vars do not render)."""
    status = requested_status(name)
    state = flow.state
    if not state.started:
        start(flow)
    current = state.status
    updates, new_status = flow.plan_request(status)
    unchanged = new_status == current
    if unchanged and status != current:
        keeps_waiting = (status == Status.PAUSED and current == Status.PAUSING) or (
            status == Status.CANCELED and current == Status.CANCELING
        )
        if not keeps_waiting:
            raise Refusal(
                "InvalidWorkflowStatusTransition",
                f'Unable to process event "workflow_{status}" for workflow in '
                f'"{current or "null"}" status.',
            )
    for record, task_status in updates:
        state.set_record_status(record, task_status)
    state.set_status(new_status)


def render_output(flow: Flow) -> dict[str, Any] | None:
    """Render the output once the workflow has completed (and not since it completed or was
    rerun); an error is logged and fails the workflow unless it was canceled."""
    state = flow.state
    if state.status in COMPLETED and not state.output:
        variables = terminal_context(flow)
        rendered, errors = flow.render_pairs(flow.graph.spec.output, Scope(state, {}), variables)
        if rendered:
            state.set_output(rendered)
        if errors:
            for error in errors:
                flow.log_error(error)
            if state.status not in (Status.TIMEOUT, Status.ABANDONED, Status.CANCELED):
                flow.fail()
    return state.output or None


def terminal_context(flow: Flow) -> dict[str, Any]:
    """The first terminal task's variables, then the deltas of the other terminal tasks."""
    state = flow.state
    terminals = sorted(state.terminal)
    if not terminals:
        return {}
    variables = dict(state.variables(state.sequence[terminals[0]].chain))
    for index in terminals[1:]:
        for delta in state.context_indexes(state.sequence[index].chain)[1:]:
            variables = merge(variables, state.contexts[delta])
    return variables


# -- rerun -----------------------------------------------------------------------------------


def rerun(flow: Flow, tasks: Sequence[RerunTask] | None) -> None:
    """Rerun a completed workflow from the given tasks, or from its failed terminal tasks."""
    state = flow.state
    if state.status not in COMPLETED:
        raise Refusal(
            "WorkflowIsActiveAndNotRerunableError",
            "Unable to rerun workflow because it is not in a completed state.",
        )
    requested = {key_text((t.task_id, t.route)): t for t in tasks or ()}
    invalid = [t for t in requested.values() if (t.task_id, t.route) not in state.pointers]
    if invalid:
        names = ", ".join(f"{t.task_id}|{t.route}" for t in invalid)
        raise Refusal(
            "InvalidTaskRerunRequest",
            f"Unable to rerun task|route(s) because it doesn't exist or isn't rerunnable: {names}",
        )
    candidates: dict[str, tuple[int, TaskRecord]] = {}
    if not requested:
        for index in sorted(state.terminal):
            record = state.sequence[index]
            if record.status in ABENDED:
                candidates[key_text((record.id, record.route))] = (index, record)
    else:
        kept = _collapse(flow, requested)
        for text, task in requested.items():
            if text in kept:
                index = state.pointers[(task.task_id, task.route)]
                candidates[text] = (index, state.sequence[index])
    state.add_rerun([index for index, _ in candidates.values()])
    for text, (_, record) in sorted(candidates.items(), key=lambda c: (c[1][1].id, c[1][1].route)):
        reset = requested[text].reset_items if text in requested else False
        _rerun_task(flow, record.id, record.route, reset)
    # Terminal tasks whose transitions were taken carry on too.
    for index in sorted(state.terminal):
        record = state.sequence[index]
        if any(record.next.values()):
            state.set_term(record, False)
    state.set_output(None)
    state.set_finished(False)
    state.set_status(Status.RESUMING)


def _followers(flow: Flow, task_id: str, route: int) -> list[int]:
    """The task's latest execution, then every execution one of its executions on ``route``
    led to (orquesta's ``get_task_sequence``, which does not go further)."""
    state = flow.state
    found = [state.pointers[(task_id, route)]]
    for index, record in enumerate(state.sequence):
        for source in state.prevs.get(record.prev, {}).values():
            origin = state.sequence[source]
            if origin.id == task_id and origin.route == route:
                found.append(index)
    return found


def _collapse(flow: Flow, requested: dict[str, RerunTask]) -> set[str]:
    """Drop the requested tasks that other requested tasks lead to (a task downstream of
    another one is rerun by it)."""
    followers = {text: set(_followers(flow, t.task_id, t.route)) for text, t in requested.items()}
    if len(requested) <= 1:
        return set(followers)
    return {
        text
        for text, indexes in followers.items()
        if any(indexes - others for others in followers.values())
    }


def _rerun_task(flow: Flow, task_id: str, route: int, reset_items: bool) -> None:
    state = flow.state
    record = state.latest(task_id, route)
    assert record is not None
    state.set_term(record, False)
    staged = state.staged.get((task_id, route))
    if staged is not None and staged.completed:
        state.update_staged(staged, completed=False)
    state.remove_errors(task_id)
    if flow.graph.has_items(task_id) and staged is not None and staged.items is not None:
        item_set = state.item_sets[staged.items]
        for index, status in enumerate(item_set.statuses):
            if reset_items or status in ABENDED:
                state.set_item(staged.items, index, status=None)
    elif flow.graph.has_items(task_id):
        # Its items are gone (it succeeded or was canceled): all of them run again.
        state.stage(task_id, route, record.chain, record.prev, ready=True)
    else:
        flow.new_record(task_id, state.stage(task_id, route, record.chain, record.prev, ready=True))
    for index in _followers(flow, task_id, route):
        state.set_term(state.sequence[index], False)
