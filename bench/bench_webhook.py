"""Webhook to execution requested, under load, on SQLite.

``packhorse up`` runs as a real process on a fresh instance with one rule: a webhook fires
``core.noop``. A loopback load generator posts at a fixed rate (open loop: a request is sent
on schedule whether or not the previous ones have been answered) while the triggered actions
run in the same process. Two latencies per request:

* answered: the POST until its 202 (the trigger instance is stored by then);
* requested: the POST until the rule's execution exists (read back from the database; its
  creation time, taken by the server, minus the send time).

Floor, measured the same way in the same run: ``GET /health`` on the same server.

Target (issue 6): p99 under 25 ms at 100 requests/s for 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import api_key, free_port, packhorse, running_up

PACK = {
    "pack.yaml": "---\nref: hooks\nname: hooks\ndescription: bench\nversion: 1.0.0\n"
    "author: bench\nemail: bench@example.org\n",
    "rules/fire.yaml": "---\nname: fire\npack: hooks\nenabled: true\n"
    "trigger:\n  type: core.st2.webhook\n  parameters:\n    url: bench\n"
    "criteria:\n  trigger.body.n:\n    type: exists\n"
    "action:\n  ref: core.noop\n",
}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def load(
    url: str, rate: float, seconds: float, post: bool, headers: dict[str, str] | None = None
) -> tuple[list[float], dict]:
    """Open-loop load: returns answered latencies (s) and {n: send wall time}."""
    sent: dict[int, float] = {}
    answered: list[float] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:

        async def one(n: int) -> None:
            sent[n] = time.time()
            started = time.perf_counter()
            if post:
                response = await client.post(url, json={"n": n})
            else:
                response = await client.get(url)
            answered.append(time.perf_counter() - started)
            assert response.status_code in (200, 202), response.text

        tasks = []
        start = time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    return answered, sent


def requested_latencies(state_db: Path, sent: dict[int, float], expected: int) -> list[float]:
    """Execution created_at (server clock) minus the send time, per request."""
    deadline = time.monotonic() + 60
    while True:
        with sqlite3.connect(state_db) as db:
            rows = db.execute(
                "SELECT e.created_at, t.payload FROM executions e "
                "JOIN rule_enforcements r ON r.execution_id = e.id "
                "JOIN trigger_instances t ON t.id = r.trigger_instance_id"
            ).fetchall()
            done = db.execute(
                "SELECT count(*) FROM executions WHERE status = 'succeeded'"
            ).fetchone()[0]
        if (len(rows) >= expected and done >= expected) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    latencies = []
    for created_at, payload in rows:
        n = json.loads(payload)["body"]["n"]
        created = dt.datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%S.%fZ")
        created = created.replace(tzinfo=dt.UTC).timestamp()
        latencies.append(created - sent[n])
    assert done >= expected, f"only {done} of {expected} executions succeeded"
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        port = free_port()
        packhorse(home, "init", "--listen", f"127.0.0.1:{port}")
        for name, text in PACK.items():
            path = home / "packs" / "hooks" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        packhorse(home, "pack", "register", "hooks")
        credentials = {"St2-Api-Key": api_key(home)}
        with running_up(home, port) as base:
            floor, _ = asyncio.run(load(f"{base}/health", arguments.rate, 5, post=False))
            answered, sent = asyncio.run(
                load(
                    f"{base}/api/v1/webhooks/bench",
                    arguments.rate,
                    arguments.seconds,
                    True,
                    credentials,
                )
            )
            requested = requested_latencies(home / "state.db", sent, len(sent))
    ms = 1000
    print(
        f"\nWebhook to execution requested, {arguments.rate:.0f} requests/s for "
        f"{arguments.seconds:.0f} s ({len(sent)} requests), core.noop running in the same process"
    )
    header = f"{'measurement':<40} {'p50':>9} {'p90':>9} {'p99':>9} {'max':>9}"
    print(header)
    print("-" * len(header))
    for name, samples in (
        ("POST webhook -> 202 (instance stored)", answered),
        ("POST webhook -> execution requested", requested),
        ("floor: GET /health -> 200", floor),
    ):
        cells = [percentile(samples, q) * ms for q in (0.5, 0.9, 0.99)] + [max(samples) * ms]
        print(f"{name:<40} " + " ".join(f"{c:7.1f}ms" for c in cells))
    p99 = percentile(requested, 0.99)
    ratio = statistics.median(requested) / statistics.median(floor)
    print(f"\nmedian requested / median floor: {ratio:.1f}x;  p99 requested target < 25 ms")
    if p99 > 0.025:
        sys.exit(1)


if __name__ == "__main__":
    main()
