"""What the reactor and datastore routes share (ids come from ``engine.shapes.object_id``),
paging with ``X-Total-Count``, JSON bodies that fail with a StackStorm 400, and the
faultstring answer for Packhorse's own errors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from packhorse.api.deps import runtime, settings
from packhorse.api.errors import fault
from packhorse.api.security import Principal, require
from packhorse.api.v1.listing import MAX_LIMIT, names
from packhorse.engine.runtime import Runtime
from packhorse.engine.shapes import project
from packhorse.errors import Conflict, NotFound, PackhorseError
from packhorse.settings import Settings

T = TypeVar("T")

MAX_PAGE = MAX_LIMIT


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
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except ValueError as error:
        return fault(400, f"the request body is not JSON: {error}")
    if not isinstance(body, dict):
        return fault(400, "the request body must be a JSON object")
    return body


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


Admin = Annotated[Principal, Depends(require("admin"))]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
SettingsDep = Annotated[Settings, Depends(settings)]
