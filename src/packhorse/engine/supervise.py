"""The engine's loops keep running through errors: a loop that fails (the database went away,
a server restart, a bug on one item) is logged and started again after a pause that grows,
until ``packhorse up`` stops. Without this one failed query ended the worker for good while the
API went on answering."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from packhorse.engine.waiting import nap

log = logging.getLogger(__name__)

Loop = Callable[[asyncio.Event], Awaitable[None]]

PAUSES: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
"""Seconds before each restart in a row (the last one repeats)."""

HEALTHY_AFTER = 30.0
"""A loop that ran this long before failing starts again from the first pause."""


async def supervised(
    name: str, loop: Loop, stop: asyncio.Event, *, pauses: Sequence[float] = PAUSES
) -> None:
    """Run ``loop(stop)`` until it returns (``stop`` was set); restart it when it raises."""
    failures = 0
    while not stop.is_set():
        started = asyncio.get_running_loop().time()
        try:
            await loop(stop)
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure: log it, run again
            if asyncio.get_running_loop().time() - started > HEALTHY_AFTER:
                failures = 0
            pause = pauses[min(failures, len(pauses) - 1)]
            failures += 1
            log.warning(
                "%s stopped on an error (%s); starting it again in %.1f s", name, error, pause
            )
        await nap(pause, stop)
