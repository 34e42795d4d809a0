"""``core.noop`` throughput submitted over HTTP, beside the same figure in-process.

``packhorse up`` runs as a real process on a fresh SQLite instance (8 workers). A client
posts N ``core.noop`` executions to ``POST /api/v1/executions`` over loopback, 16 requests in
flight at a time, and the run ends when every one of them has succeeded (read from the
database). Throughput = N / (first request sent -> last execution succeeded). The in-process
figure (``bench_execution.py``: the service layer, no HTTP) is measured in the same run.

Target (issue 4): at least 300 executions/s of ``core.noop`` in-process; the HTTP figure is
reported beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_execution import THROUGHPUT, measure
from common import api_key, free_port, packhorse, running_up

from packhorse.engine.instance import init_instance

IN_FLIGHT = 16


async def submit(base: str, count: int, api_key: str, *, floor: bool = False) -> float:
    """Post ``count`` executions, IN_FLIGHT at a time; returns when the first was sent.
    ``floor``: ``GET /health`` instead, the same way (what this client and server can do)."""
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    headers = {"St2-Api-Key": api_key}
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30, headers=headers
    ) as client:

        async def poster() -> None:
            while not queue.empty():
                queue.get_nowait()
                if floor:
                    response = await client.get("/health")
                    assert response.status_code == 200, response.text
                    continue
                response = await client.post(
                    "/api/v1/executions", json={"action": "core.noop", "parameters": {}}
                )
                assert response.status_code == 201, response.text

        started = time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(IN_FLIGHT)))
    return started


def wait_done(state_db: Path, count: int) -> float:
    while True:
        with sqlite3.connect(state_db) as db:
            done = db.execute(
                "SELECT count(*) FROM executions WHERE action_ref = 'core.noop' "
                "AND status = 'succeeded'"
            ).fetchone()[0]
        if done >= count:
            return time.perf_counter()
        time.sleep(0.01)


def over_http(count: int) -> tuple[float, float]:
    """(executions/s over HTTP, GET /health requests/s: the floor)."""
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        port = free_port()
        packhorse(home, "init", "--listen", f"127.0.0.1:{port}")
        key = api_key(home)
        with running_up(home, port, "--workers", "8") as base:
            started = time.perf_counter()
            asyncio.run(submit(base, count, key, floor=True))
            floor = count / (time.perf_counter() - started)
            started = asyncio.run(submit(base, count, key))
            ended = wait_done(home / "state.db", count)
    return count / (ended - started), floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=THROUGHPUT, help="executions per run")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        init_instance(home)
        in_process = asyncio.run(measure(home))["throughput"]
    http, floor = over_http(arguments.count)
    print(f"\ncore.noop throughput, {arguments.count} executions")
    print(f"{'submitted in-process (service layer), 8 slots':<52} {in_process:8.0f}/s")
    print(f"{'submitted over HTTP (POST /api/v1/executions)':<52} {http:8.0f}/s")
    print(f"{'floor: GET /health, same client, 16 in flight':<52} {floor:8.0f}/s")
    print("target: >= 300/s in-process; HTTP reported beside it")


if __name__ == "__main__":
    main()
