"""The datastore channel: how a python-script action reaches the datastore.

The pack process sends one JSON line per call over a socket the runner gave it; the runner
answers by calling a :class:`DatastoreChannel`, which the engine binds to its datastore
service. Names arrive complete: the pack side has already applied StackStorm's local prefix
``<pack>.<ClassName>:``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from packhorse.model.datastore import KeyValue, Scope
from packhorse.runners.base import RunRequest

__all__ = ["DatastoreChannel", "InMemoryDatastoreChannel", "serve_datastore"]


class DatastoreChannel(Protocol):
    """The engine side of an action's datastore calls.

    ``request`` says which execution asks (its user owns ``Scope.USER`` pairs). Errors raised
    here reach the action as exceptions (``get_value`` turns them into ``None``, as
    StackStorm's does).
    """

    async def get_value(
        self, request: RunRequest, name: str, *, scope: Scope, decrypt: bool
    ) -> KeyValue | None:
        """The pair, or None when there is none (a secret shows its clear value only with
        ``decrypt``)."""
        ...

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
        """Create or replace a pair (encrypted when ``secret``)."""
        ...

    async def delete_value(self, request: RunRequest, name: str, *, scope: Scope) -> bool:
        """Delete a pair; False when there was none."""
        ...

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
        """Pairs whose names start with ``prefix`` (all pairs when None), by name."""
        ...

    async def inject_trigger(
        self,
        request: RunRequest,
        trigger: str,
        payload: Mapping[str, Any],
        *,
        trace_tag: str | None,
    ) -> str:
        """Fire ``trigger`` (``core.inject_trigger``, the API client's generic webhook);
        returns the new trigger instance's id."""
        ...


class InMemoryDatastoreChannel:
    """A complete datastore channel in a dict (tests, shadow runs). Secrets are not encrypted,
    only flagged and masked; TTLs are not enforced."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[Scope, str, str], KeyValue] = {}
        self.injected: list[tuple[str, Mapping[str, Any], str | None]] = []

    @staticmethod
    def _user(request: RunRequest, scope: Scope) -> str:
        return str(request.context.get("user", "")) if scope is Scope.USER else ""

    async def get_value(
        self, request: RunRequest, name: str, *, scope: Scope, decrypt: bool
    ) -> KeyValue | None:
        pair = self.pairs.get((scope, self._user(request, scope), name))
        return pair if pair is None or decrypt else masked(pair)

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
        user = self._user(request, scope)
        self.pairs[(scope, user, name)] = KeyValue(
            name=name, value=value, scope=scope, user=user, secret=secret
        )

    async def delete_value(self, request: RunRequest, name: str, *, scope: Scope) -> bool:
        return self.pairs.pop((scope, self._user(request, scope), name), None) is not None

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
        user = self._user(request, scope)
        found = sorted(
            (pair for (s, u, name), pair in self.pairs.items() if s is scope and u == user)
            if prefix is None
            else (
                pair
                for (s, u, name), pair in self.pairs.items()
                if s is scope and u == user and name.startswith(prefix)
            ),
            key=lambda pair: pair.name,
        )
        end = None if limit is None else offset + limit
        return [pair if decrypt else masked(pair) for pair in found[offset:end]]

    async def inject_trigger(
        self,
        request: RunRequest,
        trigger: str,
        payload: Mapping[str, Any],
        *,
        trace_tag: str | None,
    ) -> str:
        self.injected.append((trigger, payload, trace_tag))
        return f"injected-{len(self.injected)}"


class NoDatastore:
    """The channel of a runner built without one: every call fails, saying so."""

    async def _refuse(self) -> Any:
        raise LookupError("this runner has no datastore bound")

    async def get_value(
        self, request: RunRequest, name: str, *, scope: Scope, decrypt: bool
    ) -> KeyValue | None:
        return await self._refuse()  # type: ignore[no-any-return]

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
        await self._refuse()

    async def delete_value(self, request: RunRequest, name: str, *, scope: Scope) -> bool:
        return await self._refuse()  # type: ignore[no-any-return]

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
        return await self._refuse()  # type: ignore[no-any-return]

    async def inject_trigger(
        self,
        request: RunRequest,
        trigger: str,
        payload: Mapping[str, Any],
        *,
        trace_tag: str | None,
    ) -> str:
        return await self._refuse()  # type: ignore[no-any-return]


def _wire(pair: KeyValue | None) -> dict[str, Any] | None:
    if pair is None:
        return None
    document: dict[str, Any] = {
        "name": pair.name,
        "value": pair.value,
        "scope": pair.scope.value,
        "secret": pair.secret,
    }
    if pair.user:
        document["user"] = pair.user
    if pair.expires_at:
        document["expire_timestamp"] = pair.expires_at
    return document


async def _answer(channel: DatastoreChannel, request: RunRequest, call: dict[str, Any]) -> Any:
    args = call.get("args") or {}
    scope = Scope.parse(str(args.get("scope") or "system"))
    name = str(args.get("name", ""))
    match call.get("op"):
        case "get":
            pair = await channel.get_value(
                request, name, scope=scope, decrypt=bool(args.get("decrypt"))
            )
            return _wire(pair)
        case "set":
            ttl = args.get("ttl")
            await channel.set_value(
                request,
                name,
                str(args.get("value")),
                scope=scope,
                ttl=int(ttl) if ttl else None,
                secret=bool(args.get("secret")),
            )
            return True
        case "delete":
            return await channel.delete_value(request, name, scope=scope)
        case "list":
            limit = args.get("limit")
            pairs = await channel.list_values(
                request,
                prefix=args.get("prefix"),
                scope=scope,
                decrypt=bool(args.get("decrypt")),
                limit=int(limit) if limit else None,
                offset=int(args.get("offset") or 0),
            )
            return [_wire(pair) for pair in pairs]
        case "inject":
            payload = args.get("payload")
            return await channel.inject_trigger(
                request,
                str(args.get("trigger") or ""),
                payload if isinstance(payload, dict) else {},
                trace_tag=args.get("trace_tag"),
            )
        case other:
            raise ValueError(f"unknown datastore operation {other!r}")


async def serve_datastore(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    channel: DatastoreChannel,
    request: RunRequest,
) -> int:
    """Answer the action's datastore calls until it closes its end; returns the call count."""
    calls = 0
    try:
        while line := await reader.readline():
            calls += 1
            try:
                reply: dict[str, Any] = {"ok": await _answer(channel, request, json.loads(line))}
            except Exception as error:  # noqa: BLE001 - the action gets the message; the run goes on
                reply = {"error": f"{type(error).__name__}: {error}"}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()
    return calls


def masked(pair: KeyValue) -> KeyValue:
    """``pair`` as a caller without ``decrypt`` sees it."""
    return replace(pair, value="********") if pair.secret else pair
