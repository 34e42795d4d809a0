"""Every StackStorm and orquesta function, called directly and as a Jinja filter.

Expected values follow StackStorm's behaviour (its unit tests and its code read for edge cases);
the cases are ours. Where we differ on purpose the case says so.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from packhorse.errors import ExpressionError
from packhorse.expr import FUNCTIONS, NONE_MAGIC_VALUE, render_template, render_value

PEOPLE = {
    "people": [
        {"first": "James", "last": "d"},
        {"first": "Jacob", "last": "e"},
        {"first": "Jayden", "last": "f"},
        {"missing": "different"},
    ],
    "foo": {"bar": "baz"},
}

# (function name, positional arguments, expected result)
CALLS: list[tuple[str, tuple[Any, ...], Any]] = [
    # data
    (
        "from_json_string",
        ('{"a": "b", "c": {"f": 1, "g": true}}',),
        {"a": "b", "c": {"f": 1, "g": True}},
    ),
    ("from_json_string", ("[1, 2.5, null]",), [1, 2.5, None]),
    ("from_json_string", ('"text"',), "text"),
    ("json_parse", ("[1]",), [1]),
    (
        "from_yaml_string",
        ("---\na: b\nc:\n  d: 1\n  e: true\n",),
        {"a": "b", "c": {"d": 1, "e": True}},
    ),
    ("from_yaml_string", ("- a\n- b\n",), ["a", "b"]),
    ("yaml_parse", ("x: 1",), {"x": 1}),
    ("to_json_string", ({"b": 1, "a": [1, 2]},), '{"b": 1,"a": [1,2]}'),
    ("to_json_string", ({"b": 1, "a": 2}, 2, True), '{\n  "a": 2,\n  "b": 1\n}'),
    ("to_json_string", ("é",), '"\\u00e9"'),
    ("to_json_string", ((1, 2),), "[1,2]"),
    ("json_dump", ([1, "a"],), '[1,"a"]'),
    ("to_yaml_string", ({"a": "b", "c": [1, 2]},), "a: b\nc:\n- 1\n- 2\n"),
    ("to_yaml_string", ({"a": {"b": 1}}, 4), "a:\n    b: 1\n"),
    ("to_yaml_string", ({"k": "é"},), "k: é\n"),
    ("to_yaml_string", ((1, 2),), "- 1\n- 2\n"),
    ("yaml_dump", ([1],), "- 1\n"),
    ("json_escape", ('foo """ bar',), 'foo \\"\\"\\" bar'),
    ("json_escape", ("foo \\ bar",), "foo \\\\ bar"),
    ("json_escape", ("foo \b \f \n \r \t bar",), "foo \\b \\f \\n \\r \\t bar"),
    # Fixed: StackStorm strips every trailing quote, eating the escaped one.
    ("json_escape", ('say "hi"',), 'say \\"hi\\"'),
    ("json_escape", (5,), "5"),
    ("jsonpath_query", (PEOPLE, "people[*].first"), ["James", "Jacob", "Jayden"]),
    ("jsonpath_query", (PEOPLE, "$.people[*].last"), ["d", "e", "f"]),
    ("jsonpath_query", (PEOPLE, "foo.bar"), ["baz"]),
    ("jsonpath_query", (PEOPLE, "people[0]"), [{"first": "James", "last": "d"}]),
    ("jsonpath_query", (PEOPLE, "query_returns_no_results"), None),
    ("to_complex", ({"a": [1, None]},), '{"a": [1, null]}'),
    ("to_complex", ("text",), '"text"'),
    ("to_complex", (None,), "null"),
    ("use_none", (None,), NONE_MAGIC_VALUE),
    ("use_none", (0,), 0),
    ("use_none", ("",), ""),
    ("json", ('{"a": 1}',), {"a": 1}),
    ("json", ({"a": 1},), {"a": 1}),
    ("zip", ([1, 2], ["a", "b"]), [(1, "a"), (2, "b")]),
    ("zip", ([1, 2, 3], ["a"]), [(1, "a"), (2, None), (3, None)]),
    ("zip", ([1, 2], None), [(1, None), (2, None)]),
    ("zip", ([1, 2],), [1, 2]),
    ("zip", (), []),
    # regex
    ("regex_match", ("xyz", "x"), True),
    ("regex_match", ("xyz", "y"), False),
    ("regex_match", ("v0.10.1", r"^v(\d+\.)?(\d+\.)?(\*|\d+)$"), True),
    ("regex_match", ("XYZ", "x", True), True),
    ("regex_match", (123, "12"), True),
    ("regex_search", ("xyz", "y"), True),
    ("regex_search", ("xyz", "Y"), False),
    ("regex_search", ("xyz", "Y", True), True),
    ("regex_replace", ("xyz", "x", "y"), "yyz"),
    (
        "regex_replace",
        ("blue socks and red shoes", "(blue|white|red)", "color"),
        "color socks and color shoes",
    ),
    ("regex_replace", ("a-b", r"(\w)-(\w)", r"\2-\1"), "b-a"),
    ("regex_replace", ("ABC", "b", "x", True), "AxC"),
    (
        "regex_substring",
        ("My address is 123 Somewhere Ave. See you soon!", r"([0-9]{3} \w+ (?:Ave|St|Dr))"),
        "123 Somewhere Ave",
    ),
    (
        "regex_substring",
        (
            "Your address is 567 Elsewhere Dr. My address is 123 Somewhere Ave.",
            r"([0-9]{3} \w+ (?:Ave|St|Dr))",
            1,
        ),
        "123 Somewhere Ave",
    ),
    ("regex_substring", ("a1b2", r"[a-z]\d", -1), "b2"),
    # time
    ("to_human_time_from_seconds", (0,), "0s"),
    ("to_human_time_from_seconds", (0.1,), "0.1\u03bcs"),
    ("to_human_time_from_seconds", (56,), "56s"),
    ("to_human_time_from_seconds", (56.2,), "56s"),
    ("to_human_time_from_seconds", (456,), "7m36s"),
    ("to_human_time_from_seconds", (4560,), "1h16m0s"),
    ("to_human_time_from_seconds", (12345,), "3h25m45s"),
    ("to_human_time_from_seconds", (86400,), "1d0h0m0s"),
    # Fixed: StackStorm prints 1y12d16h36m37s (it drops whole months); 528 days is 1y163d.
    ("to_human_time_from_seconds", (45678997,), "1y163d16h36m37s"),
    ("to_human_time_from_seconds", (40 * 86400,), "40d0h0m0s"),
    # version
    ("version_compare", ("0.9.0", "0.10.0"), -1),
    ("version_compare", ("0.10.1", "0.10.0"), 1),
    ("version_compare", ("0.10.0", "0.10.0"), 0),
    ("version_compare", ("1.0.0-rc.1", "1.0.0"), -1),
    ("version_compare", ("1.0.0+build.5", "1.0.0"), 0),
    ("version_more_than", ("0.9.0", "0.10.0"), False),
    ("version_more_than", ("0.10.1", "0.10.0"), True),
    ("version_more_than", ("0.10.0", "0.10.0"), False),
    ("version_less_than", ("0.9.0", "0.10.0"), True),
    ("version_less_than", ("0.10.1", "0.10.0"), False),
    ("version_less_than", ("0.10.0", "0.10.0"), False),
    ("version_equal", ("0.9.0", "0.10.0"), False),
    ("version_equal", ("0.10.0", "0.10.0"), True),
    ("version_match", ("0.10.1", ">0.10.0"), True),
    ("version_match", ("0.1.1", ">0.10.0"), False),
    ("version_match", ("0.1.0", "<0.10.0"), True),
    ("version_match", ("1.1.0", "<0.10.0"), False),
    ("version_match", ("0.10.0", "==0.10.0"), True),
    ("version_match", ("0.10.1", "==0.10.0"), False),
    ("version_match", ("0.10.0", ">=0.10.0"), True),
    ("version_match", ("0.10.0", "<=0.9.9"), False),
    ("version_match", ("0.10.0", "!=0.10.0"), False),
    ("version_match", ("0.10.0", "0.10.0"), True),
    ("version_bump_major", ("0.10.1",), "1.0.0"),
    ("version_bump_minor", ("0.10.1",), "0.11.0"),
    ("version_bump_patch", ("0.10.1",), "0.10.2"),
    ("version_bump_patch", ("1.2.3-rc.1+b",), "1.2.4"),
    ("version_strip_patch", ("0.10.1",), "0.10"),
    # path
    ("basename", ("/some/path/to/file.txt",), "file.txt"),
    ("basename", ("/some/path/to/dir",), "dir"),
    ("basename", ("/some/path/to/dir/",), ""),
    ("dirname", ("/some/path/to/file.txt",), "/some/path/to"),
    ("dirname", ("/some/path/to/dir",), "/some/path/to"),
    ("dirname", ("/some/path/to/dir/",), "/some/path/to/dir"),
    ("basename", ("file",), "file"),
    ("dirname", ("file",), ""),
]


def _case_id(case: tuple[str, tuple[Any, ...], Any]) -> str:
    return f"{case[0]}{case[1]!r}"[:80]


@pytest.mark.parametrize(("name", "arguments", "expected"), CALLS, ids=map(_case_id, CALLS))
def test_function(name: str, arguments: tuple[Any, ...], expected: Any) -> None:
    assert FUNCTIONS[name](*arguments) == expected


@pytest.mark.parametrize(("name", "arguments", "expected"), CALLS, ids=map(_case_id, CALLS))
def test_function_as_filter_and_global(
    name: str, arguments: tuple[Any, ...], expected: Any
) -> None:
    names = [f"a{index}" for index in range(len(arguments))]
    context = dict(zip(names, arguments, strict=True))
    if arguments:
        rest = "".join(f", {n}" for n in names[1:])
        as_filter = f"{{{{ a0 | {name}({rest.lstrip(', ')}) }}}}"
        assert render_value(as_filter, context) == expected
    as_global = f"{{{{ {name}({', '.join(names)}) }}}}"
    assert render_value(as_global, context) == expected


def test_every_documented_function_is_registered() -> None:
    stackstorm = {
        "to_json_string",
        "to_yaml_string",
        "from_json_string",
        "from_yaml_string",
        "to_complex",
        "use_none",
        "json_escape",
        "jsonpath_query",
        "regex_match",
        "regex_replace",
        "regex_search",
        "regex_substring",
        "to_human_time_from_seconds",
        "version_compare",
        "version_more_than",
        "version_less_than",
        "version_equal",
        "version_match",
        "version_bump_major",
        "version_bump_minor",
        "version_bump_patch",
        "version_strip_patch",
        "basename",
        "dirname",
    }
    orquesta = {"json", "zip", "json_parse", "json_dump", "yaml_parse", "yaml_dump"}
    assert set(FUNCTIONS) == stackstorm | orquesta


def test_filters_render_as_strings_like_stackstorm() -> None:
    # StackStorm's own tests render through a template and read the text back.
    assert render_template('{{ v | version_compare("0.10.0") }}', {"v": "0.9.0"}) == "-1"
    assert render_template('{{ k | regex_match("x") }}', {"k": "xyz"}) == "True"
    assert json.loads(render_template("{{ o | to_json_string }}", {"o": PEOPLE})) == PEOPLE
    assert yaml.safe_load(render_template("{{ o | to_yaml_string }}", {"o": PEOPLE})) == PEOPLE


# (template, context, the error class named in the message)
FAILURES: list[tuple[str, dict[str, Any], str]] = [
    ("{{ s | from_json_string }}", {"s": "{bad"}, "JSONDecodeError"),
    ("{{ s | from_json_string }}", {"s": "NaN"}, "ValueError"),  # orjson refuses NaN
    ("{{ s | from_yaml_string }}", {"s": "a: [b"}, "ParserError"),
    ("{{ o | to_json_string }}", {"o": {1, 2}}, "TypeError"),
    ("{{ o | jsonpath_query('[[[') }}", {"o": {}}, "JsonPathParserError"),
    ("{{ s | regex_match('(') }}", {"s": "x"}, "error"),
    ("{{ s | regex_substring('z') }}", {"s": "abc"}, "IndexError"),
    ("{{ s | regex_substring('a', 1) }}", {"s": "abc"}, "IndexError"),
    ("{{ s | to_human_time_from_seconds }}", {"s": "stuff"}, "TypeError"),
    ("{{ v | version_compare('1.0') }}", {"v": "1.0.0"}, "ValueError"),
    ("{{ v | version_bump_major }}", {"v": "v1.0.0"}, "ValueError"),
    ("{{ v | version_match('~1.0.0') }}", {"v": "1.0.0"}, "ValueError"),
    ("{{ v | version_compare('1.0.0') }}", {"v": 1}, "ValueError"),
    ("{{ json(5) }}", {}, "TypeError"),
]


@pytest.mark.parametrize(("template", "context", "error_class"), FAILURES)
def test_function_failures_are_expression_errors(
    template: str, context: dict[str, Any], error_class: str
) -> None:
    with pytest.raises(ExpressionError) as raised:
        render_value(template, context)
    assert raised.value.expression == template
    assert raised.value.reason.startswith(f"{error_class}: ")
    assert raised.value.message.startswith(
        f"JinjaEvaluationException: Unable to evaluate expression '{template}'. {error_class}: "
    )
