"""The entry point over both languages: per-string dispatch, mixed strings, syntax errors."""

from __future__ import annotations

from typing import Any

import pytest

from packhorse.errors import ExpressionError
from packhorse.expr import expression_syntax_errors, render_expression_value, render_value

CONTEXT: dict[str, Any] = {"x": 5, "items": [1, 2], "name": "world"}
MIXED = "ExpressionEvaluationException: Expression with multiple types is not supported."


def test_each_string_goes_to_its_language() -> None:
    value = {
        "<% $.name %>": ["<% $.items %>", "{{ items }}", "a {{ x }}", "b <% $.x %>", "plain", 3],
        "{{ name }}!": {"nested": "<% $.x + 1 %>"},
    }
    assert render_expression_value(value, CONTEXT) == {
        "world": [[1, 2], [1, 2], "a 5", "b 5", "plain", 3],
        "world!": {"nested": 6},
    }


def test_functions_reach_both_languages() -> None:
    def ctx(name: str) -> Any:
        return CONTEXT[name]

    functions = {"ctx": ctx}
    assert render_expression_value("<% ctx(x) %>", {}, functions=functions) == 5
    assert render_expression_value("{{ ctx('x') }}", {}, functions=functions) == 5


def test_registry_functions_reach_both_languages() -> None:
    assert render_expression_value("<% to_json_string($.items) %>", CONTEXT) == "[1,2]"
    assert render_expression_value("{{ items | to_json_string }}", CONTEXT) == "[1,2]"


@pytest.mark.parametrize(
    "value", ["<% $.x %> {{ x }}", ["ok", {"k": "{% if true %}<% 1 %>{% endif %}"}]]
)
def test_mixing_languages_in_one_string_is_an_error(value: Any) -> None:
    with pytest.raises(ExpressionError) as raised:
        render_expression_value(value, CONTEXT)
    assert str(raised.value) == MIXED


def test_jinja_behaviour_is_unchanged() -> None:
    for value in ["{{ x }}", "a {{ items }}", {"{{ name }}": ["{{ x + 1 }}"]}]:
        assert render_expression_value(value, CONTEXT) == render_value(value, CONTEXT)


def test_errors_keep_their_language() -> None:
    with pytest.raises(ExpressionError) as yaql_error:
        render_expression_value("<% $.nope %>", CONTEXT)
    assert yaql_error.value.kind == "YaqlEvaluationException"
    with pytest.raises(ExpressionError) as jinja_error:
        render_expression_value("{{ nope }}", CONTEXT)
    assert jinja_error.value.kind == "JinjaEvaluationException"


def test_syntax_errors_cover_both_languages() -> None:
    errors = expression_syntax_errors(
        {
            "<% 1 + %>": ["{{ x | }}", "fine <% $.x %> {{ y }}", "<% ( %> and <% ok %>"],
            "ok": [{"k": "{{ x }}"}, "<% $.x %>", 3, None],
        }
    )
    assert [(error.kind, error.expression) for error in errors] == [
        ("YaqlEvaluationException", "<% 1 + %>"),
        ("JinjaEvaluationException", "{{ x | }}"),
        ("ExpressionEvaluationException", "fine <% $.x %> {{ y }}"),
        ("YaqlEvaluationException", "<% ( %>"),
    ]
    assert str(errors[2]) == MIXED
    assert expression_syntax_errors(["<% $.x %>", "{{ x }}", "plain"]) == []
