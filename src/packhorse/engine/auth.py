"""Who is calling: passwords, access tokens and API keys checked against the stores.

Tokens are random and stored only as their SHA-256, so a dump of the database signs no one
in. API keys are stored as StackStorm's salted SHA-512 (``st2common.util.hash``), so that
keys exported from StackStorm with their ``key_hash`` keep working after a move. Neither is
ever logged. The clock and the random source are passed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from packhorse.engine.clock import iso, utc_now
from packhorse.engine.ids import new_id
from packhorse.engine.passwords import verify_password
from packhorse.errors import NotFound, Unauthenticated
from packhorse.model.auth import ApiKeyRecord, TokenRecord
from packhorse.storage.ports import AuthStore, UserStore

DEFAULT_TOKEN_TTL = 24 * 3600
_STACKSTORM_KEY_SALT = b"saltnpepper"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_key_hash(key: str) -> str:
    """StackStorm's hash of an API key: SHA-512 of its fixed salt and the key, in hex."""
    return hashlib.sha512(_STACKSTORM_KEY_SALT + key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: the user and the role stored for it."""

    user: str
    role: str
    method: str
    """``authentication token`` or ``API key`` (StackStorm's words)."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    record: TokenRecord
    token: str
    """The token in clear: handed to the caller once, never stored."""


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    record: ApiKeyRecord
    key: str
    """The key in clear: shown once, never stored."""


class AuthService:
    """Signs users in and recognises their tokens and API keys."""

    def __init__(
        self,
        users: UserStore,
        store: AuthStore,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        random_token: Callable[[], str] = lambda: secrets.token_hex(16),
        random_key: Callable[[], str] = lambda: secrets.token_urlsafe(48),
    ) -> None:
        self.users = users
        self.store = store
        self._clock = clock
        self._random_token = random_token
        self._random_key = random_key

    def check_password(self, user: str, password: str) -> bool:
        stored = self.users.get_password_hash(user)
        return stored is not None and verify_password(password, stored)

    def issue_token(self, user: str, ttl: int) -> IssuedToken:
        """A new token for ``user``, valid ``ttl`` seconds (expired ones are purged here)."""
        now = self._clock()
        self.store.delete_expired_tokens(iso(now))
        token = self._random_token()
        record = TokenRecord(
            id=new_id(),
            user=user,
            expiry=iso(now + dt.timedelta(seconds=ttl)),
            created_at=iso(now),
        )
        self.store.add_token(record, token_hash(token))
        return IssuedToken(record, token)

    def validate_token(self, token: str) -> TokenRecord:
        """The token's record; raises Unauthenticated when unknown or expired."""
        record = self.store.find_token(token_hash(token))
        if record is None:
            raise Unauthenticated("Token is not found.")
        if record.expiry <= iso(self._clock()):
            raise Unauthenticated("Token has expired.")
        return record

    def revoke_token(self, token: str) -> bool:
        """Forget a token at once (signing out of the console); False when unknown."""
        return self.store.delete_token(token_hash(token))

    def create_api_key(
        self, user: str, *, metadata: Mapping[str, Any] | None = None, enabled: bool = True
    ) -> IssuedApiKey:
        """A new key acting as ``user``, who must exist (the key takes the user's role)."""
        if self.users.get_role(user) is None:
            raise NotFound("user", user)
        key = self._random_key()
        record = ApiKeyRecord(
            id=new_id(),
            user=user,
            key_hash=api_key_hash(key),
            created_at=iso(self._clock()),
            enabled=enabled,
            metadata=dict(metadata or {}),
        )
        self.store.add_api_key(record)
        return IssuedApiKey(record, key)

    def import_api_key(
        self,
        user: str,
        key_hash: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        enabled: bool = True,
    ) -> ApiKeyRecord:
        """Store a key made elsewhere by its StackStorm ``key_hash`` (``st2 apikey load``)."""
        if self.users.get_role(user) is None:
            raise NotFound("user", user)
        record = ApiKeyRecord(
            id=new_id(),
            user=user,
            key_hash=key_hash,
            created_at=iso(self._clock()),
            enabled=enabled,
            metadata=dict(metadata or {}),
        )
        self.store.add_api_key(record)
        return record

    def find_api_key(self, key_or_id: str) -> ApiKeyRecord:
        """A key by its value or its id (as StackStorm's ``get_by_key_or_id``)."""
        record = self.store.find_api_key(api_key_hash(key_or_id)) or self.store.get_api_key(
            key_or_id
        )
        if record is None:
            raise NotFound("API key", key_or_id)
        return record

    def update_api_key(
        self, record: ApiKeyRecord, *, user: str, enabled: bool, metadata: Mapping[str, Any]
    ) -> ApiKeyRecord:
        if self.users.get_role(user) is None:
            raise NotFound("user", user)
        updated = replace(record, user=user, enabled=enabled, metadata=dict(metadata))
        self.store.update_api_key(updated)
        return updated

    def authenticate(self, *, token: str | None = None, api_key: str | None = None) -> Caller:
        """The caller behind a token or an API key (the token wins when both are given)."""
        if token:
            user, method = self.validate_token(token).user, "authentication token"
        elif api_key:
            record = self.store.find_api_key(api_key_hash(api_key))
            if record is None:
                raise Unauthenticated("API key is not found.")
            if not record.enabled:
                raise Unauthenticated("API key is disabled.")
            user, method = record.user, "API key"
        else:
            raise Unauthenticated("One of Token or API key required.")
        role = self.users.get_role(user)
        if role is None:
            raise Unauthenticated(f"User {user!r} does not exist.")
        return Caller(user, role, method)
