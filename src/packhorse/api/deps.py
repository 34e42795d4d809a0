"""What routes depend on: the engine's services of this process (``app.state``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from fastapi import Request

if TYPE_CHECKING:
    from packhorse.engine.runtime import Runtime
    from packhorse.settings import Settings


def runtime(request: Request) -> Runtime:
    """The runtime ``packhorse up`` built: executions, datastore, inquiries, events..."""
    return cast("Runtime", request.app.state.runtime)


def settings(request: Request) -> Settings:
    return cast("Settings", request.app.state.settings)
