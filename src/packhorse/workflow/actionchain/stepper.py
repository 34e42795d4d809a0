"""Running an action chain one node at a time, with the semantics of StackStorm's runner
(``ActionChainRunner._run_chain`` in ``contrib/runners/action_chain_runner``).

The host (the engine's workflow shell) drives it::

    state, step = start(chain, parameters, context, execution_id=..., now=...)
    while isinstance(step, RunNode):
        ... start step.action_ref with step.parameters; when it ends:
        state, step = on_result(chain, state, step.node, status, result, execution_id=..., now=...)
    # step is ChainFinished (or ChainPaused: wait for resume() or the paused node's result)

Nothing here raises for a chain-level failure: a template that does not render, a transition to
a missing node or an unknown action ends the chain with StackStorm's ``error`` and ``traceback``.
:class:`~packhorse.errors.Conflict` means the host called a step that does not fit the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from packhorse.errors import Conflict
from packhorse.workflow.actionchain.model import ChainSpec, NodeSpec
from packhorse.workflow.actionchain.render import (
    RenderFailure,
    parameters_scope,
    publish_scope,
    render_values,
    vars_scope,
)
from packhorse.workflow.actionchain.state import (
    FINISHED,
    ChainState,
    ChainStatus,
    RunningNode,
    moved,
)

Functions = Mapping[str, Any]
"""Names the host adds to every template: ``st2kv`` (a :class:`~packhorse.expr.Datastore`),
and ``system`` if it wants one other than ``st2kv.system``."""


@dataclass(frozen=True, slots=True)
class RunNode:
    """Start this node's action, then report its end with :func:`on_result`."""

    node: str
    action_ref: str
    """The node's ``ref`` as written. If no such action is registered, call
    :func:`action_missing` instead of starting anything."""
    parameters: dict[str, Any]
    """Rendered, not yet cast: cast them by the action's parameter schema, as StackStorm's
    ``cast_params`` does, and validate them; if the action cannot be started with them, call
    :func:`start_failed`."""
    context: dict[str, Any]
    """The action execution's context: ``parent`` (the chain's execution id and context) and
    ``chain`` (the node as written)."""
    notify: dict[str, Any] | None
    """Notification settings: the node's own, else the chain's; None under ``skip_notify``."""


@dataclass(frozen=True, slots=True)
class ChainPaused:
    """The chain is paused: nothing to start until :func:`resume`, or until the paused or
    pending node (an inquiry, a paused sub-workflow) reports its end through :func:`on_result`."""

    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChainFinished:
    """The chain execution ended with ``status`` and ``result``."""

    status: ChainStatus
    """``succeeded``, ``failed``, ``timeout`` or ``canceled``."""
    result: dict[str, Any]
    """``{"tasks": [...], "published": {...}}``, plus ``error`` and ``traceback`` when the
    chain itself failed; ``published`` only with ``display_published``."""


Step = RunNode | ChainPaused | ChainFinished


class NodeStatus(StrEnum):
    """What an action execution can report to the chain."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timeout"
    ABANDONED = "abandoned"
    CANCELED = "canceled"
    PAUSED = "paused"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class _Route:
    outcome: ChainStatus
    """The chain's status if nothing runs after this node."""
    follow: str | None
    """``on-success``, ``on-failure``, or None to stop."""


# How a finished node moves the chain (the status branches at the end of _run_chain's loop).
_ROUTES: Final[Mapping[NodeStatus, _Route]] = {
    NodeStatus.SUCCEEDED: _Route(ChainStatus.SUCCEEDED, "on-success"),
    NodeStatus.FAILED: _Route(ChainStatus.FAILED, "on-failure"),
    NodeStatus.ABANDONED: _Route(ChainStatus.FAILED, "on-failure"),
    NodeStatus.TIMED_OUT: _Route(ChainStatus.TIMED_OUT, "on-failure"),
    NodeStatus.CANCELED: _Route(ChainStatus.CANCELED, None),
}
# A pending node (an inquiry) ends while the chain is paused; the runner's resume branch then
# routes it, and counts a timeout as a plain failure. (A paused sub-workflow is resumed by the
# runner's main loop, and routed as usual.)
_ROUTES_AFTER_PENDING: Final[Mapping[NodeStatus, _Route]] = {
    **_ROUTES,
    NodeStatus.TIMED_OUT: _Route(ChainStatus.FAILED, "on-failure"),
}
_WAITING: Final = frozenset({NodeStatus.PAUSED, NodeStatus.PENDING})


def start(
    chain: ChainSpec,
    parameters: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    execution_id: str,
    now: str,
    config: Mapping[str, Any] | None = None,
    display_published: bool = True,
    skip_notify: Iterable[str] = (),
    notify: Mapping[str, Any] | None = None,
    functions: Functions | None = None,
) -> tuple[ChainState, RunNode | ChainFinished]:
    """Render ``vars`` and start the ``default`` node.

    ``parameters`` are the chain execution's action parameters; ``context`` its execution
    context (``user``, ``pack``, ``api_user``, ``parent``...), which node parameters see as
    ``action_context.parent`` together with ``execution_id`` (the chain's own). ``config`` is
    its pack's config (``config_context``); ``display_published`` and ``skip_notify`` are the
    runner parameters; ``notify`` the chain's own notify settings. ``now`` is an ISO 8601 time
    (StackStorm writes ``2024-05-01T10:00:00.000000+00:00``), the ``created_at`` of the first
    task.
    """
    state = ChainState(
        status=ChainStatus.RUNNING,
        parameters=dict(parameters),
        parent={"execution_id": execution_id, **context},
        config=dict(config or {}),
        display_published=display_published,
        skip_notify=tuple(skip_notify),
        notify=None if notify is None else dict(notify),
        variables={},
        published={},
        results={},
        tasks=(),
    )
    names = dict(functions or {})
    if chain.vars:
        try:
            variables = render_values(chain.vars, vars_scope(state.parameters, names))
        except RenderFailure as failure:
            message = f"Failed initializing ``vars`` in chain.. {failure.message}"
            return _finish(state, ChainStatus.FAILED, _error(message, failure.error_name, failure))
        state = replace(state, variables=variables)
    first = chain.node(chain.default)
    if first is None:
        # A templated default: StackStorm finds no such node and ends the chain, successfully.
        return _finish(state, ChainStatus.SUCCEEDED)
    return _dispatch(state, first, now, names)


def on_result(
    chain: ChainSpec,
    state: ChainState,
    node: str,
    status: str,
    result: Any,
    *,
    execution_id: str,
    now: str,
    functions: Functions | None = None,
) -> tuple[ChainState, Step]:
    """Record the end (or pause) of the running node's action and move on.

    ``status`` is the action execution's status: ``succeeded``, ``failed``, ``timeout``,
    ``abandoned`` and ``canceled`` end it; ``paused`` and ``pending`` (an inquiry) pause the
    chain until the same node reports again. ``execution_id`` is the node's execution.
    """
    running = _running(state, node)
    reported = NodeStatus(status)
    spec = _node(chain, node)
    entry = _task(
        node,
        execution_id,
        created_at=running.created_at,
        updated_at=now,
        status=reported,
        result=result,
    )
    # A node that reported paused or pending already has its entry: this one replaces it.
    tasks = (*state.tasks[:-1], entry) if running.waiting else (*state.tasks, entry)
    if reported in _WAITING:
        results = {**state.results, node: result}
        waiting = replace(running, waiting=reported.value)
        if state.status is ChainStatus.CANCELING:
            return _finish(replace(state, tasks=tasks, results=results), ChainStatus.CANCELED)
        return _pause(state, tasks=tasks, results=results, running=waiting)
    results = {**state.results, node: _seen_result(state, running, result)}
    state = replace(state, tasks=tasks, results=results, running=None)
    if state.status is ChainStatus.CANCELING:
        return _finish(state, ChainStatus.CANCELED)
    names = dict(functions or {})
    try:
        state = _publish(state, spec, result, names)
    except RenderFailure as failure:
        # StackStorm lets this exception escape the runner: the chain fails with its message.
        message = (
            f'Failed rendering value for publish parameter "{failure.key}" in task '
            f'"{node}" (template string={failure.template}): {failure.message}'
        )
        return _finish(state, ChainStatus.FAILED, _error(message, _RENDERING_FAILED, message))
    routes = _ROUTES_AFTER_PENDING if running.waiting == NodeStatus.PENDING else _ROUTES
    return _follow(chain, state, spec, routes[reported], now=now, functions=names)


def start_failed(
    chain: ChainSpec,
    state: ChainState,
    node: str,
    message: str,
    *,
    now: str,
    functions: Functions | None = None,
) -> tuple[ChainState, Step]:
    """The running node's action could not be started (its parameters do not cast or validate,
    the request was refused): a failed task, then ``on-failure``, as StackStorm does when
    scheduling the action raises. ``message`` says why."""
    running = _running(state, node)
    text = f'Failed running task "{node}".. {message}'
    error = _error(text, "ActionRunnerException", message)
    entry = _task(
        node,
        None,
        created_at=running.created_at,
        updated_at=now,
        status=NodeStatus.FAILED,
        result=error,
    )
    state = replace(
        state,
        tasks=(*state.tasks, entry),
        results={**state.results, node: error},
        running=None,
    )
    if state.status is ChainStatus.CANCELING:
        return _finish(state, ChainStatus.CANCELED)
    names = dict(functions or {})
    failed = _ROUTES[NodeStatus.FAILED]
    return _follow(chain, state, _node(chain, node), failed, now=now, functions=names)


def action_missing(chain: ChainSpec, state: ChainState, node: str) -> tuple[ChainState, Step]:
    """The running node's ``ref`` names no registered action: the chain fails at once, without
    a task entry for the node (StackStorm checks before it renders or starts anything)."""
    _running(state, node)
    ref = _node(chain, node).ref
    reason = f"Task :: {node} - Action with ref {ref} not registered."
    message = (
        f'Failed to run task "{node}". Action with reference "{ref}" doesn\'t exist.. {reason}'
    )
    error = _error(message, "InvalidActionReferencedException", reason)
    return _finish(replace(state, running=None), ChainStatus.FAILED, error)


def pause(state: ChainState) -> tuple[ChainState, ChainPaused | None]:
    """Ask the chain to pause. It pauses once the running node ends (None now; the host
    cascades the pause to a running sub-workflow, as StackStorm does); a paused chain is
    returned as it is."""
    match state.status:
        case ChainStatus.RUNNING:
            return moved(state, ChainStatus.PAUSING), None
        case ChainStatus.PAUSING:
            return state, None
        case ChainStatus.PAUSED:
            return state, ChainPaused(state.result(with_error=False))
    raise Conflict(f"an action chain that is {state.status} cannot pause")


def resume(
    chain: ChainSpec,
    state: ChainState,
    *,
    now: str,
    functions: Functions | None = None,
) -> tuple[ChainState, Step | None]:
    """Resume a paused (or pausing) chain. None when a node is still running or waiting: the
    host resumes that node's execution (a paused sub-workflow) and reports its end."""
    match state.status:
        case ChainStatus.RUNNING:
            return state, None
        case ChainStatus.PAUSING:
            return moved(state, ChainStatus.RUNNING), None
        case ChainStatus.PAUSED if state.running is not None:
            return moved(state, ChainStatus.RUNNING), None
        case ChainStatus.PAUSED:
            # The runner's resume branch routes a timed-out last node as a plain failure.
            outcome = state.outcome
            if outcome is ChainStatus.TIMED_OUT:
                outcome = ChainStatus.FAILED
            following = chain.node(state.next_node)
            state = replace(state, outcome=outcome, next_node=None)
            if outcome is ChainStatus.CANCELED or following is None:
                return _finish(state, outcome)
            return _dispatch(state, following, now, dict(functions or {}))
    raise Conflict(f"an action chain that is {state.status} cannot resume")


def cancel(state: ChainState) -> tuple[ChainState, ChainFinished | None]:
    """Ask the chain to cancel. With a node running (or paused, or pending) the chain waits
    for that node's end and then finishes ``canceled`` (None now; the host cascades the cancel
    to a sub-workflow, as StackStorm does). A chain paused between nodes is canceled at once,
    with the tasks run so far as its result."""
    if state.status is ChainStatus.CANCELING:
        return state, None
    if state.status in FINISHED:
        raise Conflict(f"an action chain that is {state.status} cannot be canceled")
    if state.running is not None:
        return moved(state, ChainStatus.CANCELING), None
    return _finish(state, ChainStatus.CANCELED)


# ---------------------------------------------------------------------------------------------

_RENDERING_FAILED: Final = "ParameterRenderingFailedException"


def _running(state: ChainState, node: str) -> RunningNode:
    running = state.running
    if running is None or running.name != node:
        expected = "no node" if running is None else f"node {running.name!r}"
        raise Conflict(f"the chain is running {expected}, not {node!r}")
    return running


def _node(chain: ChainSpec, name: str) -> NodeSpec:
    found = chain.node(name)
    if found is None:
        raise Conflict(f"the chain has no node {name!r}")
    return found


def _seen_result(state: ChainState, running: RunningNode, result: Any) -> Any:
    """What templates see under the node's name once it ends.

    After a pending node (an inquiry), StackStorm keeps the result it saw while pending and
    puts the final one under its ``result`` key, so chains read ``{{ task1.result.response }}``;
    we keep that, as packs depend on it.
    """
    if running.waiting != NodeStatus.PENDING:
        return result
    earlier = state.results.get(running.name)
    return {**earlier, "result": result} if isinstance(earlier, dict) else {"result": result}


def _publish(state: ChainState, spec: NodeSpec, result: Any, functions: Functions) -> ChainState:
    if not spec.publish:
        return state
    scope = publish_scope(
        state.parameters,
        node=spec.name,
        result=result,
        results=state.results,
        variables=state.variables,
        functions=functions,
    )
    published = render_values(spec.publish, scope)
    return replace(
        state,
        variables={**state.variables, **published},
        published={**state.published, **published},
    )


def _follow(
    chain: ChainSpec,
    state: ChainState,
    spec: NodeSpec,
    route: _Route,
    *,
    now: str,
    functions: Functions,
) -> tuple[ChainState, Step]:
    """After a node: find the next one, then finish, pause or start it."""
    following: NodeSpec | None = None
    target = _target(spec, route)
    if target:
        following = chain.node(target)
        if following is None:  # only a templated name gets here: validation refuses the others
            reason = f'Unable to find node with name "{target}".'
            message = f'Failed to get next node "{spec.name}".. {reason}'
            return _finish(
                state, ChainStatus.FAILED, _error(message, "ActionRunnerException", reason)
            )
    state = replace(state, outcome=route.outcome)
    if state.status is ChainStatus.PAUSING:
        next_node = None if following is None else following.name
        return _pause(state, next_node=next_node)
    if route.outcome is ChainStatus.CANCELED or following is None:
        return _finish(state, route.outcome)
    return _dispatch(state, following, now, functions)


def _target(spec: NodeSpec, route: _Route) -> str | None:
    match route.follow:
        case "on-success":
            return spec.on_success
        case "on-failure":
            return spec.on_failure
    return None


def _dispatch(
    state: ChainState, spec: NodeSpec, now: str, functions: Functions
) -> tuple[ChainState, RunNode | ChainFinished]:
    """Render the node's parameters and hand it to the host."""
    action_context = {"parent": state.parent}
    scope = parameters_scope(
        state.parameters,
        results=state.results,
        variables=state.variables,
        functions=functions,
        action_context=action_context,
        config=state.config,
    )
    try:
        parameters = render_values(spec.parameters, scope)
    except RenderFailure as failure:
        reason = (
            f'Failed rendering value for action parameter "{failure.key}" in task '
            f'"{spec.name}" (template string={failure.template}): {failure.message}'
        )
        message = f'Failed to run task "{spec.name}". Parameter rendering failed.. {reason}'
        return _finish(state, ChainStatus.FAILED, _error(message, _RENDERING_FAILED, reason))
    state = moved(state, ChainStatus.RUNNING, running=RunningNode(spec.name, now), next_node=None)
    notify = None if spec.name in state.skip_notify else (spec.notify or state.notify)
    step = RunNode(
        node=spec.name,
        action_ref=spec.ref,
        parameters=parameters,
        context={"parent": dict(state.parent), "chain": dict(spec.written)},
        notify=None if notify is None else dict(notify),
    )
    return state, step


def _pause(state: ChainState, **changes: Any) -> tuple[ChainState, ChainPaused]:
    state = moved(state, ChainStatus.PAUSED, **changes)
    return state, ChainPaused(state.result(with_error=False))


def _finish(
    state: ChainState, status: ChainStatus, error: Mapping[str, str] | None = None
) -> tuple[ChainState, ChainFinished]:
    state = moved(state, status, running=None, next_node=None, outcome=status, error=error)
    return state, ChainFinished(status, state.result())


def _task(
    node: str,
    execution_id: str | None,
    *,
    created_at: str,
    updated_at: str,
    status: NodeStatus,
    result: Any,
) -> dict[str, Any]:
    """One entry of the result's ``tasks`` (``_format_action_exec_result``). StackStorm's
    ``liveaction_id`` is the execution id here: Packhorse has one id per execution."""
    return {
        "id": node,
        "name": node,
        "execution_id": execution_id,
        "liveaction_id": execution_id,
        "workflow": None,
        "created_at": created_at,
        "updated_at": updated_at,
        "state": status.value,
        "result": result,
    }


def _error(message: str, exception: str, detail: object) -> dict[str, str]:
    """A top-level ``error`` and ``traceback``. StackStorm's traceback is Python's; ours is its
    last line, the exception that stopped the chain."""
    return {"error": message, "traceback": f"{exception}: {detail}"}
