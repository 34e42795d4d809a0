"""Evaluating workflow expressions as orquesta does, against a task's context.

A :class:`Scope` says what one evaluation sees: the variables, the current task and its result,
the current item, and the state (for ``task_status``). :class:`Evaluator` renders a value (a
string, or dicts and lists of them, keys included) in a scope: each string is YAQL when it holds
``<% %>``, Jinja when it holds ``{{ }}`` or ``{% %}``. Variables are reached only through
``ctx()``; Jinja sees no variable by its bare name.

Costs: the functions are registered once per conductor; a task's variables are converted for
YAQL once per context node (cached on the state); ``succeeded()``, ``ctx(x)``, ``ctx().a.b``
and the like are called directly (see ``packhorse.expr.yaql``). Nothing converts or copies the
whole state per evaluation (orquesta serializes the state into every context it evaluates in).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from packhorse.errors import ExpressionError
from packhorse.expr.functions.workflow import WORKFLOW_FUNCTIONS, bind_scope, unbind_scope
from packhorse.expr.jinja import is_jinja, render_value
from packhorse.expr.unified import MIXED_TYPES
from packhorse.expr.yaql import PreparedData, YaqlFunctions, is_yaql, render_yaql

if TYPE_CHECKING:
    from packhorse.workflow.state import WorkflowState

_WORKFLOW_YAQL: Final = YaqlFunctions(WORKFLOW_FUNCTIONS, direct=WORKFLOW_FUNCTIONS)

_NO_RESULT: Final = object()
_MARKERS: Final = re.compile(r"<%|{{|{%")


class Scope:
    """What one evaluation sees (implements ``packhorse.expr.functions.workflow.WorkflowScope``)."""

    __slots__ = ("_item", "_prepared", "_result", "_state", "_task", "_variables")

    def __init__(
        self,
        state: WorkflowState | None,
        variables: Mapping[str, Any],
        *,
        task: tuple[str, int] | None = None,
        result: Any = _NO_RESULT,
        item: Any = None,
        prepared: PreparedData | None = None,
    ) -> None:
        self._state = state
        self._variables = variables
        self._task = task
        self._result = result
        self._item = item
        self._prepared = prepared

    def with_variables(self, variables: Mapping[str, Any]) -> Scope:
        """The same scope over other variables (publish's rolling context)."""
        return Scope(self._state, variables, task=self._task, result=self._result, item=self._item)

    def with_item(self, item: Any) -> Scope:
        return Scope(
            self._state,
            self._variables,
            task=self._task,
            result=self._result,
            item=item,
            prepared=self._prepared,
        )

    def prepared(self) -> PreparedData:
        if self._prepared is None:
            self._prepared = PreparedData(self._variables)
        return self._prepared

    # -- WorkflowScope -------------------------------------------------------------------------

    def variables(self) -> Mapping[str, Any]:
        return self._variables

    def has_private(self, name: str) -> bool:
        # orquesta's evaluation data carries the state, and the current task and item when set.
        if name == "__state":
            return self._state is not None
        if name == "__current_task":
            return self._task is not None
        return name == "__current_item" and self._item is not None

    def current_task(self) -> tuple[str, int] | None:
        return self._task

    def result(self) -> Any:
        return None if self._result is _NO_RESULT else self._result

    def task_status(self, task_id: str, route: int) -> str | None:
        found = self.task_route(task_id, route)
        if found is None or self._state is None:
            return None
        record = self._state.latest(task_id, found)
        return None if record is None else record.status

    def task_route(self, task_id: str, route: int) -> int | None:
        state = self._state
        if state is None:
            return None
        # Not on this route: look on the routes before the split, the longest first.
        while True:
            if state.latest(task_id, route) is not None:
                return route
            if route <= 0 or route >= len(state.routes):
                return None
            current = set(state.routes[route])
            for earlier in range(route - 1, -1, -1):
                if set(state.routes[earlier]) <= current:
                    route = earlier
                    break
            else:
                return None

    def item(self) -> Any:
        return self._item


class Evaluator:
    """Renders workflow expressions with orquesta's functions and the host's ``functions``."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        host = dict(functions or {})
        self._yaql = YaqlFunctions(host, parent=_WORKFLOW_YAQL) if host else _WORKFLOW_YAQL
        self._jinja_names: dict[str, Any] = {**WORKFLOW_FUNCTIONS, **host}

    def evaluate(self, value: Any, scope: Scope) -> Any:
        """``value`` rendered in ``scope``. Raises :class:`ExpressionError` with orquesta's
        message."""
        if value is None or (isinstance(value, str) and not _MARKERS.search(value)):
            return value  # nothing to evaluate (most action names)
        token = bind_scope(scope)
        try:
            return self._walk(value, scope)
        finally:
            unbind_scope(token)

    def _walk(self, value: Any, scope: Scope) -> Any:
        if isinstance(value, str):
            return self._string(value, scope)
        if isinstance(value, dict):
            rendered: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self._walk(key, scope)
                try:
                    rendered[new_key] = self._walk(item, scope)
                except TypeError as error:  # the key evaluated to something unhashable
                    raise ExpressionError(str(key), f"TypeError: {error}") from error
            return rendered
        if isinstance(value, list):
            return [self._walk(item, scope) for item in value]
        return value

    def _string(self, text: str, scope: Scope) -> Any:
        yaql_text, jinja_text = is_yaql(text), is_jinja(text)
        if yaql_text and jinja_text:
            raise ExpressionError(
                text, MIXED_TYPES, kind="ExpressionEvaluationException", summary=MIXED_TYPES
            )
        if yaql_text:
            return render_yaql(text, scope.prepared(), registered=self._yaql)
        if jinja_text:
            return render_value(text, self._jinja_names)
        return text


def error_message(error: Exception) -> str:
    """An error as orquesta logs it: ``<ExceptionClass>: <message>``."""
    if isinstance(error, ExpressionError):
        return str(error)
    return f"{type(error).__name__}: {error}"
