"""The engine's objects from before its loops start, kept out of the garbage collector's way.

CPython's collector makes a full pass over every tracked object of the process once young
objects have been promoted often enough (and they add up to a quarter of the older ones). The
engine's loops make such passes as a workflow grows: none in a 1,000-task workflow, three to
six in a 10,000-task one, each walking the start-up heap too (modules, SQLAlchemy, the
registry, compiled statements), 0.3 to 0.45 s of a 6 to 11 s run. Frozen
(:func:`gc.freeze`), the objects that exist when the loops start are skipped by those
passes, which then walk what the loops made (0.05 to 0.2 s), so their cost follows the
workflow's size. The objects are unfrozen when the loops stop: any of them that became
garbage in the meantime is collected then, as usual.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_blocks: list[None] = []
"""One entry per :func:`start_up_frozen` block running in this process."""


@contextlib.contextmanager
def start_up_frozen() -> Iterator[None]:
    """Freeze the objects that exist now for as long as the block runs (see the module
    docstring); nested or concurrent blocks unfreeze when the last one ends."""
    if not _blocks:
        gc.freeze()
    _blocks.append(None)
    try:
        yield
    finally:
        _blocks.pop()
        if not _blocks:
            gc.unfreeze()
