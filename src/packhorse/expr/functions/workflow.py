"""orquesta's workflow functions: ``ctx``, ``result``, ``succeeded``, ``failed``, ``completed``,
``task_status`` and ``item`` (reference/orquesta.md §1.8).

They answer about the evaluation in progress: the variables of the current task, its result,
the status of tasks on its route, the current with-items item. The workflow engine describes
that evaluation with a :class:`WorkflowScope` and makes it current with :func:`scope_bound`
for the length of one rendering; the functions read it from there. Binding through a context
variable, rather than registering fresh closures for each rendering, lets YAQL and Jinja
register these functions once (YAQL spends more time registering a function than calling it).

Failures raise exceptions named as orquesta names them, because the name is part of the message
users see: ``YaqlEvaluationException: Unable to evaluate expression '<% ctx(x) %>'.
VariableUndefinedError: The variable "x" is undefined.``
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, Final, Protocol

__all__ = [
    "COMPLETED_STATUSES",
    "WORKFLOW_FUNCTIONS",
    "ExpressionEvaluationException",
    "VariableInaccessibleError",
    "VariableUndefinedError",
    "WorkflowScope",
    "bind_scope",
    "current_scope",
    "scope_bound",
    "unbind_scope",
]

UNSET: Final = "null"
"""What ``task_status`` gives for a task that has not run (orquesta's unset status)."""

COMPLETED_STATUSES: Final = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})


class ExpressionEvaluationException(Exception):
    """A workflow function cannot answer (no current task, an item without the key...)."""


class VariableUndefinedError(Exception):
    def __init__(self, name: Any) -> None:
        super().__init__(f'The variable "{name}" is undefined.')


class VariableInaccessibleError(Exception):
    def __init__(self, name: Any) -> None:
        super().__init__(f'The variable "{name}" is for internal use and inaccessible.')


class WorkflowScope(Protocol):
    """What the workflow functions need to know about the evaluation in progress."""

    def variables(self) -> Mapping[str, Any]:
        """The task's context: every variable, private ones (``__`` names) included."""

    def has_private(self, name: str) -> bool:
        """Whether orquesta's evaluation data holds the private ``name`` (``__state``,
        ``__current_task``...), so that ``ctx(name)`` is refused rather than undefined."""

    def current_task(self) -> tuple[str, int] | None:
        """The (task id, route) being evaluated, None for workflow input, vars and output."""

    def result(self) -> Any:
        """The current task's result (None before it completes)."""

    def task_status(self, task_id: str, route: int) -> str | None:
        """The latest status of ``task_id`` on ``route``, falling back to the routes before
        the split; None when the task has not run."""

    def task_route(self, task_id: str, route: int) -> int | None:
        """The route :meth:`task_status` answers from: ``route`` when ``task_id`` has run on
        it, else the longest route before the split on which it has; None when none has."""

    def item(self) -> Any:
        """The current with-items item, None outside with-items."""


_SCOPE: ContextVar[WorkflowScope | None] = ContextVar("packhorse_workflow_scope", default=None)


@contextmanager
def scope_bound(scope: WorkflowScope) -> Iterator[None]:
    """Make ``scope`` the one the workflow functions answer about, for the ``with`` block."""
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def bind_scope(scope: WorkflowScope) -> Token[WorkflowScope | None]:
    """:func:`scope_bound` without the context manager's cost (hot paths): pass the token
    to :func:`unbind_scope` when done."""
    return _SCOPE.set(scope)


def unbind_scope(token: Token[WorkflowScope | None]) -> None:
    _SCOPE.reset(token)


def current_scope() -> WorkflowScope | None:
    """The evaluation in progress, for host functions that need it (StackStorm's ``task()``
    reads the current task); None outside workflow evaluations."""
    return _SCOPE.get()


def _scope() -> WorkflowScope:
    scope = _SCOPE.get()
    if scope is None:
        raise ExpressionEvaluationException("The context is not set.")
    return scope


def _current_task(scope: WorkflowScope) -> tuple[str, int]:
    current = scope.current_task()
    if current is None:
        raise ExpressionEvaluationException("The current task is not set in the context.")
    return current


def ctx(key: Any = None) -> Any:
    """``ctx()``: every variable but the private ones; ``ctx(name)``: one variable."""
    scope = _scope()
    variables = scope.variables()
    if not key:
        return {name: value for name, value in variables.items() if not name.startswith("__")}
    if isinstance(key, str) and key.startswith("__"):
        if key in variables or scope.has_private(key):
            raise VariableInaccessibleError(key)
        raise VariableUndefinedError(key)
    try:
        return variables[key]
    except (KeyError, TypeError):
        raise VariableUndefinedError(key) from None


def result() -> Any:
    """The current task's result; for a with-items task the list of item results."""
    scope = _scope()
    _current_task(scope)
    return scope.result()


def task_status(task_id: Any, route: Any = None) -> str:
    """The status of a task on the current route (or ``route``); ``'null'`` if it has not run."""
    scope = _scope()
    if route is None:
        current = scope.current_task()
        route = current[1] if current is not None else 0
    status = scope.task_status(str(task_id), int(route))
    return UNSET if status is None else status


def _current_status() -> str:
    scope = _scope()
    task_id, route = _current_task(scope)
    status = scope.task_status(task_id, route)
    return UNSET if status is None else status


def succeeded() -> bool:
    return _current_status() == "succeeded"


def failed() -> bool:
    return _current_status() == "failed"


def completed() -> bool:
    return _current_status() in COMPLETED_STATUSES


def item(key: Any = None) -> Any:
    """``item()``: the current item; ``item(name)``: one key of a mapping item."""
    current = _scope().item()
    if not key:
        return current
    if not isinstance(current, Mapping):
        raise ExpressionEvaluationException("Item is not type of collections.abc.Mapping.")
    if key not in current:
        raise ExpressionEvaluationException(f'Item does not have key "{key}".')
    return current[key]


WORKFLOW_FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    "ctx": ctx,
    "result": result,
    "succeeded": succeeded,
    "failed": failed,
    "completed": completed,
    "task_status": task_status,
    "item": item,
}
"""The workflow functions by name (``json`` and ``zip`` are in the shared registry)."""
