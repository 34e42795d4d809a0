"""Webhooks: ``POST /api/v1/webhooks/<url>`` fires the ``core.st2.webhook`` triggers bound to
``url``; ``POST /api/v1/webhooks/st2`` fires any trigger (``{trigger, payload}``).

Shapes are StackStorm's: the payload of a webhook trigger is ``{headers, headers_lower, body}``
with header names as StackStorm spells them (``Content-Type``, ``X-Github-Event``), the body is
JSON, form data (each field a list, as ``parse_qs`` gives) or text; the answer is ``202`` with
the request body echoed. The trigger instance is stored before the answer is sent.

With authentication on, a post needs a token or API key of an ``operator`` (or ``admin``),
or the webhook's own secret (:func:`admit`), which is what senders that cannot log in use.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from packhorse.api import openapi
from packhorse.api.errors import fault
from packhorse.api.security import Refused, require
from packhorse.engine.events import EventService, InvalidPayload, TriggerIndex
from packhorse.errors import NotFound

WEBHOOK_TYPE = "core.st2.webhook"
TRACE_TAG_HEADER = "St2-Trace-Tag"
SECRET_HEADER = "St2-Webhook-Secret"  # noqa: S105 - a header's name
SECRET_QUERY = "st2-webhook-secret"  # noqa: S105 - a query parameter's name
SECRET_KEY = "webhook_secret:{hook}"  # noqa: S105 - a datastore key's name
"""The system datastore key that holds a webhook's own secret (``st2`` for the generic one)."""
_AUTH_HEADERS = frozenset({"X-Auth-Token", "St2-Api-Key", "Cookie", SECRET_HEADER})


def hooks(index: TriggerIndex) -> dict[str, list[str]]:
    """Webhook url (without surrounding slashes) -> the refs of the triggers bound to it."""
    found: dict[str, list[str]] = {}
    for ref, trigger in index.triggers.items():
        if trigger.type == WEBHOOK_TYPE and "url" in trigger.parameters:
            found.setdefault(str(trigger.parameters["url"]).strip("/"), []).append(ref)
    return found


def _headers(request: Request) -> dict[str, str]:
    headers = {name.title(): value for name, value in request.headers.items()}
    return {name: value for name, value in headers.items() if name not in _AUTH_HEADERS}


def _body(content_type: str, raw: bytes) -> Any:
    kind = content_type.split(";", 1)[0].strip().lower() or "application/json"
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return parse_qs(raw.decode("utf-8"))
    if kind == "text/plain":
        return raw.decode("utf-8")
    if kind != "application/json":
        raise ValueError(f'Unsupported Content-Type: "{kind}"')
    return json.loads(raw or b"{}")


def router(events: Callable[[], EventService]) -> APIRouter:
    routes = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

    @routes.get("", dependencies=[Depends(require("viewer"))])
    def list_webhooks() -> list[dict[str, Any]]:
        """The webhook urls rules listen on."""
        index = events().index()
        return [
            {"url": url, "triggers": refs, "type": WEBHOOK_TYPE}
            for url, refs in sorted(hooks(index).items())
        ]

    @routes.post(
        "/{hook:path}",
        status_code=202,
        response_model=None,
        openapi_extra=openapi.body({"trigger": {"type": "string"}, "payload": {"type": "object"}}),
    )
    async def post_webhook(hook: str, request: Request) -> JSONResponse:
        """Fire the triggers of webhook ``hook`` (or, for ``st2``, the trigger named in the
        body). Answers 202 once the trigger instances are stored."""
        raw = await request.body()
        try:
            body = _body(request.headers.get("content-type", ""), raw)
        except (ValueError, UnicodeDecodeError) as error:
            return fault(400, f"Failed to parse request body: {error}")
        headers = _headers(request)
        trace_tag = headers.pop(TRACE_TAG_HEADER, None)
        service = events()
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(admit, request, hook.strip("/"))
        try:
            await run_in_threadpool(_fire, service, hook.strip("/"), body, headers, trace_tag)
        except _Refused as refused:
            return fault(refused.status, refused.message)
        return JSONResponse(body, status_code=202)

    return routes


def admit(request: Request, hook: str) -> None:
    """Let the post in when authentication is off, or it carries the webhook's own secret
    (``St2-Webhook-Secret`` header or ``st2-webhook-secret`` query parameter, checked against
    the encrypted system key ``webhook_secret:<url>``), or a token or API key of an
    ``operator`` or ``admin``. Raises :class:`~packhorse.api.security.Refused` otherwise."""
    if not request.app.state.auth_enabled:
        return
    secret = request.headers.get(SECRET_HEADER) or request.query_params.get(SECRET_QUERY)
    if secret is None:
        require("operator")(request)
        return
    expected = _secret_of(request, hook)
    if expected is None or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise Refused(401, "Unauthorized - the webhook secret does not match.")


def _secret_of(request: Request, hook: str) -> str | None:
    from packhorse.api.deps import runtime
    from packhorse.model.datastore import Scope

    try:
        pair = runtime(request).datastore.get_value(
            SECRET_KEY.format(hook=hook), scope=Scope.SYSTEM, decrypt=True
        )
    except NotFound:
        return None
    return str(pair.value)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _fire(
    service: EventService,
    hook: str,
    body: Any,
    headers: Mapping[str, str],
    trace_tag: str | None,
) -> None:
    index = service.index()
    if hook == "st2":
        if not isinstance(body, dict):
            raise _Refused(400, f"Webhook body needs to be an object, got: {_json_type(body)}")
        trigger = body.get("trigger")
        if not trigger:
            raise _Refused(400, "Trigger not specified.")
        payload = body.get("payload")
        emit = [(str(trigger), payload if isinstance(payload, dict) else {})]
    else:
        refs = hooks(index).get(hook)
        if not refs:
            raise _Refused(404, f"Webhook {hook} not registered with st2")
        payload = {
            "headers": dict(headers),
            "headers_lower": {name.lower(): value for name, value in headers.items()},
            "body": body,
        }
        emit = [(ref, payload) for ref in refs]
    for trigger_ref, trigger_payload in emit:
        try:
            service.emit(
                trigger_ref,
                trigger_payload,
                source=f"webhook:{hook}",
                trace_tag=trace_tag,
                index=index,
            )
        except NotFound as error:
            raise _Refused(400, error.message) from error
        except InvalidPayload as error:
            raise _Refused(400, error.message) from error


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else "object"
