"""The run-action form from a parameter schema, and a submitted form read back as parameters
(pure; tables of cases)."""

from __future__ import annotations

from typing import Any

import pytest

from packhorse.params import schema_for_action
from packhorse.web.forms import Widget, fields, read

SCHEMA: dict[str, Any] = {
    "count": {"type": "integer", "required": True, "description": "How many."},
    "token": {"type": "string", "secret": True, "default": "s3cr3t-default"},
    "ratio": {"type": "number", "default": 0.5},
    "loud": {"type": "boolean", "default": False},
    "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
    "level": {"type": "integer", "enum": [1, 2]},
    "tags": {"type": "array"},
    "extra": {"type": "object"},
    "note": {"type": ["string", "null"]},
    "fixed": {"type": "string", "default": "x", "immutable": True},
    "named": {"type": "string", "required": True, "default": "given"},
}


def by_name() -> dict[str, Any]:
    return {field.name: field for field in fields(SCHEMA)}


@pytest.mark.parametrize(
    ("name", "widget"),
    [
        ("count", Widget.NUMBER),
        ("token", Widget.PASSWORD),
        ("ratio", Widget.NUMBER),
        ("loud", Widget.BOOLEAN),
        ("mode", Widget.CHOICE),
        ("level", Widget.CHOICE),
        ("tags", Widget.JSON),
        ("extra", Widget.JSON),
        ("note", Widget.TEXT),
        ("named", Widget.TEXT),
    ],
)
def test_each_type_gets_its_widget(name: str, widget: Widget) -> None:
    assert by_name()[name].widget is widget


def test_immutable_parameters_are_not_shown_and_required_ones_come_first() -> None:
    shown = [field.name for field in fields(SCHEMA)]
    assert "fixed" not in shown
    assert shown[0] == "count"  # required without a default
    # Required with a default is not required of the user: the default applies.
    assert not by_name()["named"].required


def test_defaults_are_help_text_but_a_secret_default_is_never_shown() -> None:
    found = by_name()
    assert found["ratio"].default_text == "0.5"
    assert found["loud"].default_text == "false"
    assert found["mode"].default_text == "fast"
    assert found["token"].default_text is None
    assert found["count"].description == "How many."


def test_runner_parameters_are_marked() -> None:
    schema, runner = schema_for_action({"runner_type": "local-shell-cmd", "parameters": {}})
    marked = {field.name: field.runner for field in fields(schema, runner)}
    assert marked["cmd"] is True and marked["timeout"] is True
    assert "cmd" in runner


@pytest.mark.parametrize(
    ("values", "parameters"),
    [
        ({"count": "3"}, {"count": 3}),
        ({"count": " 3 ", "ratio": "2"}, {"count": 3, "ratio": 2}),
        ({"count": "1", "ratio": "0.25"}, {"count": 1, "ratio": 0.25}),
        ({"count": "1", "loud": "true"}, {"count": 1, "loud": True}),
        ({"count": "1", "loud": "false"}, {"count": 1, "loud": False}),
        ({"count": "1", "mode": "slow", "level": "2"}, {"count": 1, "mode": "slow", "level": 2}),
        ({"count": "1", "tags": '["a", "b"]'}, {"count": 1, "tags": ["a", "b"]}),
        ({"count": "1", "tags": "a, b"}, {"count": 1, "tags": ["a", "b"]}),
        ({"count": "1", "extra": '{"k": 1}'}, {"count": 1, "extra": {"k": 1}}),
        ({"count": "1", "token": " with spaces "}, {"count": 1, "token": " with spaces "}),
        ({"count": "1", "note": "", "mode": ""}, {"count": 1}),  # empty: the default applies
        ({"count": "1", "fixed": "changed"}, {"count": 1}),  # immutable: never taken
    ],
)
def test_a_submitted_form_gives_typed_parameters(
    values: dict[str, str], parameters: dict[str, Any]
) -> None:
    submission = read(fields(SCHEMA), values)
    assert submission.errors == {}
    assert submission.parameters == parameters


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({}, {"count": "required"}),
        ({"count": "1.5"}, {"count": "enter a whole number"}),
        (
            {"count": "x", "ratio": "y"},
            {"count": "enter a whole number", "ratio": "enter a number"},
        ),
        ({"count": "1", "loud": "yes"}, {"loud": "choose true or false"}),
        ({"count": "1", "mode": "medium"}, {"mode": "choose one of: fast, slow"}),
        ({"count": "1", "tags": "[1,"}, {"tags": "enter JSON (an array)"}),
        ({"count": "1", "extra": "[1]"}, {"extra": "enter JSON (an object)"}),
    ],
)
def test_every_problem_is_reported_by_field(values: dict[str, str], errors: dict[str, str]) -> None:
    submission = read(fields(SCHEMA), values)
    assert submission.errors == errors


def test_an_inquirys_response_schema_gives_its_form() -> None:
    from packhorse.web.forms import Widget, response_fields

    schema = {
        "type": "object",
        "required": ["reason"],
        "properties": {
            "approved": {"type": "boolean", "required": True},
            "reason": {"type": "string"},
            "pin": {"type": "string", "secret": True},
            "odd": "not a property",
        },
    }
    found = {f.name: f for f in response_fields(schema)}
    assert list(found) == ["approved", "reason", "pin"]  # required first
    assert found["approved"].required and found["approved"].widget is Widget.BOOLEAN
    assert found["reason"].required  # named by the schema's required list
    assert found["pin"].widget is Widget.PASSWORD and not found["pin"].required
    assert response_fields({"type": "object"}) == []
