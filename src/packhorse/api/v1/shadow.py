"""``POST /api/v1/packhorse/shadow``: what this instance's rules would do with trigger
instances, without doing it (``packhorse upgrade verify`` against an instance's URL).

Admin only: the answer shows rendered action parameters, which may hold datastore values and
pack config. Secrets do not leave in clear: they are fingerprinted with the key the caller
sends (HMAC-SHA256), so that the caller can compare two instances' secrets without seeing
them. Nothing is written and no action runs (see :mod:`packhorse.engine.shadow`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from packhorse.api import openapi
from packhorse.api.errors import fault
from packhorse.api.v1.listing import Admin, SettingsDep, json_object
from packhorse.model.shadow import ShadowInput

MAX_INSTANCES = 1000
"""Trigger instances one request may ask about."""

_INSTANCE = {
    "type": "object",
    "properties": {
        "id": openapi.STRING,
        "trigger": openapi.STRING,
        "trigger_type": openapi.STRING,
        "payload": openapi.OBJECT,
        "occurrence_time": openapi.STRING,
    },
    "required": ["trigger"],
}
_BODY = openapi.body(
    {
        "key": {
            **openapi.STRING,
            "description": "Hex key (16 bytes or more) secrets are fingerprinted with.",
        },
        "trigger_instances": {"type": "array", "items": _INSTANCE, "maxItems": MAX_INSTANCES},
    },
    required=["key", "trigger_instances"],
)


def _inputs(body: dict[str, Any]) -> tuple[bytes, list[ShadowInput]] | str:
    """The key and the trigger instances of a request body, or what is wrong with it."""
    try:
        key = bytes.fromhex(str(body.get("key") or ""))
    except ValueError:
        return "'key' must be hexadecimal"
    if len(key) < 16:
        return "'key' must be at least 16 bytes (32 hex digits)"
    items = body.get("trigger_instances")
    if not isinstance(items, list):
        return "'trigger_instances' must be a list"
    if len(items) > MAX_INSTANCES:
        return f"at most {MAX_INSTANCES} trigger instances per request"
    inputs = []
    for position, item in enumerate(items):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("trigger"), str)
            or not isinstance(item.get("payload", {}), dict)
        ):
            return f"trigger_instances[{position}]: an object with 'trigger' and 'payload'"
        inputs.append(ShadowInput.from_dict(item))
    return key, inputs


def router() -> APIRouter:
    routes = APIRouter(prefix="/api/v1/packhorse", tags=["packhorse"])

    @routes.post("/shadow", response_model=None, openapi_extra=_BODY)
    async def shadow(
        *, request: Request, _principal: Admin, config: SettingsDep
    ) -> dict[str, Any] | JSONResponse:
        """Match trigger instances against the rules and render the matched rules' action
        parameters, writing and running nothing; secrets are fingerprinted with the key."""
        from packhorse.engine.shadow import shadow_evaluator

        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        parsed = _inputs(body)
        if isinstance(parsed, str):
            return fault(400, parsed)
        key, inputs = parsed

        def evaluate() -> list[dict[str, Any]]:
            evaluator = shadow_evaluator(config)
            return [outcome.to_dict() for outcome in evaluator.evaluate(inputs, key=key)]

        return {"outcomes": await run_in_threadpool(evaluate)}

    return routes
