"""An in-memory datastore service for pack tests, with the local prefix."""

from __future__ import annotations

from typing import Any

from _packhorse_pack.datastore import SYSTEM_SCOPE, BaseDatastoreService
from _packhorse_pack.keys import KeyValuePair

__all__ = ["MockDatastoreService"]


class MockDatastoreService(BaseDatastoreService):
    def __init__(
        self, logger: Any, pack_name: str, class_name: str, api_username: str | None = None
    ) -> None:
        super().__init__(logger=logger, pack_name=pack_name, class_name=class_name)
        self._username = api_username or "admin"
        self._datastore_items: dict[str, KeyValuePair] = {}

    def get_user_info(self) -> dict[str, Any]:
        return {
            "username": self._username,
            "rbac": {"is_admin": True, "enabled": True, "roles": ["admin"]},
            "authentication": {"method": "authentication token", "location": "header"},
        }

    def list_values(
        self,
        local: bool = True,
        prefix: str | None = None,
        limit: int | None = None,
        offset: int | None = 0,
    ) -> list[KeyValuePair]:
        key_prefix = self._get_full_key_prefix(local=local, prefix=prefix)
        return [
            pair
            for name, pair in self._datastore_items.items()
            if not key_prefix or name.startswith(key_prefix)
        ]

    def get_value(
        self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE, decrypt: bool = False
    ) -> Any:
        pair = self._datastore_items.get(self._get_full_key_name(name=name, local=local))
        return None if pair is None else pair.value

    def set_value(
        self,
        name: str,
        value: Any,
        ttl: int | None = None,
        local: bool = True,
        scope: str = SYSTEM_SCOPE,
        encrypt: bool = False,
    ) -> bool:
        name = self._get_full_key_name(name=name, local=local)
        pair = KeyValuePair(id=name, name=name, value=value)
        if ttl:
            self._logger.warning("MockDatastoreService is not able to expire keys based on ttl.")
            pair.ttl = ttl
        self._datastore_items[name] = pair
        return True

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        name = self._get_full_key_name(name=name, local=local)
        return self._datastore_items.pop(name, None) is not None
