"""StackStorm's renderings: action parameters (render_param_template) and rule criteria
patterns (render_criteria_pattern)."""

from __future__ import annotations

from typing import Any

import pytest

from packhorse.errors import ExpressionError
from packhorse.expr import (
    NONE_MAGIC_VALUE,
    prepare_criteria_pattern,
    render_criteria_pattern,
    render_param_template,
)

CONTEXT: dict[str, Any] = {
    "trigger": {"body": {"msg": "hi", "n": 5, "tags": ["a", "b"], "none": None}},
    "count": 3,
    "flag": True,
    "items": [1, 2],
    "obj": {"k": "v"},
    "quote": 'say "hi"',
    "path": "C:\\new",
    "nothing": None,
    "action_context": {"user": "stanley", "parent": {"execution_id": "e1"}},
    "config_context": {"url": "http://x"},
}

# (value, expected)
PARAMS: list[tuple[Any, Any]] = [
    # strings render to strings; the caller casts them by type
    ("{{ count }}", "3"),
    ("{{ items }}", "[1, 2]"),
    ("{{ obj }}", "{'k': 'v'}"),
    ("{{ flag }}", "True"),
    ("{{ nothing }}", "None"),
    ("{{ nothing | use_none }}", NONE_MAGIC_VALUE),
    ("{{ trigger.body.none | use_none }}", NONE_MAGIC_VALUE),
    ("echo {{ trigger.body.msg }}", "echo hi"),
    ("echo {{ trigger.body.msg }}\n", "echo hi"),  # Jinja drops one trailing newline
    ("{{ action_context.parent.execution_id }}", "e1"),
    ("{{ config_context.url }}/api", "http://x/api"),
    ("{% for i in items %}{{ i }},{% endfor %}", "1,2,"),
    ("{{ items | to_json_string }}", "[1,2]"),
    # strings that are not templates, or do not parse, stay as they are
    ("plain", "plain"),
    ("docker ps --format '{{.Names}}'", "docker ps --format '{{.Names}}'"),
    ("{{ unclosed", "{{ unclosed"),
    ("", ""),
    # other values pass through
    (5, 5),
    (None, None),
    (True, True),
    # lists and dicts: an item that is exactly {{name}} keeps its type; others are strings
    (["{{count}}", "{{ count }}", "x{{count}}"], [3, "3", "x3"]),
    (
        {"a": "{{items}}", "b": "{{obj}}", "c": "{{nothing}}"},
        {"a": [1, 2], "b": {"k": "v"}, "c": None},
    ),
    ({"nested": [{"x": "{{flag}}"}], "n": 1}, {"nested": [{"x": True}], "n": 1}),
    ({"{{ trigger.body.msg }}": "k"}, {"hi": "k"}),
    # values with quotes and backslashes survive (StackStorm's JSON round trip breaks them)
    (["{{ quote }}", "{{ path }}"], ['say "hi"', "C:\\new"]),
    (["{{quote}}"], ['say "hi"']),
    (["no template", 1, None], ["no template", 1, None]),
]


@pytest.mark.parametrize(("value", "expected"), PARAMS, ids=[repr(case[0]) for case in PARAMS])
def test_render_param_template(value: Any, expected: Any) -> None:
    result = render_param_template(value, CONTEXT)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("{{ missing }}", "UndefinedError: 'missing' is undefined"),
        (["{{missing}}"], "UndefinedError: 'missing' is undefined"),
        ({"a": "{{ count / 0 }}"}, "ZeroDivisionError: division by zero"),
        ("{{ ''.__class__ }}", "SecurityError: access to attribute '__class__'"),
    ],
)
def test_render_param_template_errors(value: Any, reason: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        render_param_template(value, CONTEXT)
    assert raised.value.reason.startswith(reason)


def test_lenient_param_rendering() -> None:
    assert render_param_template("a{{ missing }}b", {}, strict=False) == "ab"


PATTERNS: list[tuple[Any, Any]] = [
    ("{{ trigger.body.n }}", 5),
    ("  {{ trigger.body.n }}  ", 5),  # spaces around one expression: still typed (JSON)
    ("{{ trigger.body.msg }}", "hi"),
    ("{{ trigger.body.tags }}", ["a", "b"]),
    ("{{ trigger.body.none }}", None),
    ("{{ count + 1 }}", 4),  # StackStorm applies to_complex to "1" only and fails here
    ("{{ zip(items, items) }}", [[1, 1], [2, 2]]),  # tuples become lists, as through JSON
    ("{{ '5' }}", "5"),
    ("pre{{ trigger.body.msg }}post", "prehipost"),
    ("{{ count }} {{ count }}", "3 3"),
    ("{% if flag %}yes{% endif %}", "yes"),
    ("critical", "critical"),
    ("", ""),
    (None, None),
    (5, 5),
    (["{{ count }}"], ["{{ count }}"]),  # non-string patterns are not rendered
]


@pytest.mark.parametrize(("pattern", "expected"), PATTERNS, ids=[repr(c[0]) for c in PATTERNS])
def test_render_criteria_pattern(pattern: Any, expected: Any) -> None:
    result = render_criteria_pattern(pattern, CONTEXT)
    assert result == expected
    assert type(result) is type(expected)


TEMPLATE_PATTERNS = [
    (pattern, expected)
    for pattern, expected in [
        *PATTERNS,
        ("{{ 1.5 }}", 1.5),
        ("{{ true }}", True),
        ("{{ {'a': (1, 2)} }}", {"a": [1, 2]}),
    ]
    if isinstance(pattern, str) and ("{{" in pattern or "{%" in pattern)
]


@pytest.mark.parametrize(
    ("pattern", "expected"), TEMPLATE_PATTERNS, ids=[repr(c[0]) for c in TEMPLATE_PATTERNS]
)
def test_a_prepared_criteria_pattern_renders_as_the_function_does(
    pattern: str, expected: Any
) -> None:
    prepared = prepare_criteria_pattern(pattern)
    for _ in range(2):  # compiled once, rendered many times
        result = prepared.render(CONTEXT)
        assert result == expected == render_criteria_pattern(pattern, CONTEXT)
        assert type(result) is type(expected)


def test_preparing_a_pattern_reports_syntax_errors_and_rendering_the_rest() -> None:
    with pytest.raises(ExpressionError, match="TemplateSyntaxError"):
        prepare_criteria_pattern("{{ count ) }}")
    with pytest.raises(ExpressionError, match="No filter named"):
        prepare_criteria_pattern("{{ count | no_such_filter }}")
    prepared = prepare_criteria_pattern("{{ missing }}")
    with pytest.raises(ExpressionError, match="UndefinedError"):
        prepared.render(CONTEXT)
    with pytest.raises(ExpressionError, match="ValueError"):
        prepare_criteria_pattern("{{ nan_value }}").render({"nan_value": float("nan")})


def test_criteria_pattern_errors() -> None:
    with pytest.raises(ExpressionError, match="UndefinedError"):
        render_criteria_pattern("{{ missing }}", CONTEXT)
    with pytest.raises(ExpressionError, match="TypeError"):
        render_criteria_pattern("{{ obj.keys }}", CONTEXT)  # a method is not JSON
