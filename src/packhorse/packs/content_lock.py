"""One change of an instance's content at a time: pack installs, removals and bundle imports
take this lock (an ``flock`` on ``<home>/.content.lock``), so two of them cannot interleave
their staging, swaps and journals.

The lock is re-entrant within a process (a bundle import installs packs), and refused at
once, not waited for, when another process holds it: the error names that process and what
it is doing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from packhorse.errors import Conflict, InstanceError

LOCK_FILE = ".content.lock"


class ContentBusy(InstanceError, Conflict):
    """Another process holds the content lock (the API answers 409)."""


_held: dict[Path, int] = {}
_guard = threading.Lock()


@contextlib.contextmanager
def content_lock(home: Path, *, what: str) -> Iterator[None]:
    """Hold the content lock of the instance at ``home`` while ``what`` (e.g. "a pack
    install") runs; raise :class:`InstanceError` when another process holds it."""
    path = (home / LOCK_FILE).resolve()
    with _guard:
        if path in _held:
            _held[path] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[path] -= 1
        return
    file = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            raise ContentBusy(
                f"{home} is being changed by {holder}; {what} cannot run at the same time",
                hint="wait for it to finish, then run this again",
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"pid {os.getpid()} ({what})")
        file.flush()
        with _guard:
            _held[path] = 1
        try:
            yield
        finally:
            with _guard:
                del _held[path]
            file.truncate(0)
            fcntl.flock(file, fcntl.LOCK_UN)
    finally:
        file.close()
