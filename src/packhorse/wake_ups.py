"""Wake-ups across processes, wired (``storage/notifications.py``): which loops of a
``packhorse up`` process a ``NOTIFY`` of each kind wakes, given the roles it runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from packhorse.bootstrap import ROLES

if TYPE_CHECKING:
    import asyncio

    from packhorse.engine.intake import IntakeWatch
    from packhorse.engine.runtime import Runtime
    from packhorse.engine.stream import Broadcaster
    from packhorse.storage.notifications import Listener


def wake_ups(
    runtime: Runtime,
    events: Broadcaster,
    loop: asyncio.AbstractEventLoop,
    intake: IntakeWatch | None = None,
    roles: frozenset[str] = frozenset({"all"}),
) -> Listener | None:
    """On PostgreSQL, wake this process's loops when another process stores work for them
    (``LISTEN``/``NOTIFY``); None on SQLite. Started here, stopped by the caller.

    A process listens only to what its ``roles`` (of ``packhorse up --role``) run. Status
    changes and output (``log``, the most frequent) wake the event stream and the execution
    triggers of a process serving clients (``api`` or ``all``); a ``worker`` node's stream and
    execution triggers poll (0.2 s and 0.25 s), so that each of N workers is not woken by
    every change the others make."""
    from packhorse.storage import notifications

    engine = runtime.store.engine
    if not notifications.listens(engine):
        return None

    def on_loop(wake: Callable[[], None]) -> Callable[[], None]:
        def call() -> None:
            loop.call_soon_threadsafe(wake)

        return call

    run = frozenset().union(*(ROLES[role] for role in roles))
    serves = bool(roles & {"api", "all"})

    def when(wanted: bool, *calls: Callable[[], None]) -> list[Callable[[], None]]:
        return list(calls) if wanted else []

    listener = notifications.Listener(
        engine,
        {
            notifications.EXECUTIONS: when("worker" in run, runtime.worker.wake),
            notifications.TRIGGER_INSTANCES: [
                *when("rules" in run, runtime.rules.wake),
                *when(serves, events.wake),
            ],
            notifications.WORKFLOW_EVENTS: when(
                "workflows" in run, on_loop(runtime.workflows.wake)
            ),
            notifications.LOG: when(serves, events.wake, runtime.execution_triggers.wake),
            notifications.INTAKE: [on_loop(intake.wake)] if intake is not None else [],
        },
    )
    listener.start()
    return listener
