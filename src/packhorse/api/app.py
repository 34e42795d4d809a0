"""The FastAPI application served by ``packhorse up``.

Routes are grouped in modules that each add an ``APIRouter``; this module only assembles them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from packhorse import __version__
from packhorse.api import errors, openapi

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    *,
    instance_id: str,
    readiness: Callable[[], str | None],
    lifespan: Lifespan | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the app. ``readiness`` returns None when ready, else why not (shown by /ready).
    ``lifespan`` starts and stops the engine parts that run beside the API."""
    app = FastAPI(
        lifespan=lifespan,
        title="Packhorse",
        version=__version__,
        description="Event-driven automation that runs StackStorm packs unchanged.",
    )

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok", "version": __version__, "instance": instance_id}

    @app.get("/ready", tags=["health"], response_model=None)
    def ready() -> dict[str, str] | JSONResponse:
        """Readiness: the database is reachable and at the schema this version expects."""
        problem = readiness()
        if problem is not None:
            return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
        return {"status": "ready", "instance": instance_id}

    for routes in routers:
        app.include_router(routes)
    errors.install(app)
    openapi.complete(app)
    return app
