"""Shared test helpers for runners: requests with defaults, and events that record."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from packhorse.runners.base import RunRequest

T = TypeVar("T")


def make_request(**overrides: Any) -> RunRequest:
    fields: dict[str, Any] = {
        "execution_id": "6a1f0000000000000000abcd",
        "action_ref": "demo.thing",
        "pack": "demo",
        "runner_type": "local-shell-cmd",
        "pack_path": "/nonexistent/demo",
        "entry_point": "",
        "runner_parameters": {},
        "action_parameters": {},
        "parameter_schema": {},
        "timeout": 30,
    }
    fields.update(overrides)
    return RunRequest(**fields)


@dataclass
class RecordingEvents:
    """Events that keep what they were told; ``first_output`` is set by the first chunk."""

    pids: list[int] = field(default_factory=list)
    chunks: list[tuple[str, str]] = field(default_factory=list)
    first_output: asyncio.Event = field(default_factory=asyncio.Event)

    def started(self, pid: int) -> None:
        self.pids.append(pid)

    def output(self, stream: str, text: str) -> None:
        self.chunks.append((stream, text))
        self.first_output.set()

    def text(self, stream: str) -> str:
        return "".join(text for name, text in self.chunks if name == stream)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def group_gone(pgid: int, within: float = 10.0) -> bool:
    """True once no process (zombies included) is left in group ``pgid``.

    The runner returns once every member is dead; init reaps the zombies of orphaned children
    a moment later, and no event tells us when, so this polls.
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
