"""``self.action_service`` of a python-script action (StackStorm's ``ActionService``)."""

from __future__ import annotations

from typing import Any

from _packhorse_pack.base import get_logger_for_python_runner_action
from _packhorse_pack.datastore import SYSTEM_SCOPE, ActionDatastoreService, BaseDatastoreService

__all__ = ["ActionService", "ActionWrapperInfo", "DatastoreMethods"]


class ActionWrapperInfo:
    """What the action service and ``Action.__init__`` read about the running action."""

    def __init__(
        self,
        pack: str,
        class_name: str,
        log_level: str = "debug",
        user_info: dict[str, Any] | None = None,
    ) -> None:
        self._pack = pack
        self._class_name = class_name
        self._log_level = log_level
        self._user_info = user_info


class DatastoreMethods:
    """StackStorm's datastore methods of ``action_service`` and ``sensor_service``, passed to
    the service's ``datastore_service``."""

    @property
    def datastore_service(self) -> BaseDatastoreService:
        raise NotImplementedError

    def get_user_info(self) -> dict[str, Any]:
        return self.datastore_service.get_user_info()

    def list_values(
        self,
        local: bool = True,
        prefix: str | None = None,
        limit: int | None = None,
        offset: int | None = 0,
    ) -> Any:
        return self.datastore_service.list_values(
            local=local, prefix=prefix, limit=limit, offset=offset
        )

    def get_value(
        self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE, decrypt: bool = False
    ) -> Any:
        return self.datastore_service.get_value(
            name=name, local=local, scope=scope, decrypt=decrypt
        )

    def set_value(
        self,
        name: str,
        value: Any,
        ttl: int | None = None,
        local: bool = True,
        scope: str = SYSTEM_SCOPE,
        encrypt: bool = False,
    ) -> bool:
        return self.datastore_service.set_value(
            name=name, value=value, ttl=ttl, local=local, scope=scope, encrypt=encrypt
        )

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        return self.datastore_service.delete_value(name=name, local=local, scope=scope)


class ActionService(DatastoreMethods):
    """Datastore access and user information for one action instance."""

    def __init__(self, action_wrapper: Any) -> None:
        self._action_wrapper = action_wrapper
        self._datastore_service: BaseDatastoreService | None = None

    @property
    def datastore_service(self) -> BaseDatastoreService:
        if self._datastore_service is None:
            wrapper = self._action_wrapper
            logger = get_logger_for_python_runner_action(
                action_name=wrapper._class_name, log_level=wrapper._log_level
            )
            self._datastore_service = ActionDatastoreService(
                logger=logger,
                pack_name=wrapper._pack,
                class_name=wrapper._class_name,
                user_info=getattr(wrapper, "_user_info", None),
            )
        return self._datastore_service
