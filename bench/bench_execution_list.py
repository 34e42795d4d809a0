"""Listing executions over HTTP with 100,000 of them stored, each with a 2 KB result.

A fresh SQLite instance gets ``--count`` completed executions (four actions, mostly
succeeded, a 2 KB result each) written straight into its tables in one transaction; then
``packhorse up`` runs as a real process and one client asks, one request at a time,
``GET /api/v1/executions?limit=50&offset=10000&action=A&status=succeeded`` (a deep page of a
filtered list, with ``X-Total-Count``) and, as the floor, ``GET /health``.

Target (issue 7): p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import api_key, free_port, packhorse, running_up

ACTIONS = ("bench.alpha", "bench.beta", "bench.gamma", "bench.delta")
QUERY = "/api/v1/executions?limit=50&offset=10000&action=bench.alpha&status=succeeded"


def populate(state_db: Path, count: int) -> None:
    """``count`` completed executions with 2 KB results, in one transaction."""
    import sqlalchemy as sa

    from packhorse.storage.schema import execution_log, executions

    # Recent, well inside the retention period (else packhorse up's collector purges them
    # while the benchmark reads).
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=count + 3600)
    result = {"stdout": "x" * 2000, "stderr": "", "return_code": 0, "succeeded": True}
    rows, log = [], []
    for n in range(count):
        created = (start + dt.timedelta(seconds=n)).isoformat(timespec="microseconds")
        ended = (start + dt.timedelta(seconds=n, milliseconds=200)).isoformat(
            timespec="microseconds"
        )
        execution_id = uuid.UUID(int=n + 1).hex[8:]
        status = "failed" if n % 10 == 9 else "succeeded"
        rows.append(
            {
                "id": execution_id,
                "action_ref": ACTIONS[n % len(ACTIONS)],
                "runner_type": "local-shell-cmd",
                "status": status,
                "parameters": json.dumps({"cmd": f"echo {n}"}),
                "context": json.dumps({"user": "admin"}),
                "result": json.dumps(result),
                "attempt": 1,
                "created_at": created,
                "start_timestamp": created,
                "end_timestamp": ended,
                "pids": "[]",
            }
        )
        log += [
            {"execution_id": execution_id, "status": "requested", "timestamp": created},
            {"execution_id": execution_id, "status": status, "timestamp": ended},
        ]
    engine = sa.create_engine(f"sqlite:///{state_db}")
    with engine.begin() as connection:
        connection.execute(executions.insert(), rows)
        connection.execute(execution_log.insert(), log)
    engine.dispose()


def latencies(client: httpx.Client, path: str, requests: int) -> list[float]:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="executions stored")
    parser.add_argument("--requests", type=int, default=300, help="requests per run")
    parser.add_argument("--runs", type=int, default=3, help="runs (medians are quoted)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        port = free_port()
        packhorse(home, "init", "--listen", f"127.0.0.1:{port}")
        started = time.perf_counter()
        populate(home / "state.db", arguments.count)
        print(f"stored {arguments.count} executions in {time.perf_counter() - started:.1f} s")
        key = api_key(home)
        rows = []
        with (
            running_up(home, port) as base,
            httpx.Client(base_url=base, headers={"St2-Api-Key": key}, timeout=30) as client,
        ):
            page = client.get(QUERY)
            assert len(page.json()) == 50, page.text
            total = int(page.headers["X-Total-Count"])
            assert total > 10_050, total
            latencies(client, QUERY, 20)  # warm the caches
            for _ in range(arguments.runs):
                listed = latencies(client, QUERY, arguments.requests)
                floor = latencies(client, "/health", arguments.requests)
                rows.append(
                    (
                        statistics.median(listed),
                        percentile(listed, 0.99),
                        statistics.median(floor),
                        percentile(floor, 0.99),
                    )
                )
    p50, p99, floor50, floor99 = (statistics.median(column) for column in zip(*rows, strict=True))
    print(f"\nGET {QUERY}")
    print(f"{arguments.count} executions stored (2 KB results), {total} match the filter")
    print(f"{'measurement':<34} {'p50':>9} {'p99':>9} {'p99/floor':>10}  target")
    print(
        f"{'list (medians of runs)':<34} {p50 * 1e3:7.1f}ms {p99 * 1e3:7.1f}ms "
        f"{p99 / floor99:9.1f}x  p99 < 50 ms"
    )
    print(f"{'floor: GET /health':<34} {floor50 * 1e3:7.1f}ms {floor99 * 1e3:7.1f}ms")
    print("p99 of each run: " + ", ".join(f"{row[1] * 1e3:.1f} ms" for row in rows))


if __name__ == "__main__":
    main()
