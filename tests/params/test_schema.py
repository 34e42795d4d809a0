"""Effective schemas: runner parameters merged with an action's, as StackStorm merges them."""

from __future__ import annotations

from typing import Any

import pytest

from packhorse.errors import NotFound
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.params.schema import (
    effective_schema,
    named_parameters,
    positional_parameters,
    runner_parameter_names,
    runner_parameters,
    schema_for_action,
)

RUNNER = {
    "cmd": {"type": "string", "description": "the command"},
    "timeout": {"type": "integer", "default": 60},
    "dir": {"type": "string", "default": "/tmp", "immutable": True},
    "env": {"type": "object", "properties": {"A": {"type": "string", "default": "a"}}},
}

MERGES: list[Any] = [
    pytest.param({}, RUNNER, id="no action parameters: the runner's"),
    pytest.param(
        {"cmd": {"immutable": True, "default": "echo {{ m }}"}},
        {**RUNNER, "cmd": {**RUNNER["cmd"], "immutable": True, "default": "echo {{ m }}"}},
        id="redeclared: attributes merged",
    ),
    pytest.param(
        {"timeout": {"default": None, "description": "d"}},
        {**RUNNER, "timeout": {"type": "integer", "default": 60, "description": "d"}},
        id="a null default keeps the runner's",
    ),
    pytest.param(
        {"dir": {"default": "/home", "immutable": False}},
        RUNNER,
        id="an immutable runner parameter keeps its default and stays immutable",
    ),
    pytest.param(
        {"env": {"properties": {"B": {"type": "string"}}}},
        {
            **RUNNER,
            "env": {
                "type": "object",
                "properties": {"A": {"type": "string", "default": "a"}, "B": {"type": "string"}},
            },
        },
        id="nested mappings are merged deeply",
    ),
    pytest.param(
        {"enum_me": {"type": "string", "enum": ["a"]}, "timeout": {"enum": [1, 2]}},
        {
            "enum_me": {"type": "string", "enum": ["a"]},
            "timeout": {"type": "integer", "default": 60, "enum": [1, 2]},
            **{k: v for k, v in RUNNER.items() if k != "timeout"},
        },
        id="action parameters come first",
    ),
    pytest.param({"x": None}, {"x": {}, **RUNNER}, id="a null schema is any type"),
]


@pytest.mark.parametrize(("action", "expected"), MERGES)
def test_effective_schema(action: dict[str, Any], expected: dict[str, Any]) -> None:
    merged = effective_schema(RUNNER, action)
    assert merged == expected
    # Action parameters first, in their order, then the runner's.
    assert list(merged) == [*action, *(name for name in RUNNER if name not in action)]


def test_effective_schema_is_a_copy() -> None:
    action = {"env": {"properties": {"B": {"type": "string"}}}}
    merged = effective_schema(RUNNER, action)
    merged["env"]["properties"]["A"]["default"] = "changed"
    merged["env"]["properties"]["B"]["type"] = "integer"
    assert RUNNER["env"]["properties"]["A"]["default"] == "a"
    assert action["env"]["properties"]["B"]["type"] == "string"


def test_runner_catalogue() -> None:
    assert runner_parameter_names("local-shell-script") == frozenset(
        RUNNER_TYPES["local-shell-script"].parameters
    )
    parameters = runner_parameters("remote-shell-cmd")
    assert parameters["hosts"]["required"] is True
    parameters["hosts"]["required"] = False  # a plain copy, not the catalogue
    assert runner_parameters("remote-shell-cmd")["hosts"]["required"] is True
    with pytest.raises(NotFound):
        runner_parameter_names("mistral-v2")


def test_schema_for_action() -> None:
    schema, runner_names = schema_for_action(
        {
            "runner_type": "local-shell-cmd",
            "parameters": {"cmd": {"immutable": True, "default": "ls"}, "path": {"type": "string"}},
        }
    )
    assert list(schema)[:2] == ["cmd", "path"]
    assert schema["cmd"]["type"] == "string"
    assert schema["cmd"]["immutable"] is True
    assert "cmd" in runner_names
    assert "path" not in runner_names


POSITIONS: list[Any] = [
    pytest.param({"a": {"position": 0}, "b": {"position": 1}}, ["a", "b"], id="0-based"),
    pytest.param({"b": {"position": 2}, "a": {"position": 1}}, ["a", "b"], id="1-based, sorted"),
    pytest.param({"x": {"position": 3}}, ["x"], id="sorted, not indexed"),
    pytest.param({"a": {}, "b": {"position": True}, "c": None}, [], id="no positions"),
]


@pytest.mark.parametrize(("schema", "expected"), POSITIONS)
def test_positions(schema: dict[str, Any], expected: list[str]) -> None:
    assert positional_parameters(schema) == expected
    assert named_parameters(schema) == [name for name in schema if name not in expected]
