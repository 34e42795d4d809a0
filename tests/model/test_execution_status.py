"""The execution status machine, as one table."""

from __future__ import annotations

import itertools

import pytest

from packhorse.model.execution import COMPLETED, TRANSITIONS, Status, can_move

ALLOWED = {(s, t) for s, targets in TRANSITIONS.items() for t in targets}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(Status, Status)))
def test_every_pair_follows_the_table(current: Status, target: Status) -> None:
    assert can_move(current, target) is ((current, target) in ALLOWED)


def test_every_status_has_a_row_and_completed_ones_are_final() -> None:
    assert set(TRANSITIONS) == set(Status)
    for status in COMPLETED:
        assert TRANSITIONS[status] == frozenset()


def test_every_non_final_status_can_end() -> None:
    """From any status that is not final some path reaches a final status."""
    for start in set(Status) - COMPLETED:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & COMPLETED, start
