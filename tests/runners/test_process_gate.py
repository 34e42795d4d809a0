"""The start gate of shell commands: nothing runs before the engine has recorded the start,
and a command whose engine died before that never runs."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from packhorse.runners.process import _GATE, run_process


class SlowRecorder:
    """Events whose ``started`` is a slow database write, checking the command waits."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.existed_at_start: bool | None = None

    def started(self, pid: int) -> None:
        time.sleep(0.3)  # the engine writing "running" with the pid
        self.existed_at_start = self.marker.exists()

    def output(self, stream: str, text: str) -> None:
        pass


def test_a_gated_command_waits_for_the_recorded_start(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    events = SlowRecorder(marker)
    outcome = asyncio.run(run_process(f"touch {marker}; echo done", events=events, gate=True))
    assert events.existed_at_start is False
    assert marker.exists() and outcome.return_code == 0 and outcome.stdout.strip() == "done"


def test_a_gated_command_still_gets_its_stdin(tmp_path: Path) -> None:
    events = SlowRecorder(tmp_path / "unused")
    outcome = asyncio.run(
        run_process(
            "read -r secret; echo got=$secret", events=events, stdin_data=b"pw\n", gate=True
        )
    )
    assert outcome.stdout.strip() == "got=pw"


def test_without_the_go_line_the_command_never_runs(tmp_path: Path) -> None:
    """What a command sees when its engine is killed before the start was recorded: its
    stdin closes without the go line."""
    marker = tmp_path / "ran"
    completed = subprocess.run(
        ["/bin/sh", "-c", _GATE + f"touch {marker}"], stdin=subprocess.DEVNULL, check=False
    )
    assert completed.returncode == 125
    assert not marker.exists()
