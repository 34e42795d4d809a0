"""Execution ids: ObjectId-shaped, increasing within a process, distinct across processes."""

from __future__ import annotations

import itertools
import os
import re

import pytest

from packhorse.engine import ids
from packhorse.engine.ids import new_id


def test_ids_are_24_hex_digits_starting_with_the_time() -> None:
    made = [new_id() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{24}", made_id) for made_id in made)
    assert len(set(made)) == len(made)
    assert abs(int(made[0][:8], 16) - int(ids.time.time())) <= 1


def test_ids_of_one_process_increase(monkeypatch: pytest.MonkeyPatch) -> None:
    """So that rows created together are stored, claimed and finished in one order (the
    counter wraps at 2**24; started away from the wrap here)."""
    monkeypatch.setattr(ids._SOURCE, "counter", itertools.count(7))
    monkeypatch.setattr(ids.time, "time", lambda: 1_800_000_000.5)
    made = [new_id() for _ in range(1000)]
    assert made == sorted(made)
    assert len({made_id[:18] for made_id in made}) == 1  # same second, same process


def test_a_forked_child_draws_its_own_process_number() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 24).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child[8:18] != new_id()[8:18]
