"""Datastore key-value pairs on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from packhorse.model.datastore import KeyValue, Scope
from packhorse.storage import schema
from packhorse.storage.database import transaction

_table = schema.kv_pairs
_columns = [
    _table.c.name,
    _table.c.value,
    _table.c.scope,
    _table.c.user,
    _table.c.secret,
    _table.c.description,
    _table.c.expires_at,
    _table.c.updated_at,
]


def _pair(row: Sequence[Any]) -> KeyValue:
    name, value, scope, user, secret, description, expires_at, updated_at = row
    return KeyValue(
        name=name,
        value=value,
        scope=Scope(scope),
        user=user,
        secret=bool(secret),
        description=description,
        expires_at=expires_at,
        updated_at=updated_at,
    )


def _row(pair: KeyValue) -> dict[str, Any]:
    return {
        "scope": pair.scope.value,
        "user": pair.user if pair.scope is Scope.USER else "",
        "name": pair.name,
        "value": pair.value,
        "secret": pair.secret,
        "description": pair.description,
        "expires_at": pair.expires_at,
        "updated_at": pair.updated_at,
    }


def _live(now: str) -> sa.ColumnElement[bool]:
    return sa.or_(_table.c.expires_at.is_(None), _table.c.expires_at > now)


def _key(scope: Scope, user: str, name: str) -> sa.ColumnElement[bool]:
    owner = user if scope is Scope.USER else ""
    return sa.and_(_table.c.scope == scope.value, _table.c.user == owner, _table.c.name == name)


class SqlDatastore:
    """:class:`~packhorse.storage.ports.Datastore` over an SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def get(self, scope: Scope, user: str, name: str, *, now: str) -> KeyValue | None:
        query = sa.select(*_columns).where(_key(scope, user, name), _live(now))
        with transaction(self._engine) as connection:
            row = connection.execute(query).first()
        return _pair(row) if row else None

    def put(self, pair: KeyValue) -> None:
        with transaction(self._engine, write=True) as connection:
            connection.execute(_table.delete().where(_key(pair.scope, pair.user, pair.name)))
            connection.execute(_table.insert(), _row(pair))

    def put_many(self, pairs: Iterable[KeyValue]) -> int:
        """Upsert many pairs in one transaction (``key load``, imports, rotation)."""
        rows = [_row(pair) for pair in pairs]
        with transaction(self._engine, write=True) as connection:
            for row in rows:
                connection.execute(
                    _table.delete().where(
                        _table.c.scope == row["scope"],
                        _table.c.user == row["user"],
                        _table.c.name == row["name"],
                    )
                )
            if rows:
                connection.execute(_table.insert(), rows)
        return len(rows)

    def delete(self, scope: Scope, user: str, name: str) -> bool:
        with transaction(self._engine, write=True) as connection:
            result = connection.execute(_table.delete().where(_key(scope, user, name)))
        return bool(result.rowcount)

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
        """Live pairs, sorted by scope, user and name. ``None`` scope or user means any."""
        query = sa.select(*_columns).where(_live(now))
        if scope is not None:
            query = query.where(_table.c.scope == scope.value)
        if user is not None:
            query = query.where(_table.c.user == user)
        if prefix:
            query = query.where(_table.c.name.startswith(prefix, autoescape=True))
        query = query.order_by(_table.c.scope, _table.c.user, _table.c.name).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with transaction(self._engine) as connection:
            return [_pair(row) for row in connection.execute(query)]

    def purge_expired(self, *, now: str, batch: int = 500) -> int:
        """Delete up to ``batch`` expired pairs; returns how many went (call until 0)."""
        keys = (
            sa.select(_table.c.scope, _table.c.user, _table.c.name)
            .where(_table.c.expires_at.is_not(None), _table.c.expires_at <= now)
            .limit(batch)
        )
        with transaction(self._engine, write=True) as connection:
            doomed = connection.execute(keys).all()
            for scope, user, name in doomed:
                connection.execute(
                    _table.delete().where(
                        _table.c.scope == scope, _table.c.user == user, _table.c.name == name
                    )
                )
        return len(doomed)

    def secret_pairs(
        self, *, after: tuple[str, str, str] | None = None, limit: int = 500
    ) -> list[KeyValue]:
        """Secret pairs, expired ones included, in key order after ``after`` (for rotation)."""
        query = sa.select(*_columns).where(_table.c.secret.is_(True))
        if after is not None:
            scope, user, name = after
            query = query.where(
                sa.tuple_(_table.c.scope, _table.c.user, _table.c.name)
                > sa.tuple_(scope, user, name)
            )
        query = query.order_by(_table.c.scope, _table.c.user, _table.c.name).limit(limit)
        with transaction(self._engine) as connection:
            return [_pair(row) for row in connection.execute(query)]

    def swap_values(self, swaps: Iterable[tuple[KeyValue, str]]) -> int:
        """Replace each pair's value only if it still holds the value read; one transaction.

        Returns how many were replaced (a pair changed meanwhile keeps its newer value).
        """
        replaced = 0
        with transaction(self._engine, write=True) as connection:
            for pair, value in swaps:
                result = connection.execute(
                    _table.update()
                    .where(_key(pair.scope, pair.user, pair.name), _table.c.value == pair.value)
                    .values(value=value)
                )
                replaced += result.rowcount
        return replaced
