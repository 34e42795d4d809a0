"""A tiny stand-in for ``eventlet``, used only when a pack's virtualenv has no real one.

Pack code that calls ``eventlet.sleep`` or ``eventlet.monkey_patch`` keeps working; packs
that need green threads must list ``eventlet`` in their ``requirements.txt``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["GreenThread", "monkey_patch", "sleep", "spawn", "spawn_n"]

PACKHORSE_SHIM = True


def sleep(seconds: float = 0) -> None:
    time.sleep(seconds)


def monkey_patch(**kwargs: Any) -> None:
    """Nothing to patch: Packhorse runs pack code on plain threads."""


class GreenThread(threading.Thread):
    """A thread standing in for a green thread: ``wait()`` returns the function's result."""

    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self._call = (function, args, kwargs)
        self._result: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        function, args, kwargs = self._call
        try:
            self._result = function(*args, **kwargs)
        except BaseException as error:  # handed to wait(), as eventlet does
            self._error = error

    def wait(self) -> Any:
        self.join()
        if self._error is not None:
            raise self._error
        return self._result


def spawn(function: Callable[..., Any], *args: Any, **kwargs: Any) -> GreenThread:
    thread = GreenThread(function, *args, **kwargs)
    thread.start()
    return thread


spawn_n = spawn
