"""Access tokens in the auth store, on SQLite and PostgreSQL: found by their hash, deleted one
at a time (signing out) or all the expired ones."""

from __future__ import annotations

import sqlalchemy as sa

from packhorse.model.auth import TokenRecord
from packhorse.storage.auth import SqlAuthStore


def token(token_id: str, expiry: str) -> TokenRecord:
    return TokenRecord(
        id=token_id, user="otto", expiry=expiry, created_at="2026-11-28T00:00:00.000000Z"
    )


def test_a_token_is_deleted_by_its_hash_and_only_that_one(engine: sa.Engine) -> None:
    store = SqlAuthStore(engine)
    store.add_token(token("t1", "2026-11-29T00:00:00.000000Z"), "h1")
    store.add_token(token("t2", "2026-11-29T00:00:00.000000Z"), "h2")
    assert store.delete_token("h1") is True
    assert store.find_token("h1") is None
    found = store.find_token("h2")
    assert found is not None and found.id == "t2"
    assert store.delete_token("h1") is False  # already gone: signing out twice is harmless


def test_expired_tokens_are_deleted_together(engine: sa.Engine) -> None:
    store = SqlAuthStore(engine)
    store.add_token(token("old", "2026-11-28T01:00:00.000000Z"), "h-old")
    store.add_token(token("new", "2026-11-28T03:00:00.000000Z"), "h-new")
    assert store.delete_expired_tokens("2026-11-28T02:00:00.000000Z") == 1
    assert store.find_token("h-old") is None and store.find_token("h-new") is not None
