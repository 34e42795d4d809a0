"""Loops that one process of a deployment runs at a time (timers, housekeeping, retention,
sensors): run while this process holds the loop's :class:`~packhorse.storage.singletons.
Singleton`, waiting and trying again otherwise, so another process takes over within
``check_seconds`` when the holder dies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from packhorse.storage.singletons import Singleton

log = logging.getLogger(__name__)

Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A loop that runs until the event it is given is set."""


async def run_as_singleton(
    singleton: Singleton, loop: Loop, stop: asyncio.Event, *, check_seconds: float = 2.0
) -> None:
    """Run ``loop`` while holding ``singleton``, until ``stop``; the loop is stopped when
    the hold is lost (the database connection went away) and started again once regained."""
    try:
        while not stop.is_set():
            if await asyncio.to_thread(singleton.held):
                lost = asyncio.Event()
                task = asyncio.create_task(loop(lost), name=f"singleton:{singleton.name}")
                while not stop.is_set() and not task.done():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), check_seconds)
                    if not stop.is_set() and not await asyncio.to_thread(singleton.held):
                        log.warning("lost %s to another process", singleton.name)
                        break
                lost.set()
                await task
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), check_seconds)
    finally:
        await asyncio.to_thread(singleton.release)
