"""CPython's cyclic garbage collector paused around bursts of allocation that make no garbage
cycles: reading a large YAML document, one step of a workflow's conductor.

Once the young objects promoted since its last full pass add up to a quarter of the older
ones, the collector makes a full pass over every tracked object of the process after every
tenth pass over the middle generation, that is every 70,000 or so net allocations. A burst
that builds a large structure (the node tree of a 10,000-task workflow, the records of a
10,000-branch fan-out) brings on full passes that walk the whole process and free nothing,
where a burst a tenth of the size brings on none: its cost grows faster than its work.
Paused, a burst costs what it allocates. Objects are still freed by reference counting as
usual, and the collector runs again after the block; it is paused only if it was running,
so blocks nest.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (see the module docstring)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
