"""Wake-ups from other processes: ``LISTEN packhorse_<what>`` on PostgreSQL.

Triggers in the database (migrations 0012 and 0014) send ``NOTIFY packhorse_<what>`` when a
transaction that stored work commits. A :class:`Listener` holds one dedicated connection of its
own (outside the engine's pool), listens to the channels of the kinds it has callbacks for
(and to no other: each notification costs every session that listens to its channel), and
calls the callbacks registered for each kind from its thread, so they must be quick and
thread-safe (the loops' ``wake`` methods are).
Polling stays the fallback: a notification lost while the connection was down costs one poll
interval, and the listener reconnects on its own. On SQLite there is nothing to listen to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

import sqlalchemy as sa

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "packhorse_"
EXECUTIONS = "executions"
"""An execution was requested, delayed or scheduled: the scheduler and the workers."""
TRIGGER_INSTANCES = "trigger_instances"
WORKFLOW_EVENTS = "workflow_events"
INTAKE = "intake"
"""The instance's intake changed (a cutover): every process applies it (migration 0013)."""
LOG = "log"
"""A status change or output chunk: the event stream."""


def listens(engine: sa.Engine) -> bool:
    """Whether processes sharing ``engine``'s database can wake each other."""
    return engine.dialect.name == "postgresql"


class Listener:
    """A thread that listens on a dedicated connection and calls ``callbacks[kind]`` for each
    notification of a kind (``EXECUTIONS``...) that has callbacks."""

    def __init__(
        self,
        engine: sa.Engine,
        callbacks: Mapping[str, Sequence[Callable[[], None]]],
        *,
        check_seconds: float = 0.5,
        retry_seconds: float = 1.0,
    ) -> None:
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._callbacks = {kind: tuple(calls) for kind, calls in callbacks.items() if calls}
        self._check_seconds = check_seconds
        self._retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()
        """Set once ``LISTEN`` is in place (tests wait for it)."""

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds listened to (those with callbacks)."""
        return frozenset(self._callbacks)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="packhorse-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as connection:
                    for kind in self._callbacks:
                        connection.execute(f"LISTEN {CHANNEL_PREFIX}{kind}")
                    self.listening.set()
                    # Missed while (re)connecting: wake everything once.
                    self._call(*self._callbacks)
                    while not self._stop.is_set():
                        # Ends every ``check_seconds`` to look at the stop flag.
                        for notify in connection.notifies(timeout=self._check_seconds):
                            self._call(notify.channel.removeprefix(CHANNEL_PREFIX))
            except psycopg.Error as error:
                self.listening.clear()
                log.warning("listening for wake-ups: %s (retrying)", error)
                self._stop.wait(self._retry_seconds)

    def _call(self, *kinds: str) -> None:
        for kind in kinds:
            for callback in self._callbacks.get(kind, ()):
                try:
                    callback()
                except Exception:  # a wake-up must never stop the listener
                    log.exception("wake-up for %s failed", kind)
