"""The stable front: how long a flip takes, and what the proxy adds to a request.

Two ``packhorse up`` instances run as real processes on fresh instance folders, with
``packhorse front`` in front of them (a real process too). Measured:

* flip: the front's own figure for a flip (state file written and fsynced, then the target
  switched), as its admin socket reports it; and the admin call's round trip including the
  new target's ``/ready`` check (what ``packhorse front flip`` waits for, less its start-up);
  every other flip is a rollback through ``rollback_front`` (what ``packhorse front rollback``
  and cutover run: read the previous target, check it, flip); and the whole
  ``packhorse front flip`` command, Python start included;
* while the flips happen, a load generator (a process of its own) sends requests through the
  front continuously:
  the number that failed is printed (it must be 0);
* added latency: ``GET /health`` through the front, against the floor, the same request
  straight to the instance, one keep-alive client, sequential.

Every figure is the median of several runs. Target (issue 10): a rollback flip under 100 ms
with no request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import free_port, packhorse, print_table, running_up

from packhorse.front.control import admin_call, rollback_front

PACKHORSE = (sys.executable, "-m", "packhorse")


@contextlib.contextmanager
def running_front(state: Path, port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [*PACKHORSE, "front", "--listen", f"127.0.0.1:{port}", "--state", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not state.with_name(state.name + ".sock").exists():
            assert time.monotonic() < deadline and process.poll() is None, "no front"
            time.sleep(0.05)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def sequential_latency(url: str, count: int) -> float:
    """Median seconds of ``count`` sequential GETs on one keep-alive connection."""
    samples = []
    with httpx.Client(timeout=10) as client:
        client.get(url)  # warm the connection
        for _ in range(count):
            started = time.perf_counter()
            response = client.get(url)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return statistics.median(samples)


def generate_load(url: str) -> None:
    """``--load URL``: requests back to back from 8 clients until SIGTERM; then prints
    ``{"sent": N, "failed": [...]}``. A process of its own, so that it does not share the
    measuring process's interpreter lock and inflate the flip times measured there."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sent = 0
    failed: list[str] = []

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal sent
        while not stop.is_set():
            sent += 1
            try:
                response = await client.get(url)
                if response.status_code != 200:
                    failed.append(f"{response.status_code} {response.text[:80]}")
            except httpx.HTTPError as error:
                failed.append(repr(error))

    async def run() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(*(client_loop(client) for _ in range(8)))

    asyncio.run(run())
    print(json.dumps({"sent": sent, "failed": failed}))


class Load:
    """:func:`generate_load` in a child process."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--load", url], stdout=subprocess.PIPE, text=True
        )
        self.sent = 0
        self.failed: list[str] = []

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=60)
        result = json.loads(out)
        self.sent, self.failed = result["sent"], result["failed"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flips", type=int, default=20, help="flips measured (each way)")
    parser.add_argument("--requests", type=int, default=300, help="requests per latency run")
    parser.add_argument("--runs", type=int, default=5, help="latency runs (median of medians)")
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.load:
        generate_load(arguments.load)
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        ports = [free_port(), free_port()]
        homes = [folder / "a", folder / "b"]
        for home, port in zip(homes, ports, strict=True):
            packhorse(home, "init", "--listen", f"127.0.0.1:{port}")
        state = folder / "front.json"
        with (
            running_up(homes[0], ports[0]) as a,
            running_up(homes[1], ports[1]) as b,
            running_front(state, free_port()) as front,
        ):
            assert admin_call(state, "POST", "/flip", {"to": a})
            direct = statistics.median(
                sequential_latency(f"{a}/health", arguments.requests) for _ in range(arguments.runs)
            )
            proxied = statistics.median(
                sequential_latency(f"{front}/health", arguments.requests)
                for _ in range(arguments.runs)
            )
            load = Load(f"{front}/health")
            time.sleep(0.5)
            flip_ms, ready_ms, round_trip = [], [], []
            rollbacks = []
            for _ in range(arguments.flips):
                started = time.perf_counter()
                answered = admin_call(state, "POST", "/flip", {"to": b, "by": "bench"})
                round_trip.append(time.perf_counter() - started)
                assert answered is not None and answered[0] == 200, answered
                flip_ms.append(answered[1]["flip_ms"] / 1000)
                ready_ms.append(answered[1]["ready_ms"] / 1000)
                time.sleep(0.05)
                # What 'packhorse front rollback' and cutover's rollback run: read the
                # previous target from the front, check it, flip.
                started = time.perf_counter()
                outcome = rollback_front(state, by="bench")
                rollbacks.append(time.perf_counter() - started)
                assert outcome.state.active == a and outcome.flip_ms is not None
                flip_ms.append(outcome.flip_ms / 1000)
                time.sleep(0.05)
            command = []
            for n in range(6):
                started = time.perf_counter()
                subprocess.run(
                    [*PACKHORSE, "front", "flip", "--state", str(state), "--to", b if n % 2 else a],
                    check=True,
                    capture_output=True,
                    env={**os.environ},
                )
                command.append(time.perf_counter() - started)
            time.sleep(0.5)
            load.stop()
    print_table(
        f"The front: {arguments.flips * 2} flips under load, then 6 by the CLI "
        f"(medians; latency: median of {arguments.runs} runs of {arguments.requests})",
        [
            (
                "flip: persist + switch (front's figure)",
                statistics.median(flip_ms),
                None,
                "< 100 ms",
            ),
            ("flip: the new target's /ready check", statistics.median(ready_ms), None, ""),
            (
                "rollback: rollback_front (read, check, flip)",
                statistics.median(rollbacks),
                None,
                "< 100 ms",
            ),
            (
                "flip: admin call incl. /ready check",
                statistics.median(round_trip),
                None,
                "< 100 ms",
            ),
            ("flip: whole 'packhorse front flip' command", statistics.median(command), None, ""),
            ("GET /health through the front", proxied, direct, ""),
            ("added by the front (proxied - direct)", proxied - direct, None, ""),
        ],
    )
    print(
        f"\nslowest of the {len(flip_ms)} flips: persist + switch {max(flip_ms) * 1000:.1f} ms, "
        f"admin call incl. /ready {max(round_trip) * 1000:.1f} ms, "
        f"rollback {max(rollbacks) * 1000:.1f} ms"
    )
    print(
        f"requests sent through the front during the flips: {load.sent}; failed: {len(load.failed)}"
    )
    for failure in load.failed[:5]:
        print(f"  {failure}")
    if load.failed or max(statistics.median(round_trip), statistics.median(rollbacks)) > 0.1:
        sys.exit(1)


if __name__ == "__main__":
    main()
