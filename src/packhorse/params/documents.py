"""JSON documents checked against StackStorm's schemas (inquiry responses, trigger payloads).

StackStorm writes ``required: true`` on a property (JSON schema draft 3) inside otherwise draft-4
schemas; :func:`draft4_schema` converts that before validating.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft4Validator

from packhorse.model.content import canonical_json


def draft4_schema(schema: Any) -> Any:
    """StackStorm's schemas put ``required: true`` on a property (draft 3); JSON schema draft 4
    wants the names listed on the object. Converts, recursively."""
    if isinstance(schema, list):
        return [draft4_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    converted = {key: draft4_schema(value) for key, value in schema.items() if key != "required"}
    required = schema.get("required")
    if isinstance(required, list):
        converted["required"] = list(required)
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        names = [
            name
            for name, item in properties.items()
            if isinstance(item, Mapping) and item.get("required") is True
        ]
        if names:
            converted["required"] = sorted({*converted.get("required", []), *names})
    return converted


def response_problems(schema: Mapping[str, Any], response: Any) -> list[str]:
    """What is wrong with ``response`` for ``schema``, one line each (empty when valid)."""
    validator = _validator(canonical_json(schema))
    problems = []
    for error in sorted(validator.iter_errors(response), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(part) for part in error.absolute_path)
        problems.append(f"{where}: {error.message}" if where else error.message)
    return problems


@lru_cache(maxsize=512)
def _validator(schema_text: str) -> Draft4Validator:
    import json

    return Draft4Validator(draft4_schema(json.loads(schema_text)))
