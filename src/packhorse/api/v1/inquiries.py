"""``/api/v1/inquiries``: the questions ``core.ask`` asks (StackStorm's
``InquiryResponseAPI``), and answering them with ``PUT /inquiries/{id}`` ``{id, response}``.

Reads need ``viewer``; answering needs ``operator`` (and, when the inquiry names ``users``,
being one of them). The answer is checked against the inquiry's schema (400 when it does not
match, as when the inquiry was answered already or expired); the waiting workflow resumes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from packhorse.api import openapi
from packhorse.api.errors import fault
from packhorse.api.openapi import OBJECT, STRING
from packhorse.api.v1.listing import MAX_PAGE, Operator, RuntimeDep, Viewer, json_object, page
from packhorse.engine.inquiries import Inquiry, InvalidResponse, NotPermitted
from packhorse.errors import Conflict, NotFound


def inquiry_record(inquiry: Inquiry) -> dict[str, Any]:
    """StackStorm's InquiryResponseAPI (id, route, ttl, users, roles, schema), with status,
    parent, created_at and (once answered) response."""
    return {**inquiry.as_dict(), "priority": 2}


def router() -> APIRouter:
    routes = APIRouter(prefix="/api/v1/inquiries", tags=["inquiries"])

    @routes.get("", response_model=None)
    @routes.get("/", include_in_schema=False, response_model=None)
    def list_inquiries(
        *,
        response: Response,
        limit: int | None = None,
        offset: int = 0,
        _principal: Viewer,
        rt: RuntimeDep,
    ) -> list[dict[str, Any]]:
        """Inquiries waiting for an answer, newest first."""
        pending = rt.inquiries.list(limit=MAX_PAGE)
        return [inquiry_record(i) for i in page(pending, response, limit, offset)]

    @routes.get("/{inquiry_id}", response_model=None)
    def get_inquiry(
        *,
        inquiry_id: str,
        _principal: Viewer,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        try:
            return inquiry_record(rt.inquiries.get(inquiry_id))
        except NotFound:
            return fault(404, f'Inquiry with id "{inquiry_id}" not found')

    @routes.put(
        "/{inquiry_id}",
        response_model=None,
        openapi_extra=openapi.body({"id": STRING, "response": OBJECT}, required=["response"]),
    )
    async def respond(
        *,
        inquiry_id: str,
        request: Request,
        principal: Operator,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        """Answer an inquiry: ``{"id": ID, "response": {...}}``; answers ``{id, response}``."""
        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        if body.get("id") not in (None, inquiry_id):
            return fault(400, f"the body's id {body['id']!r} differs from {inquiry_id!r}")
        answer = body.get("response")
        if not isinstance(answer, dict):
            return fault(400, "'response' is required and must be a JSON object")
        try:
            rt.inquiries.respond(inquiry_id, answer, user=principal.user, role=principal.role)
        except NotFound:
            return fault(404, f'Inquiry with id "{inquiry_id}" not found')
        except NotPermitted as error:
            return fault(403, error.message)
        except (InvalidResponse, Conflict) as error:
            return fault(400, error.message)
        return {"id": inquiry_id, "response": answer}

    return routes
