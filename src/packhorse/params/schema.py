"""The effective parameter schema of an action: its runner's parameters merged with its own.

An action may redeclare a runner parameter to change its ``default``, ``description``,
``enum``, ``immutable`` or ``required`` (pack validation refuses other changes), so the schema
an execution is rendered against is a deep merge, as StackStorm builds it. Two rules of
StackStorm's renderer are folded into the merge so that rendering needs one schema only:

* a runner parameter marked ``immutable`` stays immutable and keeps the runner's default,
  whatever the action says (StackStorm refuses to override it and renders the runner's
  default last);
* an action that redeclares a parameter with ``default: null`` keeps the runner's default
  (StackStorm falls back to the runner's default when the action's is None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packhorse.errors import NotFound
from packhorse.model.runner_types import RUNNER_TYPES, thaw

__all__ = [
    "effective_schema",
    "named_parameters",
    "positional_parameters",
    "runner_parameter_names",
    "runner_parameters",
    "schema_for_action",
]


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = thaw(value)
    return merged


def effective_schema(
    runner_parameters: Mapping[str, Any], action_parameters: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The schema of every parameter an execution of the action has, by name.

    Action parameters come first, in their declaration order, then the runner parameters the
    action does not redeclare. The result is a plain, mutable copy (``None`` or empty schemas
    become ``{}``, "any type").
    """
    schema: dict[str, dict[str, Any]] = {}
    for name, declared in action_parameters.items():
        runner_spec = runner_parameters.get(name)
        base = thaw(runner_spec) if isinstance(runner_spec, Mapping) else {}
        merged = _deep_merge(base, declared if isinstance(declared, Mapping) else {})
        if isinstance(runner_spec, Mapping):
            if runner_spec.get("immutable"):
                merged["immutable"] = True
                if "default" in runner_spec:
                    merged["default"] = thaw(runner_spec["default"])
            elif merged.get("default") is None and runner_spec.get("default") is not None:
                merged["default"] = thaw(runner_spec["default"])
        schema[name] = merged
    for name, spec in runner_parameters.items():
        if name not in schema:
            schema[name] = thaw(spec) if isinstance(spec, Mapping) else {}
    return schema


def runner_parameters(runner_type: str) -> dict[str, dict[str, Any]]:
    """A plain copy of the parameter schemas runner type ``runner_type`` declares."""
    try:
        runner = RUNNER_TYPES[runner_type]
    except KeyError:
        raise NotFound("runner type", runner_type) from None
    parameters: dict[str, dict[str, Any]] = thaw(runner.parameters)
    return parameters


def runner_parameter_names(runner_type: str) -> frozenset[str]:
    """Names of the parameters runner type ``runner_type`` declares."""
    return frozenset(runner_parameters(runner_type))


def schema_for_action(
    action: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], frozenset[str]]:
    """The effective schema of an action (the body of an ACTION resource) and the names of its
    runner's parameters: the two inputs :func:`packhorse.params.render.render_parameters`
    needs besides the live values."""
    runner = runner_parameters(str(action.get("runner_type", "")))
    declared = action.get("parameters") or {}
    return effective_schema(runner, declared), frozenset(runner)


def positional_parameters(schema: Mapping[str, Any]) -> list[str]:
    """Names of the parameters with a ``position``, sorted by position.

    Positions are sorted, not indexed: ``position: 1`` on its own is the first argument.
    """
    positioned = [
        (spec["position"], name)
        for name, spec in schema.items()
        if isinstance(spec, Mapping) and _is_position(spec.get("position"))
    ]
    return [name for _, name in sorted(positioned)]


def named_parameters(schema: Mapping[str, Any]) -> list[str]:
    """Names of the parameters without a ``position``, in declaration order."""
    positioned = set(positional_parameters(schema))
    return [name for name in schema if name not in positioned]


def _is_position(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
