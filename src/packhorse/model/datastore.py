"""Datastore values: StackStorm's key-value pairs.

Values are strings, as StackStorm stores them (complex values are JSON-encoded by whoever
sets them). A secret value is held only as a ciphertext token; decryption happens where the
value is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    """``st2kv.system`` (global) or ``st2kv.user`` (visible to one user)."""

    SYSTEM = "system"
    USER = "user"

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Accept StackStorm's spellings: ``system``, ``st2kv.system``, ``user``, ``st2kv.user``."""
        normalised = text.strip().lower().removeprefix("st2kv.")
        try:
            return cls(normalised)
        except ValueError:
            raise ValueError(f"scope must be 'system' or 'user', not {text!r}") from None

    @property
    def full(self) -> str:
        return f"st2kv.{self.value}"


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One stored pair."""

    name: str
    value: str
    """Plain text, or for a secret the ciphertext token (never the clear value)."""
    scope: Scope = Scope.SYSTEM
    user: str = ""
    """Owner of a user-scoped pair; empty for system scope."""
    secret: bool = False
    description: str = ""
    expires_at: str | None = None
    """ISO-8601 UTC (``...Z``) after which the pair is gone; None for no expiry."""
    updated_at: str = ""

    def expired(self, now: str) -> bool:
        return self.expires_at is not None and self.expires_at <= now
