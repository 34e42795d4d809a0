"""The pack side of the datastore channel: JSON lines over a socket the engine passed us.

Each call is one line ``{"op": ..., "args": {...}}``; the engine answers one line
``{"ok": value}`` or ``{"error": message}``. Names arrive here already complete (the
``<pack>.<Class>:`` prefix of local keys is applied by the caller, as StackStorm does).
"""

from __future__ import annotations

import io
import json
import os
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
    """A blocking client of the engine's datastore channel (thread-safe).

    The socket is opened on the first call: most actions make none, and wrapping the
    descriptor costs half a millisecond in a freshly forked child."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._socket: socket.socket | None = None
        self._file: io.BufferedRWPair | None = None
        self._lock = threading.Lock()

    def _stream(self) -> io.BufferedRWPair:
        if self._file is None:
            self._socket = socket.socket(fileno=self._fd)
            self._socket.setblocking(True)
            self._file = self._socket.makefile("rwb")
        return self._file

    def call(self, op: str, **args: Any) -> Any:
        line = json.dumps({"op": op, "args": args}).encode() + b"\n"
        with self._lock:
            try:
                stream = self._stream()
                stream.write(line)
                stream.flush()
                answer = stream.readline()
            except OSError as error:
                raise ChannelError(f"datastore channel failed: {error}") from error
        if not answer:
            raise ChannelError("datastore channel closed by the engine")
        reply = json.loads(answer)
        if "error" in reply:
            raise ChannelError(str(reply["error"]))
        return reply.get("ok")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
            if self._socket is not None:
                self._socket.close()
            elif self._fd >= 0:
                os.close(self._fd)
            self._file, self._socket, self._fd = None, None, -1


_current: DatastoreConnection | None = None


def install(connection: DatastoreConnection | None) -> None:
    """Make ``connection`` the one this process's datastore calls use."""
    global _current  # noqa: PLW0603 - one channel per pack process, set once by the wrapper
    _current = connection


def current() -> DatastoreConnection:
    if _current is None:
        raise ChannelError(UNAVAILABLE)
    return _current
