"""The per-action schema cache: built once per action digest, new after a re-registration."""

from __future__ import annotations

from typing import Any

from packhorse.engine.cache import ActionSchemas
from packhorse.model.content import Kind, Resource
from packhorse.params import schema_for_action


def action(parameters: dict[str, Any]) -> Resource:
    body = {"runner_type": "local-shell-cmd", "parameters": parameters}
    return Resource(Kind.ACTION, "p.a", "p", "a", "actions/a.yaml", body)


def test_same_digest_same_schema_new_digest_new_schema() -> None:
    schemas = ActionSchemas()
    first = action({"x": {"type": "string"}})
    assert schemas(first) is schemas(action({"x": {"type": "string"}}))
    assert schemas(first) == schema_for_action(first.body)
    changed = action({"x": {"type": "integer"}})
    assert schemas(changed)[0]["x"]["type"] == "integer"


def test_the_cache_is_bounded() -> None:
    schemas = ActionSchemas(size=2)
    for index in range(5):
        schemas(action({f"p{index}": {}}))
    assert len(schemas._entries) <= 2
