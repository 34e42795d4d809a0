"""SIGKILL the engine with 50 executions in flight, restart it, and check the crash rules:
claimed-but-not-started work runs after the restart; started work ends ``abandoned``; none is
lost; no id is appended twice; no action process outlives the engine."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import build_runtime

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "crashy"
TOTAL = 50
SLOTS = 10


def statuses(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "state.db") as connection:
        return dict(connection.execute("SELECT id, status FROM executions").fetchall())


def pids_of(home: Path) -> list[int]:
    import json

    with sqlite3.connect(home / "state.db") as connection:
        rows = connection.execute("SELECT pids FROM executions").fetchall()
    return [pid for (text,) in rows for pid in json.loads(text)]


def start_engine(home: Path, port: int) -> subprocess.Popen[bytes]:
    with (home / "logs" / f"engine-{port}.log").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "packhorse",
                "--home",
                str(home),
                "up",
                "--listen",
                f"127.0.0.1:{port}",
                "--workers",
                str(SLOTS),
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=log,
        )


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is gone for our purpose only once reaped; check its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_sigkill_with_fifty_in_flight(tmp_path: Path) -> None:
    from tests.test_up import free_port

    home = tmp_path / "home"
    settings = init_instance(home).settings
    shutil.copytree(FIXTURE, home / "packs" / "crashy")
    outcome = bootstrap.register_instance_packs(settings, refs=["crashy"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    ledger = tmp_path / "ledger.txt"
    runtime = build_runtime(settings)
    ids = [
        runtime.executions.request(
            "crashy.append", {"file": str(ledger), "seconds": 1.5}, user="test"
        ).id
        for _ in range(TOTAL)
    ]

    engine = start_engine(home, free_port())
    wait_until(lambda: list(statuses(home).values()).count("running") == SLOTS, 30, "10 running")
    engine.send_signal(signal.SIGKILL)
    engine.wait(timeout=10)
    at_kill = statuses(home)
    started = {i for i, s in at_kill.items() if s == "running"}
    assert len(started) == SLOTS

    engine = start_engine(home, free_port())
    try:
        wait_until(
            lambda: all(s in {"succeeded", "abandoned"} for s in statuses(home).values()),
            90,
            "every execution to finish",
        )
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)

    final = statuses(home)
    assert set(final) == set(ids)  # none lost
    assert {i for i, s in final.items() if s == "abandoned"} == started
    assert {i for i, s in final.items() if s == "succeeded"} == set(ids) - started
    appended = ledger.read_text().split()
    assert len(appended) == len(set(appended))  # none ran twice
    # Every one that succeeded ran; one abandoned by the kill may not have (the kill came after
    # its start was recorded, before its command passed the start gate).
    succeeded = {i for i, s in final.items() if s == "succeeded"}
    assert succeeded <= set(appended) <= set(ids)
    assert all(gone(pid) for pid in pids_of(home))  # no action outlived its engine
