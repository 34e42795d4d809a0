"""The start-up heap is frozen while the engine's loops run, and only then."""

from __future__ import annotations

import gc

from packhorse.engine.heap import start_up_frozen


def test_the_heap_is_frozen_inside_and_unfrozen_after_the_last_block() -> None:
    assert gc.get_freeze_count() == 0
    with start_up_frozen():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with start_up_frozen():
            assert gc.get_freeze_count() >= frozen
        assert gc.get_freeze_count() >= frozen  # the outer block still runs
    assert gc.get_freeze_count() == 0


def test_an_error_in_the_block_unfreezes() -> None:
    try:
        with start_up_frozen():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
