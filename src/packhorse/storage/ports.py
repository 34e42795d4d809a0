"""Storage ports: one protocol per aggregate. Adapters live beside them; the composition
root (``bootstrap.py``) chooses which to wire. Every adapter passes the same contract tests."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Protocol

from packhorse.model.auth import ApiKeyRecord, TokenRecord
from packhorse.model.content import Kind, RegisteredPack, RegistryState, Resource
from packhorse.model.datastore import KeyValue, Scope

if TYPE_CHECKING:
    from packhorse.packs.plan import Plan


class RegistryReader(Protocol):
    """Read side of the content registry."""

    def list_packs(self) -> list[RegisteredPack]:
        """Every registered pack, sorted by ref."""
        ...

    def get_pack(self, ref: str) -> RegisteredPack | None: ...

    def list_resources(self, kind: Kind, pack: str | None = None) -> list[Resource]:
        """Resources of one kind (optionally of one pack), sorted by ref."""
        ...

    def get_resource(self, kind: Kind, ref: str) -> Resource | None: ...

    def state(self, packs: Collection[str] | None = None) -> RegistryState:
        """Digests of the given packs and their resources (all packs when None)."""
        ...


class ContentRegistry(RegistryReader, Protocol):
    """The content registry: what packs are registered and what they hold."""

    def set_enabled(self, kind: Kind, ref: str, enabled: bool) -> bool:
        """Enable or disable one resource; False when it is not registered."""
        ...

    def apply(self, plan: Plan, *, now: str) -> None:
        """Carry out a registration plan in one transaction, all or nothing.

        ``now`` is the ISO-8601 time recorded on changed packs.
        """
        ...


class UserStore(Protocol):
    """Users who may sign in; passwords are stored only as hashes."""

    def add_user(self, name: str, password_hash: str, role: str, *, now: str) -> None:
        """Create a user; raises Conflict when the name is taken."""
        ...

    def get_password_hash(self, name: str) -> str | None: ...

    def get_role(self, name: str) -> str | None:
        """The user's role, or None when there is no such user."""
        ...

    def remove_user(self, name: str) -> bool:
        """Remove the user and its tokens and API keys; False when there was no such user."""
        ...

    def list_users(self) -> list[tuple[str, str, str]]:
        """``(name, role, created_at)`` of every user, sorted by name."""
        ...


class AuthStore(Protocol):
    """Access tokens and API keys, stored by the hash of their secret, never the secret."""

    def add_token(self, token: TokenRecord, token_hash: str) -> None: ...

    def find_token(self, token_hash: str) -> TokenRecord | None: ...

    def delete_token(self, token_hash: str) -> bool: ...

    def delete_expired_tokens(self, now: str) -> int: ...

    def add_api_key(self, key: ApiKeyRecord) -> None:
        """Store a new key; raises Conflict when its hash is already stored."""
        ...

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every key, sorted by user, then creation."""
        ...

    def update_api_key(self, key: ApiKeyRecord) -> None:
        """Change the user, ``enabled`` and metadata of the key with ``key.id``."""
        ...

    def delete_api_key(self, key_id: str) -> bool: ...


class Datastore(Protocol):
    """StackStorm's key-value datastore. Expired pairs are invisible before they are purged."""

    def get(self, scope: Scope, user: str, name: str, *, now: str) -> KeyValue | None: ...

    def put(self, pair: KeyValue) -> None:
        """Create or replace one pair."""
        ...

    def put_many(self, pairs: Iterable[KeyValue]) -> int:
        """Create or replace many pairs in one transaction; returns the count."""
        ...

    def delete(self, scope: Scope, user: str, name: str) -> bool:
        """Remove a pair; False when there was none."""
        ...

    def find(
        self,
        scope: Scope | None,
        user: str | None,
        *,
        now: str,
        prefix: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[KeyValue]:
        """Live pairs sorted by scope, user, name; None scope or user matches any."""
        ...

    def purge_expired(self, *, now: str, batch: int = 500) -> int:
        """Delete up to ``batch`` expired pairs; returns how many were deleted."""
        ...

    def secret_pairs(
        self, *, after: tuple[str, str, str] | None = None, limit: int = 500
    ) -> list[KeyValue]:
        """Secret pairs, expired included, ordered by (scope, user, name), after ``after``."""
        ...

    def swap_values(self, swaps: Iterable[tuple[KeyValue, str]]) -> int:
        """Compare-and-set values in one transaction; returns how many were replaced."""
        ...
