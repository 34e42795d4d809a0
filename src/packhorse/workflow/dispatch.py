"""The tasks to dispatch now, with their actions and inputs rendered (reference/orquesta.md §2.1
step 3, conformance FORMAT.md §3-4).

Staged tasks that are ready are rendered in the scope of their context: action, input, delay,
and for with-items tasks the items, the concurrency and the items to start now (those never
started, up to the concurrency minus the items still active). A rendering error is logged for
its task and fails the workflow; nothing is handed out then.

orquesta renders every item of a with-items task at every query. Here all items are rendered
when the task's items are allocated (its first query, so a bad item fails the workflow at the
same moment as in orquesta), and later queries render only the items they hand out: a
10,000-item task with a concurrency of 10 would otherwise render 10 million inputs.
"""

from __future__ import annotations

from typing import Any

from packhorse.errors import ExpressionError
from packhorse.workflow.evaluation import Scope
from packhorse.workflow.flow import Flow
from packhorse.workflow.messages import NextItem, NextTask
from packhorse.workflow.records import StagedRecord, plain
from packhorse.workflow.spec import TaskSpec
from packhorse.workflow.statuses import RUNNING, Status


class RenderError(Exception):
    """A task's values render to the wrong type (orquesta raises a TypeError)."""


def next_tasks(flow: Flow) -> list[NextTask]:
    """The tasks to dispatch now, sorted by (task id, route); may allocate items and fail the
    workflow (see the module docstring)."""
    state = flow.state
    ready = [state.staged[key] for key in sorted(state.ready, key=state.ready.__getitem__)]
    remediation = []
    if state.status == Status.FAILED:
        remediation = [staged for staged in ready if staged.run_on_fail]
    if state.status not in RUNNING and not remediation:
        return []
    found: list[NextTask] = []
    failed = False
    for staged in remediation or ready:
        try:
            task = _render(flow, staged)
        except (ExpressionError, RenderError) as error:
            failed = True
            message = str(error) if isinstance(error, ExpressionError) else f"TypeError: {error}"
            flow.log_error(message, task_id=staged.id, route=staged.route)
            continue
        if task is not None:
            found.append(task)
    if failed:
        flow.fail()
        return []
    return sorted(found, key=lambda task: (task.task_id, task.route))


def _render(flow: Flow, staged: StagedRecord) -> NextTask | None:
    spec = flow.graph.task_spec(staged.id)
    if spec is None:  # an engine command: run by the conductor itself, never handed out
        return None
    scope = flow.scope(staged.chain, task=staged.key)
    if spec.with_items is not None:
        return _render_items(flow, staged, spec, scope)
    action = flow.evaluate(spec.action, scope)
    task_input = flow.evaluate(_input(spec), scope)
    delay = _delay(flow, staged, spec, scope)
    return NextTask(staged.id, staged.route, action, plain(task_input), delay)


def _input(spec: TaskSpec) -> Any:
    """The task's input as orquesta has it: None when the task has none."""
    if isinstance(spec.input, str):
        return spec.input
    return dict(spec.input) if spec.input else None


def _delay(flow: Flow, staged: StagedRecord, spec: TaskSpec, scope: Scope) -> int:
    delay = 0
    if spec.delay:
        value = flow.evaluate(spec.delay, scope) if isinstance(spec.delay, str) else spec.delay
        if not isinstance(value, int):
            raise RenderError("The value of task delay is not type of integer.")
        delay = value
    if staged.retry is not None:  # a retried task waits the retry delay instead
        delay = staged.retry.get("delay") or 0
    return max(delay, 0)


def _items(flow: Flow, spec: TaskSpec, scope: Scope) -> list[Any]:
    """The items, each a dict of the item names when the task names them (``x, y in ...``)."""
    assert spec.with_items is not None
    expression = spec.with_items.items
    if isinstance(expression, str):
        expression = expression.strip()
    items = flow.evaluate(expression, scope)
    if not isinstance(items, list):
        raise RenderError(f'The value of "{expression}" is not type of list.')
    names = spec.with_items.names
    if not names:
        return items
    keyed = []
    for item in items:
        if isinstance(item, list | tuple):
            keyed.append(dict(zip(names, item, strict=False)))
        elif len(names) == 1:
            keyed.append({names[0]: item})
        else:
            keyed.append(item)
    return keyed


def _render_item(flow: Flow, spec: TaskSpec, scope: Scope, item: Any) -> tuple[Any, Any]:
    item_scope = scope.with_item(item)
    return flow.evaluate(spec.action, item_scope), flow.evaluate(_input(spec), item_scope)


def _render_items(
    flow: Flow, staged: StagedRecord, spec: TaskSpec, scope: Scope
) -> NextTask | None:
    state = flow.state
    assert spec.with_items is not None
    allocating = staged.items is None
    # The items are rendered once per staging: a with-items task's context does not change
    # while its items run, and rendering a long list at every query would make the task
    # quadratic in its items. (Kept in memory only; a reloaded state renders them again.)
    items = None if allocating else state.items_cache.get(staged.order)
    if items is None:
        items = _items(flow, spec, scope)
        state.items_cache[staged.order] = items
    if allocating:
        rendered = {
            index: _render_item(flow, spec, scope, item) for index, item in enumerate(items)
        }
    else:
        rendered = state.rendered_items.setdefault(staged.order, {})
    delay = _delay(flow, staged, spec, scope)
    concurrency = spec.with_items.concurrency
    if concurrency is not None:
        concurrency = flow.evaluate(concurrency, scope)
    if allocating:
        state.update_staged(staged, items=state.new_items(len(items)))
        state.rendered_items[staged.order] = rendered
    assert staged.items is not None
    item_set = state.item_sets[staged.items]
    if isinstance(concurrency, int) and concurrency <= 0:
        concurrency = 1  # concurrency below 1 would never schedule anything
    wanted = item_set.count
    if concurrency is not None:
        wanted = max(concurrency - item_set.active(), 0)
    chosen = item_set.not_started(wanted)
    if item_set.count and not chosen:
        return None
    started = []
    for index in chosen:
        if index not in rendered:
            rendered[index] = _render_item(flow, spec, scope, items[index])
        action, item_input = rendered[index]
        if item_set.results[index] is not None:
            state.set_item(staged.items, index, result=None)
        started.append(NextItem(index, action, plain(item_input)))
    return NextTask(
        staged.id,
        staged.route,
        None,
        None,
        delay,
        items_count=item_set.count,
        concurrency=concurrency,
        items=tuple(started),
    )
