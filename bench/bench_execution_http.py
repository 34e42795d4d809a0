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
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_execution import THROUGHPUT, measure
from bench_webhook import free_port, packhorse

from packhorse.engine.instance import init_instance

IN_FLIGHT = 16


async def submit(base: str, count: int) -> float:
    """Post ``count`` executions, IN_FLIGHT at a time; returns when the first was sent."""
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def poster() -> None:
            while not queue.empty():
                queue.get_nowait()
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


def over_http(count: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        port = free_port()
        packhorse(home, "init", "--listen", f"127.0.0.1:{port}")
        server = subprocess.Popen(
            [sys.executable, "-m", "packhorse", "--home", str(home), "up", "--workers", "8"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None, "up did not start"
                time.sleep(0.1)
            started = asyncio.run(submit(base, count))
            ended = wait_done(home / "state.db", count)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return count / (ended - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=THROUGHPUT, help="executions per run")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        init_instance(home)
        in_process = asyncio.run(measure(home))["throughput"]
    http = over_http(arguments.count)
    print(f"\ncore.noop throughput, {arguments.count} executions")
    print(f"{'submitted in-process (service layer), 8 slots':<52} {in_process:8.0f}/s")
    print(f"{'submitted over HTTP (POST /api/v1/executions)':<52} {http:8.0f}/s")
    print("target: >= 300/s in-process; HTTP reported beside it")


if __name__ == "__main__":
    main()
