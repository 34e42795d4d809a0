"""StackStorm's error bodies: ``{"faultstring": "..."}`` with the HTTP status.

:func:`install` makes every error the framework raises answer that way too: a request that
does not validate (FastAPI's 422 with ``detail``) is StackStorm's 400 naming the field, an
unknown route 404, a wrong method 405 (with its ``Allow`` header), an unexpected exception
500 (its traceback goes to the log, not to the caller).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

#: Where a request's part came from, as a sentence names it.
_PLACES = {"query": "query parameter", "path": "path parameter", "header": "header"}


def fault(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """StackStorm's error body."""
    return JSONResponse({"faultstring": message}, status_code=status, headers=headers)


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """Every problem of a request that did not validate, each naming its field:
    ``Invalid query parameter 'limit': Input should be a valid integer``."""
    problems = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        place = location[0] if location else ""
        field = ".".join(location[1:])
        message = str(error.get("msg", "invalid"))
        if place == "body":
            name = f"body field '{field}'" if field else "body"
        else:
            name = f"{_PLACES.get(place, place)} '{field}'" if field else place or "request"
        problems.append(f"Invalid {name}: {message}")
    return "; ".join(problems) or "Invalid request"


def install(app: FastAPI) -> None:
    """Answer the framework's errors with StackStorm's fault body."""

    async def invalid(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return fault(400, validation_message(error.errors()))

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        message = str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = f"No route for {request.method} {request.url.path}"
        elif error.status_code == 405 and message == "Method Not Allowed":
            message = f"Method {request.method} not allowed for {request.url.path}"
        return fault(error.status_code, message, headers=error.headers)

    async def unexpected(_request: Request, _error: Exception) -> JSONResponse:
        # Starlette raises the error again after this answer, and the server logs it.
        return fault(500, "Internal Server Error")

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
