"""What the list and get routes of the v1 API share: routes with and without the trailing
slash st2client sometimes sends, paging as StackStorm reads it, JSON bodies parsed by hand
(so that a bad one gets StackStorm's 400 ``faultstring``, not FastAPI's 422)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from packhorse.api.errors import fault
from packhorse.api.security import Principal, require

MAX_LIMIT = 1000
"""The largest page a list returns (``limit=-1`` asks for this many)."""

Viewer = Annotated[Principal, Depends(require("viewer"))]
"""The caller of a read route."""
Operator = Annotated[Principal, Depends(require("operator"))]
"""The caller of a route that runs, cancels, pauses or resumes."""


class BadRequest(Exception):
    """A request StackStorm would refuse with 400; the message says why."""


Route = TypeVar("Route", bound=Callable[..., Any])


def route(router: APIRouter, method: str, path: str, **options: Any) -> Callable[[Route], Route]:
    """Register a route at ``path`` and, hidden from the OpenAPI document, at ``path/``."""

    def register(function: Route) -> Route:
        router.add_api_route(path, function, methods=[method], response_model=None, **options)
        router.add_api_route(
            path + "/",
            function,
            methods=[method],
            response_model=None,
            include_in_schema=False,
            **{k: v for k, v in options.items() if k not in {"summary", "description"}},
        )
        return function

    return register


def paging(limit: str | None, offset: str | None, default: int = 50) -> tuple[int, int]:
    """``limit`` and ``offset`` query values as numbers; ``limit=-1`` is the largest page."""
    try:
        size = default if limit in (None, "") else int(limit)
        skip = 0 if offset in (None, "") else int(offset)
    except ValueError:
        raise BadRequest("limit and offset must be integers") from None
    if size == -1 or size > MAX_LIMIT:
        size = MAX_LIMIT
    if size < 1:
        raise BadRequest(f"Limit, {size}, must be a positive number or -1.")
    if skip < 0:
        raise BadRequest(f"Offset, {skip}, must be zero or a positive number.")
    return size, skip


def names(value: str | None) -> list[str]:
    """A comma-separated query value (``include_attributes=id,status``) as a list."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body; anything else is a 400."""
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("the request body is empty; a JSON object is expected")
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise BadRequest(f"the request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def listed(documents: list[dict[str, Any]], total: int) -> JSONResponse:
    """A page of documents with StackStorm's ``X-Total-Count`` header."""
    return JSONResponse(documents, headers={"X-Total-Count": str(total)})


def bad_request(error: BadRequest) -> JSONResponse:
    return fault(400, str(error))
