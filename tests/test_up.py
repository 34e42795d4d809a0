"""What ``make run`` starts: ``packhorse up`` on an initialised instance, as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def test_up_serves_health_and_ready_and_stops_cleanly(instance_home: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "packhorse",
            "--home",
            str(instance_home),
            "up",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        health = wait_for(f"http://127.0.0.1:{port}/health", process)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.json()["instance"] in (instance_home / "packhorse.toml").read_text()
        ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr.decode()
    assert f"http://127.0.0.1:{port}" in stderr.decode()


def test_up_refuses_a_database_behind_the_schema(instance_home: Path) -> None:
    import sqlite3

    with sqlite3.connect(instance_home / "state.db") as connection:
        connection.execute("DELETE FROM alembic_version")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "packhorse",
            "--home",
            str(instance_home),
            "up",
            "--listen",
            f"127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot start" in result.stderr and "packhorse db upgrade" in result.stderr


def test_help_through_the_console_script_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "packhorse", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("init", "up", "db", "pack", "action", "rule", "trigger", "sensor"):
        assert f"  {command} " in result.stdout
