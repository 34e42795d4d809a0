"""The ``st2client`` stand-in: ``Client`` and ``KeyValuePair``; keys go through the engine's
datastore channel, other API calls need Packhorse's REST API and raise
:class:`PackhorseAPIUnavailable`. ``st2client.client`` and ``st2client.models`` re-export these.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Client", "KeyValuePair", "PackhorseAPIUnavailable"]

API_UNAVAILABLE = "st2client API calls need the Packhorse API (coming with the REST API issue)"


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


class PackhorseAPIUnavailable(RuntimeError):
    """The call needs Packhorse's StackStorm-compatible REST API, which is not built yet."""


def _channel() -> Any:
    from _packhorse_pack import channel

    return channel.current()


def _scope(params: dict[str, Any] | None, scope: str | None) -> str:
    chosen = (params or {}).get("scope") or scope or "system"
    return str(chosen).removeprefix("st2kv.")


def _decrypt(params: dict[str, Any] | None, decrypt: bool) -> bool:
    value = (params or {}).get("decrypt", decrypt)
    return value is True or str(value).lower() == "true"


class KeyValuePairManager:
    """``client.keys``: names are full names (no pack/class prefix is added here)."""

    def get_by_name(
        self, name: str, scope: str = "system", decrypt: bool = False, **kwargs: Any
    ) -> KeyValuePair | None:
        params = kwargs.get("params")
        item = _channel().call(
            "get", name=name, scope=_scope(params, scope), decrypt=_decrypt(params, decrypt)
        )
        return None if item is None else KeyValuePair(id=item["name"], **item)

    def get_by_id(self, id: str, **kwargs: Any) -> KeyValuePair | None:
        return self.get_by_name(id, **kwargs)

    def get_all(
        self,
        prefix: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        **kwargs: Any,
    ) -> list[KeyValuePair]:
        params = kwargs.get("params") or {}
        items = _channel().call(
            "list",
            prefix=prefix or params.get("prefix"),
            limit=limit,
            offset=offset or 0,
            scope=_scope(params, kwargs.get("scope")),
            decrypt=_decrypt(params, bool(kwargs.get("decrypt", False))),
        )
        return [KeyValuePair(id=item["name"], **item) for item in items]

    def query(self, **kwargs: Any) -> list[KeyValuePair]:
        return self.get_all(**kwargs)

    def update(self, instance: KeyValuePair, **kwargs: Any) -> KeyValuePair:
        _channel().call(
            "set",
            name=instance.name or instance.id,
            value=str(instance.value),
            scope=_scope(kwargs.get("params"), instance.scope),
            ttl=instance.ttl,
            secret=bool(instance.secret),
        )
        return instance

    create = update

    def delete(self, instance: KeyValuePair, **kwargs: Any) -> bool:
        return bool(
            _channel().call(
                "delete",
                name=instance.name or instance.id,
                scope=_scope(kwargs.get("params"), instance.scope),
            )
        )


class _Unavailable:
    """A resource manager whose every method needs the REST API."""

    def __init__(self, resource: str) -> None:
        self._resource = resource

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise PackhorseAPIUnavailable(f"{self._resource}.{name}: {API_UNAVAILABLE}")

        return call


class WebhookManager:
    """``client.webhooks``: the generic webhook fires a trigger (``core.inject_trigger``)."""

    def post_generic_webhook(
        self,
        trigger: str,
        payload: dict[str, Any] | None = None,
        trace_tag: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        _channel().call("inject", trigger=trigger, payload=payload or {}, trace_tag=trace_tag)
        body: dict[str, Any] = {"trigger": trigger, "payload": payload or {}}
        if trace_tag:
            body["trace_tag"] = trace_tag
        return body  # what StackStorm's webhook answers: the request body


class Client:
    """An API client. ``keys`` and ``webhooks.post_generic_webhook`` work now; the rest waits
    for Packhorse's REST API."""

    def __init__(
        self,
        base_url: str | None = None,
        api_url: str | None = None,
        token: str | None = None,
        api_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.api_url = api_url
        self.base_url = base_url
        self.token = token
        self.api_key = api_key
        self.keys = KeyValuePairManager()
        self.webhooks = WebhookManager()
        self.executions = _Unavailable("executions")
        self.liveactions = self.executions
        self.actions = _Unavailable("actions")
        self.triggertypes = _Unavailable("triggertypes")
        self.triggerinstances = _Unavailable("triggerinstances")
        self.rules = _Unavailable("rules")
        self.packs = _Unavailable("packs")
        self.inquiries = _Unavailable("inquiries")

    def get_user_info(self) -> dict[str, Any]:
        raise PackhorseAPIUnavailable(f"get_user_info: {API_UNAVAILABLE}")
