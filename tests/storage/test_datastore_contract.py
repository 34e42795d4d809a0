"""The datastore contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from packhorse.model.datastore import KeyValue, Scope
from packhorse.storage.datastore import SqlDatastore

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-01T00:00:10.000000Z"
T2 = "2026-01-01T00:00:20.000000Z"


def pair(name: str, value: str = "v", **fields: object) -> KeyValue:
    return KeyValue(name=name, value=value, updated_at=T0, **fields)  # type: ignore[arg-type]


def test_put_get_replace_delete(engine: sa.Engine) -> None:
    store = SqlDatastore(engine)
    assert store.get(Scope.SYSTEM, "", "a", now=T0) is None
    store.put(pair("a", "1", description="first"))
    assert store.get(Scope.SYSTEM, "", "a", now=T0) == pair("a", "1", description="first")
    store.put(pair("a", "2"))
    got = store.get(Scope.SYSTEM, "", "a", now=T0)
    assert got is not None and got.value == "2"
    assert store.delete(Scope.SYSTEM, "", "a") is True
    assert store.delete(Scope.SYSTEM, "", "a") is False
    assert store.get(Scope.SYSTEM, "", "a", now=T0) is None


def test_user_scope_is_per_user_and_apart_from_system(engine: sa.Engine) -> None:
    store = SqlDatastore(engine)
    store.put(pair("k", "sys"))
    store.put(pair("k", "alice's", scope=Scope.USER, user="alice"))
    store.put(pair("k", "bob's", scope=Scope.USER, user="bob"))
    assert store.get(Scope.SYSTEM, "", "k", now=T0).value == "sys"  # type: ignore[union-attr]
    assert store.get(Scope.USER, "alice", "k", now=T0).value == "alice's"  # type: ignore[union-attr]
    assert store.get(Scope.USER, "carol", "k", now=T0) is None
    assert [p.user for p in store.find(Scope.USER, None, now=T0)] == ["alice", "bob"]
    assert [p.value for p in store.find(None, None, now=T0)] == ["sys", "alice's", "bob's"]
    # a system pair ignores any user given with it
    store.put(pair("s", "x", user="ignored"))
    assert store.get(Scope.SYSTEM, "whoever", "s", now=T0) is not None


def test_ttl_hides_then_purge_removes(engine: sa.Engine) -> None:
    store = SqlDatastore(engine)
    store.put(pair("short", expires_at=T1))
    store.put(pair("long", expires_at=T2))
    store.put(pair("forever"))
    assert {p.name for p in store.find(Scope.SYSTEM, "", now=T0)} == {"short", "long", "forever"}
    assert store.get(Scope.SYSTEM, "", "short", now=T1) is None  # expiry is inclusive
    assert {p.name for p in store.find(Scope.SYSTEM, "", now=T1)} == {"long", "forever"}
    assert store.purge_expired(now=T1) == 1
    assert store.purge_expired(now=T1) == 0
    assert store.purge_expired(now=T2, batch=10) == 1
    assert [p.name for p in store.find(None, None, now=T0)] == ["forever"]


def test_prefix_listing_escapes_wildcards_and_pages(engine: sa.Engine) -> None:
    store = SqlDatastore(engine)
    store.put_many(
        [pair("app.a"), pair("app.b"), pair("app_c"), pair("appXd"), pair("other"), pair("app%")]
    )
    assert [p.name for p in store.find(Scope.SYSTEM, "", now=T0, prefix="app.")] == [
        "app.a",
        "app.b",
    ]
    assert [p.name for p in store.find(Scope.SYSTEM, "", now=T0, prefix="app_")] == ["app_c"]
    assert [p.name for p in store.find(Scope.SYSTEM, "", now=T0, prefix="app%")] == ["app%"]
    page = store.find(Scope.SYSTEM, "", now=T0, limit=2, offset=1)
    assert [p.name for p in page] == ["app.a", "app.b"]  # "app%" sorts first


def test_put_many_replaces_in_one_transaction(engine: sa.Engine) -> None:
    store = SqlDatastore(engine)
    store.put(pair("a", "old"))
    assert store.put_many([pair("a", "new"), pair("b", "x", secret=True)]) == 2
    assert store.get(Scope.SYSTEM, "", "a", now=T0).value == "new"  # type: ignore[union-attr]
    assert store.get(Scope.SYSTEM, "", "b", now=T0).secret is True  # type: ignore[union-attr]
    assert store.put_many([]) == 0
