"""CPU seconds per execution in the scale-out set-up (issue 11), which a busy machine
disturbs far less than throughput: ``.venv/bin/python bench/cpu_scale_out.py [--profile]
[--workers N] [--count N] [--action noop|sleep]``.

Starts N ``packhorse up --role worker --workers 1`` processes on a private PostgreSQL database,
requests the executions from this process (four threads, as bench_scale_out.py does) and,
once all have succeeded, reads the CPU time each party used meanwhile: the worker processes
(with the shells they ran, reaped), the PostgreSQL backends of the database (workers' and
requester's) and this process's requesting. Also the transactions committed
(``pg_stat_database.xact_commit``). With ``--profile`` the first worker runs under cProfile
and counts its statements (bench/_profiled_up.py); the top of the profile is printed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import pstats
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale_out import ACTIONS, ADMIN, drain, reset
from common import free_port, packhorse

from packhorse.engine.runtime import build_runtime
from packhorse.model.execution import Status
from packhorse.settings import load_settings
from packhorse.storage.executions import ExecutionFilter

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, children: bool = True, stat_file: Path | None = None) -> float:
    """utime + stime (+ reaped children's) of ``pid``; 0 when it is gone."""
    try:
        stat = (stat_file or Path(f"/proc/{pid}/stat")).read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


@contextlib.contextmanager
def worker(home: Path, url: str, profile: str | None) -> Iterator[subprocess.Popen[bytes]]:
    import httpx

    port = free_port()
    prefix = [sys.executable, "-m", "packhorse"]
    if profile:
        prefix = [sys.executable, str(Path(__file__).parent / "_profiled_up.py"), profile]
    process = subprocess.Popen(
        [
            *prefix,
            *("--home", str(home), "up", "--role", "worker", "--workers", "1"),
            *("--database", url, "--listen", f"127.0.0.1:{port}"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline and process.poll() is None, "up did not start"
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


def threads(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid``, by thread id."""
    return {
        task.name: cpu_seconds(pid, children=False, stat_file=task / "stat")
        for task in Path(f"/proc/{pid}/task").iterdir()
    }


def by_name(pid: int, used: dict[str, float], names: dict[str, str]) -> dict[str, float]:
    """``used`` (by thread id) summed by thread name: Python 3.11 names no OS thread, so the
    names come from the profiled process (``names``), else only the event loop's is told."""
    found: dict[str, float] = {}
    for tid, seconds in used.items():
        name = "event loop" if tid == str(pid) else names.get(tid, "other threads")
        name = "to_thread pool" if name.startswith("asyncio_") else name
        found[name] = found.get(name, 0.0) + seconds
    return found


def backends(admin: object, name: str) -> list[int]:
    rows = admin.execute(  # type: ignore[attr-defined]
        "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
    ).fetchall()
    return [int(row[0]) for row in rows]


def commits(admin: object, name: str) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")  # type: ignore[attr-defined]
    row = admin.execute(  # type: ignore[attr-defined]
        "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (name,)
    ).fetchone()
    return int(row[0])


def main() -> None:
    import psycopg

    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--action", choices=("noop", "sleep"), default="sleep")
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    action, parameters, _ = ACTIONS["core.noop" if options.action == "noop" else "sleep 10 ms"]
    count = options.count
    name = f"packhorse_cpu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    profile_out = tempfile.mktemp(suffix=".prof") if options.profile else None
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            psycopg.connect(ADMIN.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as admin,
        ):
            home = Path(folder) / "home"
            packhorse(home, "init")
            store = reset(home, url)
            settings = load_settings(home).with_overrides(database_url=url)
            runtime = build_runtime(settings, warm_python=False)
            with contextlib.ExitStack() as stack:
                workers = [
                    stack.enter_context(worker(home, url, profile_out if i == 0 else None))
                    for i in range(options.workers)
                ]
                # Warm up: one execution through each path, so that the pools are full.
                runtime.executions.request(action, parameters, user="stanley")
                drain(store, time.perf_counter(), 1)
                time.sleep(1)
                mine = admin.execute("SELECT pg_backend_pid()").fetchone()[0]
                pids = [pid for pid in backends(admin, name) if pid != mine]
                before = {pid: cpu_seconds(pid) for pid in pids}
                workers_before = [cpu_seconds(process.pid) for process in workers]
                own_before = [cpu_seconds(p.pid, children=False) for p in workers]
                threads_before = threads(workers[0].pid)
                commits_before = commits(admin, name)
                if profile_out:
                    workers[0].send_signal(signal.SIGUSR1)
                usage_before = resource.getrusage(resource.RUSAGE_SELF)
                started = time.perf_counter()
                with concurrent.futures.ThreadPoolExecutor(4) as pool:
                    list(
                        pool.map(
                            lambda _: runtime.executions.request(
                                action, parameters, user="stanley"
                            ),
                            range(count),
                        )
                    )
                usage_after = resource.getrusage(resource.RUSAGE_SELF)
                seconds = drain(store, started, count + 1)
                worker_cpu = sum(
                    cpu_seconds(p.pid) - b for p, b in zip(workers, workers_before, strict=True)
                )
                threads_after = threads(workers[0].pid)
                own_cpu = sum(
                    cpu_seconds(p.pid, children=False) - b
                    for p, b in zip(workers, own_before, strict=True)
                )
                pids_after = [pid for pid in backends(admin, name) if pid != mine]
                backend_cpu = sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in pids_after)
                time.sleep(1.5)  # backends report their commits to the statistics lazily
                committed = commits(admin, name) - commits_before
                succeeded = store.count(ExecutionFilter(statuses=(Status.SUCCEEDED,)))
                assert succeeded == count + 1, f"{count + 1 - succeeded} did not succeed"
            requester_cpu = (usage_after.ru_utime + usage_after.ru_stime) - (
                usage_before.ru_utime + usage_before.ru_stime
            )
            store.engine.dispose()
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    per = 1000 / count
    print(
        f"{count} {options.action}, {options.workers} worker(s): {count / seconds:.0f}/s; "
        f"CPU ms per execution: workers {worker_cpu * per:.2f} (their processes "
        f"{own_cpu * per:.2f}, the shells they ran {(worker_cpu - own_cpu) * per:.2f}), "
        f"postgres backends "
        f"{backend_cpu * per:.2f}, requester {requester_cpu * per:.2f}, total "
        f"{(worker_cpu + backend_cpu + requester_cpu) * per:.2f}; "
        f"commits per execution {committed / count:.2f}; load {os.getloadavg()[0]:.1f}"
    )
    names: dict[str, str] = {}
    if profile_out:
        time.sleep(0.5)
        names = json.loads(Path(profile_out + ".threads.json").read_text())
    used = {tid: after - threads_before.get(tid, 0.0) for tid, after in threads_after.items()}
    print(
        "worker 1 by thread, CPU ms per execution it ran (about 1/N of them): "
        + ", ".join(
            f"{name} {seconds * per * options.workers:.2f}"
            for name, seconds in sorted(
                by_name(workers[0].pid, used, names).items(), key=lambda item: -item[1]
            )
        )
    )
    if profile_out:
        counts = json.loads(Path(profile_out + ".json").read_text())
        print("statements of worker 1 during the run:")
        for statement, n in sorted(counts.items(), key=lambda item: -item[1])[:25]:
            print(f"{n:7d}  {statement}")
        pstats.Stats(profile_out).sort_stats("tottime").print_stats(35)
        pstats.Stats(profile_out).sort_stats("cumulative").print_stats(60)


if __name__ == "__main__":
    main()
