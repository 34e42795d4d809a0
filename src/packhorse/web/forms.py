"""The run-action form, generated from an action's parameter schema, and what a submitted
form means as parameters (pure: no request, no engine).

An empty field is left out, so the engine applies the parameter's default (a template default
such as ``{{ st2kv.system.x }}`` is rendered as it would be for ``st2 run``). Defaults are shown
as help, never pre-filled, and never for a secret parameter. Immutable parameters are not shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Widget(StrEnum):
    TEXT = "text"
    PASSWORD = "password"  # noqa: S105 (the input type, not a password)
    NUMBER = "number"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Field:
    """One input of the form."""

    name: str
    kind: str
    """The schema's ``type`` (``string`` when it has none)."""
    widget: Widget
    required: bool
    description: str
    default_text: str | None
    """The default as help text (None: no default, or a secret one)."""
    choices: tuple[str, ...] = ()
    runner: bool = False
    """A parameter of the runner (shown under "More options" unless required)."""

    @property
    def step(self) -> str:
        return "1" if self.kind == "integer" else "any"


def _kind(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type", "string")
    if isinstance(kind, list):  # ["string", "null"]: the first that is not null
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def _default_text(spec: Mapping[str, Any]) -> str | None:
    if "default" not in spec or spec.get("secret") or spec["default"] is None:
        return None
    default = spec["default"]
    if isinstance(default, str):
        return default
    return json.dumps(default)


def fields(schema: Mapping[str, Any], runner_names: frozenset[str] = frozenset()) -> list[Field]:
    """The form's fields: required ones first, then by ``position``, then by name."""
    found: list[Field] = []
    for name, spec in schema.items():
        if not isinstance(spec, Mapping) or spec.get("immutable"):
            continue
        kind = _kind(spec)
        enum = spec.get("enum")
        if isinstance(enum, list) and enum:
            widget, choices = Widget.CHOICE, tuple(str(v) for v in enum)
        elif spec.get("secret"):
            widget, choices = Widget.PASSWORD, ()
        elif kind == "boolean":
            widget, choices = Widget.BOOLEAN, ()
        elif kind in ("integer", "number"):
            widget, choices = Widget.NUMBER, ()
        elif kind in ("array", "object"):
            widget, choices = Widget.JSON, ()
        else:
            widget, choices = Widget.TEXT, ()
        found.append(
            Field(
                name=name,
                kind=kind,
                widget=widget,
                required=bool(spec.get("required")) and "default" not in spec,
                description=str(spec.get("description") or ""),
                default_text=_default_text(spec),
                choices=choices,
                runner=name in runner_names,
            )
        )

    def order(item: Field) -> tuple[int, int, float, str]:
        position = schema[item.name].get("position")
        rank = float(position) if isinstance(position, int | float) else float("inf")
        return (not item.required, item.runner, rank, item.name)

    return sorted(found, key=order)


@dataclass(frozen=True, slots=True)
class Submission:
    """A submitted form read against its fields: the parameters, or what is wrong, by field."""

    parameters: dict[str, Any]
    errors: dict[str, str]


def _cast(item: Field, raw: str) -> Any:
    """The value of a non-empty field; ValueError says what is wrong with it."""
    if item.widget is Widget.CHOICE:
        if raw not in item.choices:
            raise ValueError(f"choose one of: {', '.join(item.choices)}")
        if item.kind in ("integer", "number", "boolean"):
            return json.loads(raw)
        return raw
    match item.kind:
        case "boolean":
            if raw not in ("true", "false"):
                raise ValueError("choose true or false")
            return raw == "true"
        case "integer":
            try:
                return int(raw)
            except ValueError:
                raise ValueError("enter a whole number") from None
        case "number":
            try:
                number = float(raw)
            except ValueError:
                raise ValueError("enter a number") from None
            return int(number) if number.is_integer() and "." not in raw else number
        case "array" | "object":
            try:
                value = json.loads(raw)
            except ValueError:
                if item.kind == "array" and not raw.lstrip().startswith("["):
                    return [part.strip() for part in raw.split(",") if part.strip()]
                raise ValueError(f"enter JSON (an {item.kind})") from None
            wanted = list if item.kind == "array" else dict
            if not isinstance(value, wanted):
                raise ValueError(f"enter JSON (an {item.kind})")
            return value
    return raw


def read(form_fields: list[Field], values: Mapping[str, str]) -> Submission:
    """The parameters a submitted form gives (empty fields left out) and, by field name,
    every value that is missing or does not fit its type."""
    parameters: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in form_fields:
        raw = values.get(item.name, "")
        if item.widget is not Widget.PASSWORD:
            raw = raw.strip()
        if raw == "":
            if item.required:
                errors[item.name] = "required"
            continue
        try:
            parameters[item.name] = _cast(item, raw)
        except ValueError as error:
            errors[item.name] = str(error)
    return Submission(parameters, errors)


def response_fields(schema: Mapping[str, Any]) -> list[Field]:
    """The fields of an inquiry's answer: its response schema's properties, required when the
    property says ``required: true`` (StackStorm's way) or the schema's ``required`` list
    names it."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    listed = schema.get("required")
    required = set(listed) if isinstance(listed, list) else set()
    specs = {
        name: {**spec, "required": bool(spec.get("required") is True or name in required)}
        for name, spec in properties.items()
        if isinstance(spec, Mapping)
    }
    return fields(specs)
