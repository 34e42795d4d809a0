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
