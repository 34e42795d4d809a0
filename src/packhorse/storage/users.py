"""Users on SQLAlchemy Core."""

from __future__ import annotations

import sqlalchemy as sa

from packhorse.errors import Conflict
from packhorse.storage import schema
from packhorse.storage.database import transaction


class SqlUserStore:
    """:class:`~packhorse.storage.ports.UserStore` over an SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add_user(self, name: str, password_hash: str, role: str, *, now: str) -> None:
        row = {"name": name, "password_hash": password_hash, "role": role, "created_at": now}
        try:
            with transaction(self._engine, write=True) as connection:
                connection.execute(schema.users.insert(), row)
        except Conflict as error:
            raise Conflict(f"user {name!r} already exists") from error

    def get_password_hash(self, name: str) -> str | None:
        query = sa.select(schema.users.c.password_hash).where(schema.users.c.name == name)
        with transaction(self._engine) as connection:
            value = connection.execute(query).scalar()
        return None if value is None else str(value)

    def get_role(self, name: str) -> str | None:
        query = sa.select(schema.users.c.role).where(schema.users.c.name == name)
        with transaction(self._engine) as connection:
            value = connection.execute(query).scalar()
        return None if value is None else str(value)

    def remove_user(self, name: str) -> bool:
        """Remove the user with its tokens and API keys, in one transaction."""
        with transaction(self._engine, write=True) as connection:
            connection.execute(schema.tokens.delete().where(schema.tokens.c.user == name))
            connection.execute(schema.api_keys.delete().where(schema.api_keys.c.user == name))
            deleted = connection.execute(schema.users.delete().where(schema.users.c.name == name))
            return deleted.rowcount > 0

    def list_users(self) -> list[tuple[str, str, str]]:
        table = schema.users
        query = sa.select(table.c.name, table.c.role, table.c.created_at).order_by(table.c.name)
        with transaction(self._engine) as connection:
            return [(str(n), str(r), str(c)) for n, r, c in connection.execute(query)]
