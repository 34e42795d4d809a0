"""Two real ``packhorse up`` instances behind a real front: the event stream passes through
live, and a flip sends new API calls to the other instance while a stream opened before it
goes on, on the instance it started on."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from packhorse.settings import load_settings
from tests.api.credentials import headers_for
from tests.front.upstream import packhorse, running_front
from tests.test_up import free_port, wait_for

pytestmark = pytest.mark.slow
PACKHORSE = (sys.executable, "-m", "packhorse")


@contextlib.contextmanager
def up(home: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*PACKHORSE, "--home", str(home), "up", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/ready", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr.decode()


def run(base: str, headers: dict[str, str]) -> str:
    response = httpx.post(
        f"{base}/api/v1/executions", json={"action": "core.noop"}, headers=headers, timeout=10
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def created(lines: Iterator[str], execution_id: str) -> None:
    """Read the stream until it announces ``execution_id``."""
    event = ""
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif (
            line.startswith("data: ")
            and event == "st2.execution__create"
            and json.loads(line[6:]).get("id") == execution_id
        ):
            return
    raise AssertionError(f"the stream ended before {execution_id} was created")


def test_the_event_stream_passes_through_and_a_flip_moves_new_calls_only(
    instance_home: Path, tmp_path: Path
) -> None:
    home_b = tmp_path / "home-b"
    shutil.copytree(instance_home, home_b)
    credentials = {
        "a": headers_for(load_settings(instance_home)),
        "b": headers_for(load_settings(home_b)),
    }
    state = tmp_path / "front.json"
    with up(instance_home) as a, up(home_b) as b, running_front(state) as front:
        packhorse("front", "flip", "--state", str(state), "--to", a)
        with httpx.stream(
            "GET", f"{front}/stream/v1/stream", headers=credentials["a"], timeout=20
        ) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines) == ""  # opened: subscribed
            first = run(front, credentials["a"])
            created(lines, first)  # seen live through the front, the stream still open

            packhorse("front", "flip", "--state", str(state), "--to", b)
            second = run(front, credentials["b"])
            on_b = httpx.get(f"{b}/api/v1/executions/{second}", headers=credentials["b"])
            on_a = httpx.get(f"{a}/api/v1/executions/{second}", headers=credentials["a"])
            assert (on_b.status_code, on_a.status_code) == (200, 404)

            # The stream opened before the flip goes on, on the old instance.
            third = run(a, credentials["a"])
            created(lines, third)
