"""StackStorm's v1 API (``/api/v1/...``), one module per resource; each adds an ``APIRouter``
through :func:`routers`."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every v1 router, in the order they are mounted."""
    from packhorse.api.v1 import (
        actions,
        aliases,
        bundles,
        executions,
        inquiries,
        keys,
        packs,
        rules,
        sensors,
        shadow,
        triggers,
    )

    return [
        packs.router,
        actions.router,
        executions.router,
        keys.router(),
        rules.router(),
        triggers.router(),
        sensors.router(),
        inquiries.router(),
        aliases.router,
        shadow.router(),
        bundles.router(),
    ]
