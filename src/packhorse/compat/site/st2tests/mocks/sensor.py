"""The sensor service of pack tests: records dispatched triggers, in-memory datastore."""

from __future__ import annotations

from logging import RootLogger
from typing import Any
from unittest.mock import Mock

from _packhorse_pack.datastore import SYSTEM_SCOPE

from st2tests.mocks.datastore import MockDatastoreService

__all__ = ["MockSensorService", "MockSensorWrapper"]


class MockSensorWrapper:
    def __init__(self, pack: str, class_name: str) -> None:
        self._pack = pack
        self._class_name = class_name


class MockSensorService:
    def __init__(self, sensor_wrapper: Any) -> None:
        self._sensor_wrapper = sensor_wrapper
        self._logger = Mock(spec=RootLogger)
        self.dispatched_triggers: list[dict[str, Any]] = []
        self._datastore_service = MockDatastoreService(
            logger=self._logger,
            pack_name=sensor_wrapper._pack,
            class_name=sensor_wrapper._class_name,
        )

    @property
    def datastore_service(self) -> MockDatastoreService:
        return self._datastore_service

    def get_logger(self, name: str) -> Any:
        """A ``Mock`` logger: tests can assert what was logged."""
        return self._logger

    def dispatch(self, trigger: Any, payload: Any = None, trace_tag: str | None = None) -> Any:
        trace_context = {"trace_tag": trace_tag} if trace_tag else None
        return self.dispatch_with_context(trigger, payload=payload, trace_context=trace_context)

    def dispatch_with_context(
        self, trigger: Any, payload: Any = None, trace_context: Any = None
    ) -> dict[str, Any]:
        item = {"trigger": trigger, "payload": payload, "trace_context": trace_context}
        self.dispatched_triggers.append(item)
        return item

    def get_user_info(self) -> dict[str, Any]:
        return self._datastore_service.get_user_info()

    def list_values(
        self,
        local: bool = True,
        prefix: str | None = None,
        limit: int | None = None,
        offset: int | None = 0,
    ) -> Any:
        return self._datastore_service.list_values(
            local=local, prefix=prefix, limit=limit, offset=offset
        )

    def get_value(
        self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE, decrypt: bool = False
    ) -> Any:
        return self._datastore_service.get_value(name, local=local, scope=scope, decrypt=decrypt)

    def set_value(
        self,
        name: str,
        value: Any,
        ttl: int | None = None,
        local: bool = True,
        scope: str = SYSTEM_SCOPE,
        encrypt: bool = False,
    ) -> bool:
        return self._datastore_service.set_value(
            name, value, ttl=ttl, local=local, scope=scope, encrypt=encrypt
        )

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        return self._datastore_service.delete_value(name, local=local, scope=scope)
