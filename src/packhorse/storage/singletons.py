"""One holder across processes: session-level advisory locks on PostgreSQL.

A :class:`Singleton` keeps a connection of its own (outside the engine's pool) and takes
``pg_try_advisory_lock`` on it: the lock is held as long as that session lives, so it is let go
when the process dies or loses the database, and another process's next try takes it. On SQLite
every process holds every singleton (one machine; the work behind them is fire-once anyway).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for singleton ``name``."""
    digest = hashlib.sha256(f"packhorse.singleton:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Singleton:
    """The right to run ``name`` (``timers``, ``housekeeping``, ``retention``, ``sensors``)."""

    def __init__(self, engine: sa.Engine, name: str) -> None:
        self.name = name
        self._postgres = engine.dialect.name == "postgresql"
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._key = lock_key(name)
        self._connection: Any = None
        self._guard = threading.Lock()

    def held(self) -> bool:
        """Whether this process holds it now: takes it if free, checks it is still held
        (its session alive) if taken before. Blocking: call from a thread."""
        if not self._postgres:
            return True
        import psycopg

        with self._guard:
            try:
                if self._connection is not None:
                    self._connection.execute("SELECT 1")
                    return True
                connection = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
                row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
                if row is not None and row[0]:
                    self._connection = connection
                    log.info("this process now runs %s", self.name)
                    return True
                connection.close()
                return False
            except psycopg.Error as error:
                log.warning("singleton %s: %s", self.name, error)
                self._drop()
                return False

    def release(self) -> None:
        """Let go (clean shutdown): closing the session ends the lock."""
        with self._guard:
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
