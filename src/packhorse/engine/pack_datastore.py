"""The datastore as python-script actions reach it (``self.action_service``): the runner's
:class:`~packhorse.runners.datastore_channel.DatastoreChannel` bound to the engine's
:class:`~packhorse.engine.datastore.DatastoreService`, with StackStorm's user scoping (the
execution's user owns its ``user`` pairs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from packhorse.engine.datastore import DatastoreService
from packhorse.engine.events import EventService
from packhorse.errors import NotFound
from packhorse.model.datastore import KeyValue, Scope
from packhorse.runners.base import RunRequest


def _user(request: RunRequest, scope: Scope) -> str:
    return str(request.context.get("user") or "") if scope is Scope.USER else ""


class ServiceDatastoreChannel:
    """DatastoreChannel over the datastore service (secrets encrypted, masked, redacted)."""

    def __init__(self, service: DatastoreService, events: EventService | None = None) -> None:
        self._service = service
        self.events = events
        """Where ``inject_trigger`` stores trigger instances (set by the composition root)."""

    async def get_value(
        self, request: RunRequest, name: str, *, scope: Scope, decrypt: bool
    ) -> KeyValue | None:
        try:
            return self._service.get_value(
                name, scope=scope, user=_user(request, scope), decrypt=decrypt
            )
        except NotFound:
            return None

    async def set_value(
        self,
        request: RunRequest,
        name: str,
        value: str,
        *,
        scope: Scope,
        ttl: int | None,
        secret: bool,
    ) -> None:
        self._service.set_value(
            name, value, scope=scope, user=_user(request, scope), secret=secret, ttl=ttl
        )

    async def delete_value(self, request: RunRequest, name: str, *, scope: Scope) -> bool:
        try:
            self._service.delete_value(name, scope=scope, user=_user(request, scope))
        except NotFound:
            return False
        return True

    async def list_values(
        self,
        request: RunRequest,
        *,
        prefix: str | None,
        scope: Scope,
        decrypt: bool,
        limit: int | None,
        offset: int,
    ) -> Sequence[KeyValue]:
        return self._service.list_values(
            scope=scope,
            user=_user(request, scope) if scope is Scope.USER else None,
            prefix=prefix,
            decrypt=decrypt,
            limit=limit,
            offset=offset,
        )

    async def inject_trigger(
        self,
        request: RunRequest,
        trigger: str,
        payload: Mapping[str, Any],
        *,
        trace_tag: str | None,
    ) -> str:
        if self.events is None:
            raise LookupError("this process does not take trigger instances")
        if not trigger:
            raise ValueError("Trigger not specified.")
        instance = self.events.emit(
            trigger,
            payload,
            source=f"execution:{request.execution_id}",
            trace_tag=trace_tag,
        )
        return instance.id
