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


ROLES = ("viewer", "operator", "admin")
"""Users' roles, least to most: each may do what the roles before it may."""


def role_covers(role: str | None, wanted: str) -> bool:
    """Whether a user of ``role`` holds the powers of ``wanted``: its own role and those
    below it; ``admin`` holds every role, even one this build does not know (a StackStorm
    RBAC role named in an inquiry)."""
    if role == "admin":
        return True
    if role not in ROLES or wanted not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(wanted)
