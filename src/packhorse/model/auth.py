"""Credentials as stored: access tokens and API keys (their secrets only as hashes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An access token, without the token itself."""

    id: str
    user: str
    """Who the token signs in."""
    expiry: str
    """UTC ISO-8601 with microseconds and ``Z``; the token is refused from then on."""
    created_at: str


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key, without the key itself. The key acts as ``user``, with that user's role."""

    id: str
    user: str
    key_hash: str
    """StackStorm's hash of the key (salted SHA-512, hex)."""
    created_at: str
    enabled: bool = True
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Free data the client attached (StackStorm's ``metadata``)."""
