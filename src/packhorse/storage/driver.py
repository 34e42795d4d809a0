"""Hot statements run on the database driver itself, compiled once by SQLAlchemy Core.

Executing a statement through an SQLAlchemy ``Connection`` costs about 0.15 ms of Python on
top of the statement (connection events, the ``BEGIN`` event, result set-up, the pool's
reset), ten times a small SQLite write in WAL mode. The execution queue's hot path (create,
claim, transition, get) pays that five or six times per execution, so it runs here instead:

* :class:`Prepared` wraps a Core statement and compiles it once per dialect into its SQL text,
  the order of its bound parameters and the values bound in the statement itself;
* :func:`driver_transaction` checks a DBAPI connection out of the engine's pool (so the
  ``connect`` settings hold: WAL, ``synchronous=NORMAL``, busy timeout), opens one
  transaction (``BEGIN IMMEDIATE`` for a SQLite writer, as :func:`.database.transaction`
  does), and commits or rolls back; driver errors become :class:`~packhorse.errors.Conflict`
  and :class:`~packhorse.errors.StorageError`, as there.

Only for columns whose values the driver takes and returns unchanged (text, integers):
compiling a statement that needs a type's bind or result processing (booleans, dates on
SQLite, JSON) raises, so a schema change cannot silently store the wrong thing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

from packhorse.errors import Conflict, StorageError
from packhorse.storage.database import writer_lock, written

__all__ = ["DriverTransaction", "Prepared", "driver_statement", "driver_transaction"]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None
    """Bound parameter names in order (``qmark`` drivers); None: named (``pyformat``)."""
    defaults: Mapping[str, Any]
    """Values bound in the statement itself (``status = 'scheduled'``)."""

    def parameters(self, arguments: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        values = {**self.defaults, **arguments} if self.defaults else arguments
        if self.positions is None:
            return values
        return tuple(values[name] for name in self.positions)


class Prepared:
    """A Core statement, compiled on first use for each dialect."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: sa.ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}

    def compiled(self, dialect: sa.Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = _compile(self.statement, dialect)
            self._compiled[key] = compiled
        return compiled


def _compile(statement: sa.ClauseElement, dialect: sa.Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.escaped_bind_names:
        raise TypeError("bound parameter names must not need escaping")
    for name, bind in compiled.binds.items():
        if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
            raise TypeError(f"bound parameter {name!r} needs SQLAlchemy's type processing")
    for column in getattr(statement, "selected_columns", ()):
        if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
            raise TypeError(f"result column {column.name!r} needs SQLAlchemy's processing")
    defaults = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
    positions = compiled.positiontup
    return _Compiled(
        sql=compiled.string,
        positions=tuple(positions) if positions is not None else None,
        defaults=defaults,
    )


class DriverTransaction:
    """Statements inside one open transaction on a DBAPI cursor."""

    def __init__(self, cursor: Any, dialect: sa.Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def execute(self, prepared: Prepared, arguments: Mapping[str, Any] | None = None) -> int:
        """Run one statement; returns the number of rows it changed."""
        compiled = prepared.compiled(self._dialect)
        self._cursor.execute(compiled.sql, compiled.parameters(arguments or {}))
        return int(self._cursor.rowcount)

    def execute_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = prepared.compiled(self._dialect)
        self._cursor.executemany(compiled.sql, [compiled.parameters(row) for row in rows])

    def first(
        self, prepared: Prepared, arguments: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        self.execute(prepared, arguments)
        row = self._cursor.fetchone()
        self._cursor.fetchall()  # finish the statement (SQLite keeps it open otherwise)
        return None if row is None else tuple(row)

    def all(
        self, prepared: Prepared, arguments: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        self.execute(prepared, arguments)
        return [tuple(row) for row in self._cursor.fetchall()]


@contextlib.contextmanager
def driver_transaction(engine: sa.Engine, *, write: bool = False) -> Iterator[DriverTransaction]:
    """One transaction on a pooled DBAPI connection: committed on success, rolled back on
    error, driver errors translated (see the module docstring)."""
    with (
        writer_lock(engine) if write else contextlib.nullcontext(),
        _driver_transaction(engine, write) as driver,
    ):
        yield driver
    if write:
        written(engine)


@contextlib.contextmanager
def driver_statement(engine: sa.Engine, *, write: bool = True) -> Iterator[DriverTransaction]:
    """For one statement that is a whole transaction by itself (a claim, a status move
    written with its log row by one statement, a read). On PostgreSQL it runs in autocommit
    mode: the server makes it a transaction of its own, without the ``BEGIN`` and ``COMMIT``
    round trips (three round trips become one). Elsewhere it is :func:`driver_transaction`.
    The caller must run exactly one statement: a second would be a transaction of its own."""
    if engine.dialect.name != "postgresql":
        with driver_transaction(engine, write=write) as driver:
            yield driver
        return
    with _driver_transaction(engine, write, autocommit=True) as driver:
        yield driver
    if write:
        written(engine)


@contextlib.contextmanager
def _driver_transaction(
    engine: sa.Engine, write: bool, *, autocommit: bool = False
) -> Iterator[DriverTransaction]:
    dialect = engine.dialect
    dbapi = dialect.loaded_dbapi
    try:
        connection = engine.raw_connection()
    except sa.exc.DBAPIError as error:
        # The server is down or restarting: the caller's loop tries again.
        raise StorageError(f"database error: {error.orig}", retryable=True) from error
    try:
        if autocommit:
            assert connection.dbapi_connection is not None  # just checked out
            connection.dbapi_connection.autocommit = True  # psycopg: no round trip
        cursor = connection.cursor()
        try:
            if dialect.name == "sqlite":
                # The connection runs in autocommit mode; a writer declares itself up front.
                cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
            yield DriverTransaction(cursor, dialect)
            if not autocommit:
                connection.commit()
        except BaseException:
            with contextlib.suppress(dbapi.Error):
                connection.rollback()
            raise
        finally:
            with contextlib.suppress(dbapi.Error):
                cursor.close()
            if autocommit and connection.dbapi_connection is not None:
                with contextlib.suppress(dbapi.Error):
                    connection.dbapi_connection.autocommit = False
    except dbapi.IntegrityError as error:
        raise Conflict(f"conflicting data: {error}") from error
    except dbapi.OperationalError as error:
        text = str(error)
        disconnected = dialect.is_disconnect(error, connection.dbapi_connection, None)
        if disconnected:
            connection.invalidate(error)
        retryable = "locked" in text or "busy" in text or disconnected
        raise StorageError(f"database error: {text}", retryable=retryable) from error
    except dbapi.Error as error:
        raise StorageError(f"database error: {error}") from error
    finally:
        connection.close()  # back to the pool
