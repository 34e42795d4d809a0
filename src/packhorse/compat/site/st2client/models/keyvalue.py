"""``st2client.models.KeyValuePair``: one datastore pair as the API returns it."""

from __future__ import annotations

from typing import Any

__all__ = ["KeyValuePair"]

FIELDS = ("id", "name", "value", "scope", "user", "secret", "encrypted", "ttl", "expire_timestamp")


class KeyValuePair:
    """Attributes: ``name``, ``value``, ``scope``, ``user``, ``secret``, ``ttl``..."""

    def __init__(self, **kwargs: Any) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.value: Any = None
        self.scope = "system"
        self.user: str | None = None
        self.secret = False
        self.encrypted = False
        self.ttl: int | None = None
        self.expire_timestamp: str | None = None
        for key, value in kwargs.items():
            setattr(self, key, value)

    @classmethod
    def deserialize(cls, document: dict[str, Any]) -> KeyValuePair:
        return cls(**document)

    def serialize(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in FIELDS if getattr(self, key) is not None}

    to_dict = serialize

    def __repr__(self) -> str:
        return f"<KeyValuePair name={self.name!r} scope={self.scope!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyValuePair) and self.serialize() == other.serialize()

    __hash__ = None  # type: ignore[assignment]
