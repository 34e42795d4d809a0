"""One holder across processes: session-level advisory locks on PostgreSQL.

A :class:`Singleton` takes ``pg_try_advisory_lock`` on a connection outside the engine's pool,
which the singletons of a process share (:class:`SessionLocks`): the lock is held as long as
that session lives, so it is let go
when the process dies or loses the database, and another process's next try takes it. On SQLite
every process holds every singleton (one machine; the work behind them is fire-once anyway).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for singleton ``name``."""
    digest = hashlib.sha256(f"packhorse.singleton:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SessionLocks:
    """The PostgreSQL session on which the singletons of one process hold their advisory
    locks: one connection for all of them (a connection each, in every process of a site, ran
    into the server's connection limit). Kept while one is held or being tried; losing it
    loses every lock on it, and the next try reconnects."""

    def __init__(self, engine: sa.Engine) -> None:
        self.postgres = engine.dialect.name == "postgresql"
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection: Any = None
        self._held: set[int] = set()
        self._lost: set[int] = set()
        """Held when the session died: each says so (False) once before it is tried again,
        so that its loop stops, even when another singleton's call reconnected first."""
        self._guard = threading.Lock()

    def hold(self, key: int, name: str) -> bool:
        """Whether this session holds ``key`` now: taken if free, checked (the session alive)
        if taken before. Blocking: call from a thread."""
        import psycopg

        with self._guard:
            if key in self._lost:
                self._lost.discard(key)
                return False
            try:
                if self._connection is None:
                    self._connection = psycopg.connect(
                        self._url, autocommit=True, connect_timeout=5
                    )
                    self._held = set()
                if key in self._held:
                    self._connection.execute("SELECT 1")
                    return True
                row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if row is not None and row[0]:
                    self._held.add(key)
                    log.info("this process now runs %s", name)
                    return True
                return False
            except psycopg.Error as error:
                log.warning("singleton %s: %s", name, error)
                self._lost |= self._held - {key}
                self._drop()
                return False

    def release(self, key: int) -> None:
        """Let ``key`` go; the session ends with the last lock (a clean shutdown)."""
        with self._guard:
            if key in self._held and self._connection is not None:
                try:
                    self._connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
                except Exception:  # noqa: BLE001 - the session is gone: so is the lock
                    self._drop()
            self._held.discard(key)
            if not self._held:
                self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        self._held = set()


class Singleton:
    """The right to run ``name`` (``timers``, ``housekeeping``, ``retention``, ``sensors``),
    held on ``locks`` (the process's session; a session of its own when not given)."""

    def __init__(self, engine: sa.Engine, name: str, locks: SessionLocks | None = None) -> None:
        self.name = name
        self._key = lock_key(name)
        self._locks = locks or SessionLocks(engine)

    def held(self) -> bool:
        """Whether this process holds it now: takes it if free, checks it is still held
        (its session alive) if taken before. Blocking: call from a thread."""
        if not self._locks.postgres:
            return True
        return self._locks.hold(self._key, self.name)

    def release(self) -> None:
        """Let go (clean shutdown)."""
        if self._locks.postgres:
            self._locks.release(self._key)


class LockSet:
    """Many named singletons held on one dedicated connection (one per sensor: a site with
    fifty sensors needs one more connection per process, not fifty). Losing the connection
    loses them all; the next :meth:`hold` reconnects and takes again what is free."""

    def __init__(self, engine: sa.Engine, prefix: str) -> None:
        self._postgres = engine.dialect.name == "postgresql"
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._prefix = prefix
        self._connection: Any = None
        self._held: set[str] = set()
        self._guard = threading.Lock()

    def hold(self, names: Iterable[str]) -> set[str]:
        """Which of ``names`` this process holds now, taking those that are free; those it
        held and are no longer named are let go. Blocking: call from a thread."""
        wanted = set(names)
        if not self._postgres:
            return wanted
        import psycopg

        with self._guard:
            try:
                if self._connection is None:
                    self._connection = psycopg.connect(
                        self._url, autocommit=True, connect_timeout=5
                    )
                    self._held = set()
                else:
                    self._connection.execute("SELECT 1")  # still ours?
                for name in sorted(self._held - wanted):
                    self._connection.execute(
                        "SELECT pg_advisory_unlock(%s)", (lock_key(self._prefix + name),)
                    )
                    self._held.discard(name)
                free = {lock_key(self._prefix + name): name for name in wanted - self._held}
                if free:  # one round trip for all of them
                    taken = self._connection.execute(
                        "SELECT key FROM unnest(%s::bigint[]) AS key"
                        " WHERE pg_try_advisory_lock(key)",
                        (sorted(free),),
                    ).fetchall()
                    self._held.update(free[int(row[0])] for row in taken)
                return set(self._held)
            except psycopg.Error as error:
                log.warning("locks %s*: %s", self._prefix, error)
                self._drop()
                return set()

    def release(self) -> None:
        with self._guard:
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        self._held = set()
