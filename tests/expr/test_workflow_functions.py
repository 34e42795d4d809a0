"""orquesta's workflow functions (ctx, result, succeeded...) in YAQL and Jinja, bound to a scope,
and the YAQL function sets that register them once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packhorse.errors import ExpressionError
from packhorse.expr import render_template, render_value, render_yaql
from packhorse.expr.functions.workflow import WORKFLOW_FUNCTIONS, scope_bound
from packhorse.expr.yaql import PreparedData, YaqlFunctions

REGISTERED = YaqlFunctions(WORKFLOW_FUNCTIONS, direct=WORKFLOW_FUNCTIONS)


class FakeScope:
    def __init__(
        self,
        variables: Mapping[str, Any],
        *,
        task: tuple[str, int] | None = ("task1", 0),
        result: Any = None,
        item: Any = None,
        statuses: Mapping[tuple[str, int], str] | None = None,
    ) -> None:
        self._variables = variables
        self._task = task
        self._result = result
        self._item = item
        self._statuses = dict(statuses or {})

    def variables(self) -> Mapping[str, Any]:
        return self._variables

    def has_private(self, name: str) -> bool:
        return name == "__state"

    def current_task(self) -> tuple[str, int] | None:
        return self._task

    def result(self) -> Any:
        return self._result

    def task_status(self, task_id: str, route: int) -> str | None:
        return self._statuses.get((task_id, route))

    def task_route(self, task_id: str, route: int) -> int | None:
        return route if (task_id, route) in self._statuses else None

    def item(self) -> Any:
        return self._item


def yaql(text: str, scope: FakeScope) -> Any:
    with scope_bound(scope):
        return render_yaql(text, PreparedData(scope.variables()), registered=REGISTERED)


def jinja(text: str, scope: FakeScope) -> Any:
    with scope_bound(scope):
        return render_value(text, WORKFLOW_FUNCTIONS)


SCOPE = FakeScope(
    {"x": 1, "d": {"a": {"b": 2}}, "__hidden": 3, "s": "<% ctx(x) %>", "j": "{{ ctx('x') }}"},
    result={"out": "hi"},
    item={"name": "fee"},
    statuses={("task1", 0): "succeeded", ("task2", 0): "failed"},
)


@pytest.mark.parametrize(
    ("yaql_text", "jinja_text", "expected"),
    [
        ("<% ctx(x) %>", "{{ ctx('x') }}", 1),
        ("<% ctx('x') %>", '{{ ctx("x") }}', 1),
        ("<% ctx().d.a.b %>", "{{ ctx().d.a.b }}", 2),
        ("<% ctx().keys().len() %>", "{{ ctx() | length }}", 4),  # __hidden is left out
        # a value that is an expression of the same language is evaluated in turn
        ("<% ctx(s) %>", "{{ ctx('j') }}", 1),
        ("<% result().out %>", "{{ result().out }}", "hi"),
        ("<% succeeded() %>", "{{ succeeded() }}", True),
        ("<% failed() %>", "{{ failed() }}", False),
        ("<% completed() %>", "{{ completed() }}", True),
        ("<% task_status(task2) %>", "{{ task_status('task2') }}", "failed"),
        ("<% task_status(task3) %>", "{{ task_status('task3') }}", "null"),
        ("<% item(name) %>", "{{ item('name') }}", "fee"),
        ("<% item() %>", "{{ item() }}", {"name": "fee"}),
        ("<% not succeeded() %>", "{{ not succeeded() }}", False),
    ],
)
def test_functions_in_both_languages(yaql_text: str, jinja_text: str, expected: Any) -> None:
    assert yaql(yaql_text, SCOPE) == expected
    assert jinja(jinja_text, SCOPE) == expected


def test_functions_are_jinja_filters_too() -> None:
    with scope_bound(SCOPE):
        assert render_template("{{ 'task2' | task_status }}", {}) == "failed"
        assert render_template("{{ 'x' | ctx }}", {}) == "1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "<% ctx(nope) %>",
            "YaqlEvaluationException: Unable to evaluate expression '<% ctx(nope) %>'. "
            'VariableUndefinedError: The variable "nope" is undefined.',
        ),
        (
            '<% ctx("__hidden") %>',
            "YaqlEvaluationException: Unable to evaluate expression '<% ctx(\"__hidden\") %>'. "
            'VariableInaccessibleError: The variable "__hidden" is for internal use and '
            "inaccessible.",
        ),
        (
            '<% ctx("__state") %>',
            "YaqlEvaluationException: Unable to evaluate expression '<% ctx(\"__state\") %>'. "
            'VariableInaccessibleError: The variable "__state" is for internal use and '
            "inaccessible.",
        ),
        (
            "<% ctx().nope %>",
            "YaqlEvaluationException: Unable to resolve key 'nope' in expression "
            "'<% ctx().nope %>' from context.",
        ),
        (
            "<% item(y) %>",
            "YaqlEvaluationException: Unable to evaluate expression '<% item(y) %>'. "
            'ExpressionEvaluationException: Item does not have key "y".',
        ),
    ],
)
def test_orquesta_messages(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        yaql(text, SCOPE)
    assert str(raised.value) == message


def test_no_current_task() -> None:
    outside = FakeScope({"x": 1}, task=None)
    with pytest.raises(ExpressionError, match=r"The current task is not set in the context\."):
        yaql("<% result() %>", outside)
    with pytest.raises(ExpressionError, match=r"The current task is not set in the context\."):
        jinja("{{ succeeded() }}", outside)
    assert yaql("<% task_status(task1) %>", outside) == "null"  # route 0, not found


def test_item_outside_with_items() -> None:
    scope = FakeScope({}, item=None)
    assert yaql("<% item() %>", scope) is None
    with pytest.raises(ExpressionError, match=r"Item is not type of collections\.abc\.Mapping\."):
        yaql("<% item(x) %>", scope)


def test_functions_need_a_scope() -> None:
    with pytest.raises(ExpressionError, match=r"The context is not set\."):
        render_yaql("<% ctx() %>", {}, registered=REGISTERED)


def test_a_function_set_hides_its_parents_names() -> None:
    child = YaqlFunctions({"ctx": lambda name=None: "host"}, parent=REGISTERED)
    assert "ctx" not in child.direct
    assert "succeeded" in child.direct
    with scope_bound(SCOPE):
        assert render_yaql("<% ctx(x) %>", {}, registered=child) == "host"
        assert render_yaql("<% succeeded() %>", {}, registered=child) is True


VALUES = st.recursive(
    st.none() | st.integers() | st.sampled_from(["s", "<% 1 %>"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner),
    max_leaves=8,
)


def _outcome(render: Any) -> Any:
    try:
        return ("value", render())
    except ExpressionError as error:
        return ("error", str(error))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("abc"), VALUES), st.lists(st.sampled_from("abc"), max_size=3)
)
def test_direct_calls_agree_with_yaql(variables: dict[str, Any], keys: list[str]) -> None:
    """The shortcut that calls ctx() directly gives what yaql's own evaluation gives."""
    scope = FakeScope(variables)
    text = "<% " + ".".join(["ctx()", *keys]) + " %>"
    plain_set = YaqlFunctions(WORKFLOW_FUNCTIONS)  # no direct calls: yaql does everything
    with scope_bound(scope):
        direct = _outcome(lambda: render_yaql(text, variables, registered=REGISTERED))
        through_yaql = _outcome(lambda: render_yaql(text, variables, registered=plain_set))
    assert direct == through_yaql
