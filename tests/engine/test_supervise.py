"""The engine's loops are started again when they fail, and stop when asked."""

from __future__ import annotations

import asyncio

from packhorse.engine.supervise import supervised
from packhorse.errors import StorageError


def test_a_failing_loop_is_started_again_until_it_returns() -> None:
    calls: list[int] = []

    async def loop(stop: asyncio.Event) -> None:
        calls.append(len(calls))
        if len(calls) < 3:
            raise StorageError("database error: the server is restarting")

    async def main() -> None:
        await supervised("test", loop, asyncio.Event(), pauses=(0.01,))

    asyncio.run(main())
    assert calls == [0, 1, 2]


def test_a_stop_during_the_pause_ends_it() -> None:
    calls: list[int] = []

    async def loop(stop: asyncio.Event) -> None:
        calls.append(1)
        raise RuntimeError("a bug on one item")

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(supervised("test", loop, stop, pauses=(10.0,)))
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 1)

    asyncio.run(main())
    assert calls == [1]
