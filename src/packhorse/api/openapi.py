"""What the OpenAPI document at ``/openapi.json`` says beyond what FastAPI infers.

The v1 routes parse their JSON bodies by hand (so that a bad one is StackStorm's 400, not
FastAPI's 422): :func:`body` describes such a body for the document (and for the fuzz test
that reads it). :func:`complete` gives every operation a summary, the first line of its
docstring, instead of one made up from the function's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI

OBJECT: Mapping[str, Any] = {"type": "object"}
STRING: Mapping[str, Any] = {"type": "string"}
BOOLEAN: Mapping[str, Any] = {"type": "boolean"}
STRINGS: Mapping[str, Any] = {"type": "array", "items": {"type": "string"}}


def body(
    properties: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    required: Iterable[str] = (),
    optional: bool = False,
) -> dict[str, Any]:
    """``openapi_extra`` of a route whose JSON object body is read by hand."""
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties or {})}
    if wanted := list(required):
        schema["required"] = wanted
    return {
        "requestBody": {
            "required": not optional,
            "content": {"application/json": {"schema": schema}},
        }
    }


def complete(app: FastAPI) -> None:
    """Summaries from docstrings where a route names none: FastAPI title-cases the
    function's name (``Re Run Execution``); the docstring's first clause, when short, says
    more (``Run an execution's action again``)."""
    build = app.openapi

    def document() -> dict[str, Any]:
        schema = build()  # cached by FastAPI: the edit below is made once, in place
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                clause = _first_clause(str(operation.get("description", "")))
                if _named_after_function(operation) and clause:
                    operation["summary"] = clause
        return schema

    app.openapi = document  # type: ignore[method-assign]


def _named_after_function(operation: Mapping[str, Any]) -> bool:
    summary = str(operation.get("summary", "")).lower().replace(" ", "_")
    return bool(summary) and str(operation.get("operationId", "")).startswith(summary)


def _first_clause(description: str) -> str:
    """The docstring's first clause when it reads as a short title (else "")."""
    first = description.strip().split("\n", 1)[0]
    # Up to a colon, a full stop, a semicolon or an opening parenthesis.
    clause = re.split(r": |\. |; | \(|\.$", first, maxsplit=1)[0].strip()
    clause = clause.replace("``", "")
    return clause if clause[:1].isalpha() and len(clause) <= 60 else ""
