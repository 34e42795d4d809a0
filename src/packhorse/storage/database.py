"""Database engines: SQLite in WAL mode (the embedded default) and PostgreSQL.

SQLite notes: WAL with ``synchronous=NORMAL`` survives a process kill (a power loss may lose
the last transactions, never corrupt the file). Python's sqlite3 module opens transactions
lazily and cannot ask for ``BEGIN IMMEDIATE``; we take over ``BEGIN`` ourselves so that a
writer declares itself up front (``write=True``) instead of failing on lock upgrade later.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from packhorse.errors import Conflict, StorageError

BUSY_TIMEOUT_MS = 10_000
PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle in the pool longer than this is pinged before use."""


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, NORMAL sync, foreign keys and explicit BEGIN."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = sa.create_engine(url)
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: sa.Engine) -> None:
    """``pool_pre_ping``, for connections that sat in the pool a while only.

    SQLAlchemy's pre-ping is a round trip to the server on every checkout: on a worker that
    is one more round trip for each of an execution's transactions, a fifth of the worker's
    statements. A connection given back a moment ago is as likely to be alive as one just
    pinged (the server can go away right after a ping too, and the transaction then fails
    as a retryable :class:`StorageError`); the ping is for the connection that waited
    long enough for the server to restart or a firewall to drop it."""

    # The listeners hold the dialect, not the engine: a listener holding its engine would make
    # a reference cycle, and an engine dropped without dispose() would then close its pooled
    # connections at some later garbage collection instead of at once.
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return  # a new connection, or one back from use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # The pool drops this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError(f"the database connection is gone: {error}") from error


_WRITERS: dict[int, threading.RLock] = {}
_WRITERS_GUARD = threading.Lock()


def writer_lock(engine: sa.Engine) -> contextlib.AbstractContextManager[object]:
    """Held around each write transaction on SQLite: the threads of one process take turns
    here rather than in SQLite's busy handler, which sleeps 1, 2, 5, 10... ms between tries
    (a writer that found the database locked for a moment waited 18 ms). Other processes
    still meet the busy handler. Re-entrant, so nesting fails as it did, not by hanging."""
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    lock = _WRITERS.get(id(engine))
    if lock is None:
        with _WRITERS_GUARD:
            lock = _WRITERS.setdefault(id(engine), threading.RLock())
    return lock


_WRITE_LISTENERS: dict[int, tuple[Callable[[], None], ...]] = {}


def listen_to_writes(engine: sa.Engine, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` (from the writing thread, so it must be quick and thread-safe) after
    every write transaction committed through ``engine`` in this process; returns the function
    that stops it. What the event stream wakes on; writes of other processes are not seen."""
    with _WRITERS_GUARD:
        _WRITE_LISTENERS[id(engine)] = (*_WRITE_LISTENERS.get(id(engine), ()), callback)

    def stop() -> None:
        with _WRITERS_GUARD:
            kept = tuple(c for c in _WRITE_LISTENERS.get(id(engine), ()) if c is not callback)
            if kept:
                _WRITE_LISTENERS[id(engine)] = kept
            else:
                _WRITE_LISTENERS.pop(id(engine), None)

    return stop


def written(engine: sa.Engine) -> None:
    """Tell the listeners of ``engine`` that a write transaction committed."""
    for callback in _WRITE_LISTENERS.get(id(engine), ()):
        callback()


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


@contextlib.contextmanager
def transaction(engine: sa.Engine, *, write: bool = False) -> Iterator[sa.Connection]:
    """One transaction; commits on success, rolls back on error, translates driver errors."""
    try:
        with (
            writer_lock(engine) if write else contextlib.nullcontext(),
            engine.connect().execution_options(write=write) as connection,
            connection.begin(),
        ):
            yield connection
    except IntegrityError as error:
        raise Conflict(f"conflicting data: {error.orig}") from error
    except OperationalError as error:
        text = str(error.orig)
        retryable = "locked" in text or "busy" in text or error.connection_invalidated
        raise StorageError(f"database error: {text}", retryable=retryable) from error
    except SQLAlchemyError as error:
        raise StorageError(f"database error: {error}") from error
    if write:
        written(engine)
