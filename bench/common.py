"""Helpers shared by the benchmarks: timing, medians and the table every script prints."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls (the machine is noisy: never quote one run)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def print_table(title: str, rows: Sequence[tuple[str, float, float | None, str]]) -> None:
    """Rows of (measurement, seconds, floor seconds or None, target)."""
    print(f"\n{title}")
    width = max([46, *(len(row[0]) for row in rows)])
    header = f"{'measurement':<{width}} {'median':>10} {'floor':>10} {'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for name, seconds, floor, target in rows:
        floor_text = f"{floor * 1000:9.1f}ms" if floor else f"{'':>10}"
        ratio = f"{seconds / floor:6.1f}x" if floor else f"{'':>7}"
        print(f"{name:<{width}} {seconds * 1000:9.1f}ms {floor_text} {ratio}  {target}")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def packhorse(home: Path, *args: str) -> str:
    """Run ``packhorse --home HOME ARGS``; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "packhorse", "--home", str(home), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def api_key(home: Path) -> str:
    """A new API key of the instance's admin."""
    return str(json.loads(packhorse(home, "apikey", "create", "--json"))["key"])


@contextlib.contextmanager
def running_up(home: Path, port: int, *args: str) -> Iterator[str]:
    """``packhorse up`` as a real process until the block ends; yields its base URL once it
    is ready."""
    import httpx

    server = subprocess.Popen(
        [sys.executable, "-m", "packhorse", "--home", str(home), "up", *args],
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
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
