"""Datastore access for actions and sensors, with StackStorm's local key prefix.

With ``local=True`` (the default) a name becomes ``<pack>.<ClassName>:<name>``. The calls go
through the ``Client.keys`` of :mod:`_packhorse_pack.keys`, connected to the engine's
datastore. ``st2common.services.datastore`` re-exports these classes.
"""

from __future__ import annotations

from typing import Any

from _packhorse_pack.keys import Client, KeyValuePair

__all__ = ["ActionDatastoreService", "BaseDatastoreService", "SensorDatastoreService"]

SYSTEM_SCOPE = "system"
DATASTORE_KEY_SEPARATOR = ":"
SUPPORTED_SCOPES = ("system", "st2kv.system", "user", "st2kv.user")


class BaseDatastoreService:
    """Public datastore methods; subclasses say where the API client comes from."""

    DATASTORE_NAME_SEPARATOR = DATASTORE_KEY_SEPARATOR

    def __init__(self, logger: Any, pack_name: str, class_name: str) -> None:
        self._pack_name = pack_name
        self._class_name = class_name
        self._logger = logger
        self._client: Client | None = None

    def get_user_info(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get_api_client().get_user_info()
        return result

    def list_values(
        self,
        local: bool = True,
        prefix: str | None = None,
        limit: int | None = None,
        offset: int | None = 0,
    ) -> list[KeyValuePair]:
        key_prefix = self._get_full_key_prefix(local=local, prefix=prefix)
        return self.get_api_client().keys.get_all(
            prefix=key_prefix, limit=limit, offset=offset or 0
        )

    def get_value(
        self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE, decrypt: bool = False
    ) -> Any:
        _check_scope(scope)
        name = self._get_full_key_name(name=name, local=local)
        self._logger.debug("Retrieving value from the datastore (name=%s)", name)
        try:
            params = {"decrypt": str(decrypt).lower(), "scope": scope}
            pair = self.get_api_client().keys.get_by_id(id=name, params=params)
        except Exception as error:
            self._logger.exception(
                "Exception retrieving value from datastore (name=%s): %s", name, error
            )
            return None
        return pair.value if pair else None

    def set_value(
        self,
        name: str,
        value: Any,
        ttl: int | None = None,
        local: bool = True,
        scope: str = SYSTEM_SCOPE,
        encrypt: bool = False,
    ) -> bool:
        _check_scope(scope)
        name = self._get_full_key_name(name=name, local=local)
        self._logger.debug("Setting value in the datastore (name=%s)", name)
        pair = KeyValuePair(id=name, name=name, value=str(value), scope=scope)
        if encrypt:
            pair.secret = True
        if ttl:
            pair.ttl = ttl
        self.get_api_client().keys.update(instance=pair)
        return True

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        _check_scope(scope)
        name = self._get_full_key_name(name=name, local=local)
        self._logger.debug("Deleting value from the datastore (name=%s)", name)
        pair = KeyValuePair(id=name, name=name, scope=scope)
        try:
            return self.get_api_client().keys.delete(instance=pair, params={"scope": scope})
        except Exception as error:
            self._logger.exception(
                "Exception deleting value from datastore (name=%s): %s", name, error
            )
            return False

    def get_api_client(self) -> Client:
        if self._client is None:
            self._client = Client()
        return self._client

    def _get_full_key_name(self, name: str, local: bool) -> str:
        return self._get_key_name_with_prefix(name) if local else name

    def _get_full_key_prefix(self, local: bool, prefix: str | None = None) -> str | None:
        if not local:
            return prefix
        return self._get_local_key_name_prefix() + (prefix or "")

    def _get_local_key_name_prefix(self) -> str:
        return self._get_datastore_key_prefix() + self.DATASTORE_NAME_SEPARATOR

    def _get_key_name_with_prefix(self, name: str) -> str:
        return self._get_local_key_name_prefix() + name

    def _get_datastore_key_prefix(self) -> str:
        return f"{self._pack_name}.{self._class_name}"


class ActionDatastoreService(BaseDatastoreService):
    """The datastore service of a python-script action."""

    def __init__(
        self,
        logger: Any,
        pack_name: str,
        class_name: str,
        auth_token: str | None = None,
        user_info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(logger=logger, pack_name=pack_name, class_name=class_name)
        self._auth_token = auth_token
        self._user_info = user_info

    def get_user_info(self) -> dict[str, Any]:
        if self._user_info is not None:
            return dict(self._user_info)
        return super().get_user_info()


class SensorDatastoreService(BaseDatastoreService):
    """The datastore service of a sensor."""

    def __init__(
        self,
        logger: Any,
        pack_name: str,
        class_name: str,
        api_username: str | None = None,
        user_info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(logger=logger, pack_name=pack_name, class_name=class_name)
        self._api_username = api_username
        self._user_info = user_info

    def get_user_info(self) -> dict[str, Any]:
        if self._user_info is not None:
            return dict(self._user_info)
        return super().get_user_info()


def _check_scope(scope: str) -> None:
    # StackStorm accepts only the system scope here; Packhorse also serves the user scope
    # (the execution's user), which StackStorm code never asks for.
    if scope not in SUPPORTED_SCOPES:
        raise ValueError(f"Scope {scope} is unsupported.")
