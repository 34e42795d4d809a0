"""StackStorm's error bodies: ``{"faultstring": "..."}`` with the HTTP status."""

from __future__ import annotations

from fastapi.responses import JSONResponse


def fault(status: int, message: str) -> JSONResponse:
    """StackStorm's error body."""
    return JSONResponse({"faultstring": message}, status_code=status)
