"""Waiting on several things at once in the engine's loops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable


async def first_of(*waits: Awaitable[object]) -> None:
    """Return when the first of ``waits`` finishes; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def nap(timeout: float, *events: asyncio.Event) -> None:
    """Sleep ``timeout`` seconds or until one of ``events`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(first_of(*(event.wait() for event in events)), timeout)


def set_from_any_thread(event: asyncio.Event, loop: asyncio.AbstractEventLoop | None) -> None:
    """Set ``event`` of the loop ``loop`` runs from any thread (API handlers and the rules
    engine run in threads): directly on that loop's thread or before it runs, through the
    loop otherwise (an ``asyncio.Event`` is not thread-safe)."""
    if loop is None or loop.is_closed():
        event.set()
        return
    try:
        if asyncio.get_running_loop() is loop:
            event.set()
            return
    except RuntimeError:
        pass
    loop.call_soon_threadsafe(event.set)
