"""A short-lived read cache over the content registry for the hot path.

Registered content changes only when packs are registered; executions read the same action,
pack, config and schema again and again. Entries live ``ttl`` seconds, so a registration done
by another process (``packhorse pack register`` while ``up`` runs) is seen within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from packhorse.model.content import Kind, RegisteredPack, RegistryState, Resource
from packhorse.params import schema_for_action
from packhorse.storage.ports import RegistryReader

T = TypeVar("T")


class CachedRegistry:
    """:class:`RegistryReader` with a per-entry time-to-live on ``get_*`` lookups."""

    def __init__(
        self,
        reader: RegistryReader,
        *,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, object]] = {}

    def _cached(self, key: tuple[str, str], load: Callable[[], T]) -> T:
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]  # type: ignore[return-value]
        value = load()
        self._entries[key] = (now, value)
        return value

    def get_resource(self, kind: Kind, ref: str) -> Resource | None:
        return self._cached((kind.value, ref), lambda: self._reader.get_resource(kind, ref))

    def get_pack(self, ref: str) -> RegisteredPack | None:
        return self._cached(("pack", ref), lambda: self._reader.get_pack(ref))

    def list_packs(self) -> list[RegisteredPack]:
        return self._reader.list_packs()

    def list_resources(self, kind: Kind, pack: str | None = None) -> list[Resource]:
        return self._reader.list_resources(kind, pack)

    def state(self, packs: Collection[str] | None = None) -> RegistryState:
        return self._reader.state(packs)


ActionSchema = tuple[Mapping[str, Mapping[str, Any]], frozenset[str]]
"""An action's effective parameter schema and the names of its runner's parameters."""


class ActionSchemas:
    """Effective parameter schemas of actions, built once per action ref and digest.

    Building one thaws the runner's catalogue and merges the action's declarations, which
    cost a tenth of a millisecond three times per execution (validation, secret protection,
    rendering). A re-registered action has a new digest, hence a new entry. What callers get
    is shared: they read it and never change it (the parameter renderer does not).
    """

    def __init__(self, *, size: int = 1024) -> None:
        self._size = size
        self._entries: dict[tuple[str, str], ActionSchema] = {}

    def __call__(self, action: Resource) -> ActionSchema:
        key = (action.ref, action.digest)
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self._size:
                self._entries.clear()  # old digests are never asked for again
            entry = self._entries[key] = schema_for_action(action.body)
        return entry
