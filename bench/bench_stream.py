"""Event stream latency: an execution's status change to a connected client, on SQLite.

``packhorse up`` runs as a real process on a fresh instance. Clients hold
``/stream/v1/stream?events=st2.execution__create,st2.execution__update`` open while the
benchmark runs ``core.local cmd=true`` executions one after another over the API, each after
the last one's final event arrived. Each event's latency is the time it was read by the
client minus the time the server stamped the status change (the last entry of the event's
``log``; same machine, same clock): created, scheduled, running and succeeded, 4 per
execution. The stamp is taken just before the change commits, so this slightly overstates.

Floor, measured in the same run between the runs: a ``GET /health`` round trip on the same
server.

Target (issue 7): a status change reaches a connected client in under 50 ms (p99).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import api_key, free_port, packhorse, running_up

EVENTS = "st2.execution__create,st2.execution__update"
FINAL = {"succeeded", "failed", "canceled", "timeout", "abandoned"}
TARGET_SECONDS = 0.050


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def stamp(text: str) -> float:
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=dt.UTC).timestamp()


class Listener(threading.Thread):
    """One stream client: the latency of every event it reads, and which executions ended."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url = f"{base}/stream/v1/stream"
        self.headers = headers
        self.latencies: list[float] = []
        self.by_status: dict[str, list[float]] = {}
        self.closing = False
        self.ended: dict[str, threading.Event] = {}
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.response: httpx.Response | None = None

    def ended_event(self, execution_id: str) -> threading.Event:
        with self.lock:
            return self.ended.setdefault(execution_id, threading.Event())

    def close(self) -> None:
        self.closing = True
        if self.response is not None:
            self.response.close()

    def run(self) -> None:
        try:
            self.listen()
        except httpx.HTTPError:
            if not self.closing:
                raise

    def listen(self) -> None:
        query = {"events": EVENTS}
        with httpx.stream(
            "GET", self.url, params=query, headers=self.headers, timeout=None
        ) as response:
            self.response = response
            name = ""
            for line in response.iter_lines():
                if not line:
                    self.opened.set()
                    continue
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    read_at = time.time()
                    body = json.loads(line[6:])
                    latency = read_at - stamp(body["log"][-1]["timestamp"])
                    self.latencies.append(latency)
                    self.by_status.setdefault(body["status"], []).append(latency)
                    if body["status"] in FINAL:
                        self.ended_event(body["id"]).set()


def one_run(
    base: str, headers: dict[str, str], executions: int, clients: int
) -> tuple[list[float], dict[str, list[float]]]:
    listeners = [Listener(base, headers) for _ in range(clients)]
    for listener in listeners:
        listener.start()
        assert listener.opened.wait(10), "the stream did not open"
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for _ in range(executions):
            created = client.post(
                "/api/v1/executions", json={"action": "core.local", "parameters": {"cmd": "true"}}
            )
            assert created.status_code == 201, created.text
            execution_id = created.json()["id"]
            for listener in listeners:
                assert listener.ended_event(execution_id).wait(30), "no final event"
    samples: list[float] = []
    by_status: dict[str, list[float]] = {}
    for listener in listeners:
        listener.close()
        samples.extend(listener.latencies)
        for status, latencies in listener.by_status.items():
            by_status.setdefault(status, []).extend(latencies)
    assert len(samples) >= 4 * executions * clients, (len(samples), executions, clients)
    return samples, by_status


def health_floor(base: str, repeats: int) -> list[float]:
    with httpx.Client(base_url=base, timeout=10) as client:
        client.get("/health")
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            client.get("/health")
            samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per client count")
    parser.add_argument("--executions", type=int, default=40, help="executions per run")
    parser.add_argument(
        "--clients", type=int, nargs="+", default=[1, 10], help="concurrent stream clients"
    )
    arguments = parser.parse_args()
    ms = 1000
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        port = free_port()
        packhorse(home, "init", "--listen", f"127.0.0.1:{port}")
        headers = {"St2-Api-Key": api_key(home)}
        with running_up(home, port) as base:
            one_run(base, headers, 5, 1)  # warm up: the runner, the caches
            floor: list[float] = []
            results: dict[int, list[tuple[list[float], dict[str, list[float]]]]] = {}
            for clients in arguments.clients:
                for _ in range(arguments.runs):
                    # The floor is sampled between runs: the machine's noise changes.
                    floor.extend(health_floor(base, 50))
                    outcome = one_run(base, headers, arguments.executions, clients)
                    results.setdefault(clients, []).append(outcome)
    print(
        f"\nEvent stream: status change -> client, core.local cmd=true, "
        f"{arguments.executions} executions x 4 events per run, {arguments.runs} runs"
    )
    header = f"{'measurement':<44} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}"
    print(header)
    print("-" * len(header))
    worst_p99 = 0.0
    for clients, outcomes in results.items():
        runs = [samples for samples, _ in outcomes]
        for index, samples in enumerate(runs, 1):
            cells = [percentile(samples, q) for q in (0.5, 0.95, 0.99)] + [max(samples)]
            name = f"{clients} client(s), run {index}"
            print(f"{name:<44} " + " ".join(f"{c * ms:7.1f}ms" for c in cells))
        medians = [
            statistics.median(percentile(samples, q) for samples in runs) for q in (0.5, 0.95, 0.99)
        ]
        worst_p99 = max(worst_p99, medians[2])
        name = f"{clients} client(s), median of runs"
        print(f"{name:<44} " + " ".join(f"{c * ms:7.1f}ms" for c in medians))
        for status in ("requested", "scheduled", "running", "succeeded"):
            pooled = [x for _, by_status in outcomes for x in by_status.get(status, [])]
            if pooled:
                cells = [percentile(pooled, q) for q in (0.5, 0.95, 0.99)] + [max(pooled)]
                name = f"  {status} (all runs)"
                print(f"{name:<44} " + " ".join(f"{c * ms:7.1f}ms" for c in cells))
    cells = [percentile(floor, q) for q in (0.5, 0.95, 0.99)] + [max(floor)]
    name = "floor: GET /health round trip"
    print(f"{name:<44} " + " ".join(f"{c * ms:7.1f}ms" for c in cells))
    print(f"\nmedian p99 across runs: {worst_p99 * ms:.1f} ms;  target < 50 ms")
    if worst_p99 > TARGET_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
