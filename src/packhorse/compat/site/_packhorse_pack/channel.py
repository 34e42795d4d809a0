"""The pack side of the datastore channel: JSON lines over a socket the engine passed us.

Each call is one line ``{"op": ..., "args": {...}}``; the engine answers one line
``{"ok": value}`` or ``{"error": message}``. Names arrive here already complete (the
``<pack>.<Class>:`` prefix of local keys is applied by the caller, as StackStorm does).
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

__all__ = ["ChannelError", "DatastoreConnection", "current", "install"]

UNAVAILABLE = (
    "the Packhorse datastore is not reachable from this process "
    "(only actions run by Packhorse have it)"
)


class ChannelError(RuntimeError):
    """The engine refused a datastore call, or the channel is gone."""


class DatastoreConnection:
    """A blocking client of the engine's datastore channel (thread-safe)."""

    def __init__(self, fd: int) -> None:
        self._socket = socket.socket(fileno=fd)
        self._socket.setblocking(True)
        self._file = self._socket.makefile("rwb")
        self._lock = threading.Lock()

    def call(self, op: str, **args: Any) -> Any:
        line = json.dumps({"op": op, "args": args}).encode() + b"\n"
        with self._lock:
            try:
                self._file.write(line)
                self._file.flush()
                answer = self._file.readline()
            except OSError as error:
                raise ChannelError(f"datastore channel failed: {error}") from error
        if not answer:
            raise ChannelError("datastore channel closed by the engine")
        reply = json.loads(answer)
        if "error" in reply:
            raise ChannelError(str(reply["error"]))
        return reply.get("ok")

    def close(self) -> None:
        self._file.close()
        self._socket.close()


_current: DatastoreConnection | None = None


def install(connection: DatastoreConnection | None) -> None:
    """Make ``connection`` the one this process's datastore calls use."""
    global _current  # noqa: PLW0603 - one channel per pack process, set once by the wrapper
    _current = connection


def current() -> DatastoreConnection:
    if _current is None:
        raise ChannelError(UNAVAILABLE)
    return _current
