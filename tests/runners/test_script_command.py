"""The local-shell-script command line: StackStorm's named and positional argument rules."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from packhorse.runners.local import script_arguments, script_command

SCHEMA: dict[str, Any] = {
    "name": {"type": "string"},
    "count": {"type": "integer"},
    "verbose": {"type": "boolean"},
    "first": {"type": "string", "position": 0},
    "second": {"type": "integer", "position": 1},
    "flag": {"type": "boolean", "position": 2},
    "items": {"type": "array", "position": 3},
    "data": {"type": "object", "position": 4},
}

CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("no parameters", {}, {}, []),
    ("named string", {"name": {"type": "string"}}, {"name": "a b"}, ["--name=a b"]),
    ("named None and empty skipped", {}, {"a": None, "b": ""}, []),
    ("named true is a flag, false left out", {}, {"yes": True, "no": False}, ["--yes"]),
    ("named number", {}, {"n": 0, "f": 1.5}, ["--n=0", "--f=1.5"]),
    ("named list is Python's str", {}, {"tags": ["a", "b"]}, ["--tags=['a', 'b']"]),
    ("named dict is Python's str", {}, {"d": {"k": 1}}, ["--d={'k': 1}"]),
    ("named keep their order", {}, {"z": "1", "a": "2"}, ["--z=1", "--a=2"]),
    ("shell characters", {}, {"q": 'it\'s $HOME `x` "y"'}, ['--q=it\'s $HOME `x` "y"']),
    (
        "positional by type",
        SCHEMA,
        {
            "first": "one two",
            "second": 7,
            "flag": True,
            "items": ["a", 1, "c"],
            "data": {"k": "v", "n": [1, 2]},
            "name": "n",
        },
        ["--name=n", "one two", "7", "1", "a,1,c", '{"k":"v","n":[1,2]}'],
    ),
    (
        "positional missing values keep their place",
        SCHEMA,
        {"first": None, "second": None, "flag": None, "items": None, "data": None},
        ["", "", "", "", ""],
    ),
    (
        "positional falsy values",
        SCHEMA,
        {"first": "", "second": 0, "flag": False, "items": [], "data": {}},
        ["", "0", "0", "", ""],
    ),
    (
        "positions sorted, gaps closed",
        {"b": {"type": "string", "position": 5}, "a": {"type": "string", "position": 2}},
        {"b": "B", "a": "A"},
        ["A", "B"],
    ),
    (
        "declared positional without a value",
        {"a": {"type": "string", "position": 0}},
        {},
        [""],
    ),
    ("untyped positional", {"u": {"position": 0}}, {"u": 0}, ["0"]),
    ("untyped positional false", {"u": {"position": 0}}, {"u": False}, [""]),
    ("null positional", {"u": {"type": "null", "position": 0}}, {"u": "x"}, [""]),
    ("number positional", {"u": {"type": "number", "position": 0}}, {"u": 2.5}, ["2.5"]),
    (
        "object positional keeps non-ASCII",
        {"o": {"type": "object", "position": 0}},
        {"o": {"é": "ü"}},
        ['{"é":"ü"}'],
    ),
]


@pytest.mark.parametrize(
    ("schema", "parameters", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_script_arguments(
    schema: dict[str, Any], parameters: dict[str, Any], expected: list[str]
) -> None:
    assert script_arguments(parameters, schema) == expected


def test_kwarg_op_prefixes_named_arguments_only() -> None:
    schema = {"p": {"type": "string", "position": 0}}
    arguments = script_arguments({"p": "x", "n": "y", "f": True}, schema, kwarg_op="-")
    assert arguments == ["-n=y", "-f", "x"]


def test_command_is_quoted_and_splits_back() -> None:
    parameters = {"msg": "it's a `test`; rm -rf /", "pos": "$(id)"}
    schema = {"pos": {"type": "string", "position": 0}}
    command = script_command("/packs/my pack/actions/run.sh", parameters, schema)
    assert shlex.split(command) == [
        "/packs/my pack/actions/run.sh",
        "--msg=it's a `test`; rm -rf /",
        "$(id)",
    ]
