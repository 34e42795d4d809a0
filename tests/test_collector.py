"""Pausing the garbage collector: blocks nest and leave it as they found it."""

from __future__ import annotations

import gc

import pytest

from packhorse.collector import collection_paused


def test_blocks_nest_and_leave_the_collector_as_found() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block found it paused
    assert gc.isenabled()


def test_an_error_in_the_block_resumes_collection() -> None:
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
