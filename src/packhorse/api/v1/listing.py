"""What the routes of the v1 API share: routes with and without the trailing slash st2client
sometimes sends, paging as StackStorm reads it (with ``X-Total-Count``), attribute selection,
the callers' roles, JSON bodies parsed by hand (so that a bad one gets StackStorm's 400
``faultstring``, not FastAPI's 422) and the faultstring answer for Packhorse's own errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from packhorse.api.deps import runtime, settings
from packhorse.api.errors import fault
from packhorse.api.security import Principal, require
from packhorse.engine.runtime import Runtime
from packhorse.engine.shapes import project
from packhorse.errors import Conflict, NotFound, PackhorseError
from packhorse.settings import Settings

MAX_LIMIT = MAX_PAGE = 1000
"""The largest page a list returns (``limit=-1`` asks for this many)."""
MAX_OFFSET = 2**63 - 1
"""The largest offset the databases take (SQLite's and PostgreSQL's largest integer)."""

Viewer = Annotated[Principal, Depends(require("viewer"))]
"""The caller of a read route."""
Operator = Annotated[Principal, Depends(require("operator"))]
"""The caller of a route that runs, cancels, pauses or resumes."""
Admin = Annotated[Principal, Depends(require("admin"))]
Offset = Annotated[int, Query(le=MAX_OFFSET, description="Skip this many (paging).")]
"""The ``offset`` of a list read page by page from the database."""
RuntimeDep = Annotated[Runtime, Depends(runtime)]
SettingsDep = Annotated[Settings, Depends(settings)]

T = TypeVar("T")


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
    if skip > MAX_OFFSET:
        raise BadRequest(f"Offset, {skip}, is larger than the largest offset, {MAX_OFFSET}.")
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


def page(items: Sequence[T], response: Response, limit: int | None, offset: int) -> list[T]:
    """``items[offset:offset+limit]``, with the total in ``X-Total-Count`` (and the page in
    ``X-Limit``) as StackStorm sends them. ``limit`` None, 0 or -1 means all (up to
    :data:`MAX_PAGE`)."""
    response.headers["X-Total-Count"] = str(len(items))
    size = MAX_PAGE if limit is None or limit <= 0 else min(limit, MAX_PAGE)
    response.headers["X-Limit"] = str(size)
    start = max(offset, 0)
    return list(items[start : start + size])


async def json_object(request: Request) -> dict[str, Any] | JSONResponse:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    try:
        return await json_body(request)
    except BadRequest as error:
        return bad_request(error)


def error_fault(error: PackhorseError) -> JSONResponse:
    """A Packhorse error as StackStorm's faultstring: 404 not found, 409 conflict, else 400."""
    status = 404 if isinstance(error, NotFound) else 409 if isinstance(error, Conflict) else 400
    message = error.message if not error.hint else f"{error.message} ({error.hint})"
    return fault(status, message)


def select_attributes(
    record: dict[str, Any], include: str | None, exclude: str | None
) -> dict[str, Any]:
    """StackStorm's ``include_attributes`` / ``exclude_attributes`` as query values (comma
    separated, dotted for nested fields)."""
    return project(record, include=names(include), exclude=names(exclude))
