"""Access tokens and API keys on SQLAlchemy Core. Only hashes of the secrets are stored."""

from __future__ import annotations

import json

import sqlalchemy as sa

from packhorse.errors import Conflict
from packhorse.model.auth import ApiKeyRecord, TokenRecord
from packhorse.storage import schema
from packhorse.storage.database import transaction


class SqlAuthStore:
    """:class:`~packhorse.storage.ports.AuthStore` over an SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # Tokens

    def add_token(self, token: TokenRecord, token_hash: str) -> None:
        row = {
            "id": token.id,
            "token_hash": token_hash,
            "user": token.user,
            "expiry": token.expiry,
            "created_at": token.created_at,
        }
        with transaction(self._engine, write=True) as connection:
            connection.execute(schema.tokens.insert(), row)

    def find_token(self, token_hash: str) -> TokenRecord | None:
        table = schema.tokens
        query = sa.select(table.c.id, table.c.user, table.c.expiry, table.c.created_at).where(
            table.c.token_hash == token_hash
        )
        with transaction(self._engine) as connection:
            row = connection.execute(query).first()
        return None if row is None else TokenRecord(*(str(value) for value in row))

    def delete_token(self, token_hash: str) -> bool:
        """Forget one token (signing out); False when it was not there."""
        statement = schema.tokens.delete().where(schema.tokens.c.token_hash == token_hash)
        with transaction(self._engine, write=True) as connection:
            return connection.execute(statement).rowcount > 0

    def delete_expired_tokens(self, now: str) -> int:
        """Delete tokens whose expiry is at or before ``now``; returns how many."""
        statement = schema.tokens.delete().where(schema.tokens.c.expiry <= now)
        with transaction(self._engine, write=True) as connection:
            return connection.execute(statement).rowcount

    # API keys

    def add_api_key(self, key: ApiKeyRecord) -> None:
        try:
            with transaction(self._engine, write=True) as connection:
                connection.execute(schema.api_keys.insert(), _api_key_row(key))
        except Conflict as error:
            raise Conflict("an API key with this key hash already exists") from error

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        return self._one(schema.api_keys.c.key_hash == key_hash)

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return self._one(schema.api_keys.c.id == key_id)

    def list_api_keys(self) -> list[ApiKeyRecord]:
        table = schema.api_keys
        query = sa.select(table).order_by(table.c.user, table.c.created_at, table.c.id)
        with transaction(self._engine) as connection:
            return [_api_key(row) for row in connection.execute(query).mappings()]

    def update_api_key(self, key: ApiKeyRecord) -> None:
        row = _api_key_row(key)
        del row["id"], row["key_hash"], row["created_at"]
        statement = schema.api_keys.update().where(schema.api_keys.c.id == key.id).values(row)
        with transaction(self._engine, write=True) as connection:
            connection.execute(statement)

    def delete_api_key(self, key_id: str) -> bool:
        statement = schema.api_keys.delete().where(schema.api_keys.c.id == key_id)
        with transaction(self._engine, write=True) as connection:
            return connection.execute(statement).rowcount > 0

    def _one(self, condition: sa.ColumnElement[bool]) -> ApiKeyRecord | None:
        query = sa.select(schema.api_keys).where(condition)
        with transaction(self._engine) as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _api_key(row)


def _api_key_row(key: ApiKeyRecord) -> dict[str, object]:
    return {
        "id": key.id,
        "key_hash": key.key_hash,
        "user": key.user,
        "enabled": key.enabled,
        "metadata": json.dumps(dict(key.metadata), sort_keys=True, separators=(",", ":")),
        "created_at": key.created_at,
    }


def _api_key(row: sa.RowMapping) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=str(row["id"]),
        user=str(row["user"]),
        key_hash=str(row["key_hash"]),
        created_at=str(row["created_at"]),
        enabled=bool(row["enabled"]),
        metadata=json.loads(row["metadata"]),
    )
