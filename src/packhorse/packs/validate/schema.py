"""The parameter schema dialect (actions, runners, config schemas) and JSON schema checks.

Parameters are checked by hand, keyword by keyword, because building a JSON-schema validator
per file is far too slow for hundreds of packs. The full draft-4 meta-schema check runs only
for parameters that use nested keywords, and is cached on the schema's canonical text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jsonschema

from packhorse.model.content import canonical_json
from packhorse.packs.validate.report import FileReport, describe, is_type
from packhorse.packs.validate.yamldoc import Path

PARAMETER_NAME = re.compile(r"^\w+$")

SIMPLE_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array", "null"})

#: Keywords the action parameter dialect allows at the top of a parameter.
PARAMETER_KEYWORDS = frozenset(
    {
        "$schema",
        "additionalItems",
        "additionalProperties",
        "allOf",
        "anyOf",
        "default",
        "definitions",
        "dependencies",
        "description",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "id",
        "immutable",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "oneOf",
        "pattern",
        "patternProperties",
        "position",
        "properties",
        "required",
        "secret",
        "title",
        "type",
        "uniqueItems",
    }
)

#: Keywords checked here by hand; anything else goes through the draft-4 meta-schema.
_SIMPLE_KEYWORDS = frozenset(
    {"type", "description", "title", "default", "enum", "required", "secret", "immutable"}
    | {"position"}
)

#: Attributes an action may change when it redeclares a runner parameter.
OVERRIDABLE = frozenset({"default", "description", "enum", "immutable", "required"})


def to_draft4(schema: Any) -> Any:
    """Turn draft-3 style ``required: true`` on properties into draft-4 ``required`` lists.

    StackStorm schemas mix both styles; jsonschema's draft-4 machinery understands only the
    second. Other extension keywords (``secret``, ``immutable``, ``position``) are harmless.
    """
    if isinstance(schema, list):
        return [to_draft4(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "required" and isinstance(value, bool):
            continue
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            converted[key] = {name: to_draft4(item) for name, item in value.items()}
        elif key == "dependencies" and isinstance(value, dict):
            converted[key] = {
                name: to_draft4(item) if isinstance(item, dict) else item
                for name, item in value.items()
            }
        elif key in ("enum", "default"):
            converted[key] = value
        else:
            converted[key] = to_draft4(value)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        required = [
            name
            for name, item in properties.items()
            if isinstance(item, dict) and item.get("required") is True
        ]
        existing = schema.get("required")
        if isinstance(existing, list):
            required = [*existing, *(name for name in required if name not in existing)]
        if required:
            converted["required"] = required
    return converted


@lru_cache(maxsize=4096)
def _schema_problem(text: str) -> tuple[str, tuple[str | int, ...]] | None:
    schema = to_draft4(json.loads(text))
    try:
        jsonschema.Draft4Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return error.message, tuple(error.path)
    return None


def json_schema_problem(schema: Any) -> tuple[str, tuple[str | int, ...]] | None:
    """Why ``schema`` is not a valid draft-4 schema (with the path inside it), or None."""
    try:
        text = canonical_json(schema)
    except (TypeError, ValueError):
        return "schema is not JSON data", ()
    return _schema_problem(text)


@lru_cache(maxsize=1024)
def _validator(text: str) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(to_draft4(json.loads(text)))


def _remote_ref(schema: Any) -> bool:
    if isinstance(schema, Mapping):
        ref = schema.get("$ref")
        if ref is not None and (not isinstance(ref, str) or not ref.startswith("#")):
            return True
        return any(_remote_ref(value) for value in schema.values())
    if isinstance(schema, list):
        return any(_remote_ref(value) for value in schema)
    return False


def validator_for(schema: Mapping[str, Any]) -> jsonschema.Draft4Validator | None:
    """A cached validator for a valid schema; None if it is invalid or refers outside itself.

    A ``$ref`` to another document would make jsonschema fetch it: validation stays pure and
    leaves such schemas unchecked.
    """
    if json_schema_problem(schema) is not None or _remote_ref(schema):
        return None
    return _validator(canonical_json(schema))


def check_parameters(
    report: FileReport,
    parameters: Any,
    at: Path,
    *,
    runner_parameters: Mapping[str, Mapping[str, Any]] | None = None,
    name_code: str = "PH208",
    owner: str = "action",
) -> None:
    """Check a map of parameter name -> schema in the action parameter dialect."""
    if not isinstance(parameters, dict):
        report.add(
            "PH012",
            f"parameters must be a mapping of name to schema, not {describe(parameters)}",
            at,
        )
        return
    positions: dict[float, str] = {}
    for name, schema in parameters.items():
        here = (*at, name)
        if not PARAMETER_NAME.match(name):
            report.add(
                name_code,
                f"parameter name {name!r} is invalid: use letters, digits and underscores only",
                here,
            )
        runner_schema = (runner_parameters or {}).get(name)
        check_parameter(report, name, schema, here, runner_schema, owner=owner)
        if isinstance(schema, dict):
            position: Any = schema.get("position")
            if is_type(position, "number") and position >= 0:
                if position in positions:
                    report.add(
                        "PH214",
                        f"parameters {positions[position]!r} and {name!r} have the same position "
                        f"{position}; give each positional parameter its own position",
                        (*here, "position"),
                    )
                else:
                    positions[position] = name
    if positions:
        ordered = sorted(positions)
        expected = [ordered[0] + step for step in range(len(ordered))]
        if ordered != expected:
            shown = ", ".join(f"{p:g}" for p in ordered)
            last = positions[ordered[-1]]
            report.add(
                "PH214",
                f"positions {shown} are not contiguous; number positional parameters "
                "without gaps (e.g. 0, 1, 2)",
                (*at, last, "position"),
            )


def check_parameter(
    report: FileReport,
    name: str,
    schema: Any,
    at: Path,
    runner_schema: Mapping[str, Any] | None = None,
    *,
    owner: str = "action",
) -> None:
    """One parameter schema: keywords, type, flags, position, override rules."""
    if not isinstance(schema, dict):
        report.add(
            "PH218",
            f"parameter {name!r} must be a mapping (its schema), not {describe(schema)}; "
            "use {} for a parameter of any type",
            at,
        )
        return
    nested = False
    for keyword in schema:
        if keyword == "format":
            report.add(
                "PH211",
                f"parameter {name!r}: 'format' is not allowed at the top of a parameter; "
                "remove it (it is allowed inside nested properties)",
                (*at, keyword),
            )
        elif keyword not in PARAMETER_KEYWORDS:
            report.add(
                "PH209",
                f"parameter {name!r}: unknown keyword {keyword!r}; remove it or fix its spelling",
                (*at, keyword),
            )
        elif keyword not in _SIMPLE_KEYWORDS:
            nested = True
    kind = schema.get("type")
    if "type" in schema:
        if isinstance(kind, list):
            report.add(
                "PH210",
                f"parameter {name!r}: type must be a single type, not a list; use one of "
                f"{', '.join(sorted(SIMPLE_TYPES))}, or leave type out to accept any value",
                (*at, "type"),
            )
        elif not isinstance(kind, str) or kind not in SIMPLE_TYPES:
            report.add(
                "PH210",
                f"parameter {name!r}: unknown type {kind!r}; use one of "
                f"{', '.join(sorted(SIMPLE_TYPES))}",
                (*at, "type"),
            )
    for flag in ("required", "secret", "immutable"):
        if flag in schema and not isinstance(schema[flag], bool):
            report.add(
                "PH212",
                f"parameter {name!r}: {flag} must be true or false, not {describe(schema[flag])}",
                (*at, flag),
            )
    if "position" in schema:
        position = schema["position"]
        if not is_type(position, "number") or position < 0:
            report.add(
                "PH213",
                f"parameter {name!r}: position must be a number >= 0, not {position!r}",
                (*at, "position"),
            )
    if "enum" in schema:
        enum = schema["enum"]
        if not isinstance(enum, list) or not enum:
            report.add("PH218", f"parameter {name!r}: enum must be a non-empty list", (*at, "enum"))
        elif len({_hashable(item) for item in enum}) != len(enum):
            report.add("PH218", f"parameter {name!r}: enum has duplicate values", (*at, "enum"))
    if nested:  # the keywords checked above are left out, so no problem is reported twice
        problem = json_schema_problem(
            {key: value for key, value in schema.items() if key not in _SIMPLE_KEYWORDS}
        )
        if problem is not None:
            message, inner = problem
            report.add("PH218", f"parameter {name!r}: invalid schema: {message}", (*at, *inner))
    has_default = "default" in schema or (runner_schema is not None and "default" in runner_schema)
    if schema.get("immutable") is True and not has_default:
        report.add(
            "PH215",
            f"parameter {name!r} is immutable but has no default: callers cannot set it, "
            "so give it a default",
            (*at, "immutable"),
        )
    if runner_schema is not None:
        _check_override(
            report, name, schema=schema, at=at, runner_schema=runner_schema, owner=owner
        )


def _check_override(
    report: FileReport,
    name: str,
    *,
    schema: Mapping[str, Any],
    at: Path,
    runner_schema: Mapping[str, Any],
    owner: str,
) -> None:
    for keyword, value in schema.items():
        if keyword in OVERRIDABLE:
            continue
        theirs = runner_schema.get(keyword)
        if _thaw(theirs) != value:
            report.add(
                "PH216",
                f"parameter {name!r} redeclares a runner parameter and changes {keyword!r} "
                f"(runner: {_thaw(theirs)!r}, {owner}: {value!r}); an {owner} may change only "
                f"{', '.join(sorted(OVERRIDABLE))}; rename the parameter or drop {keyword!r}",
                (*at, keyword),
            )
    if "immutable" in schema and "immutable" in runner_schema:
        report.add(
            "PH217",
            f"parameter {name!r} is declared immutable by the runner already; remove "
            "'immutable' from the action",
            (*at, "immutable"),
        )


def _hashable(value: Any) -> Any:
    if isinstance(value, dict | list):
        return canonical_json(value)
    return (type(value).__name__, value)


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value
