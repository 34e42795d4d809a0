"""The workflow state: contexts and their merge, loading and saving whole or by parts."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from packhorse.errors import StateVersionError
from packhorse.workflow.contexts import ROOT, ChainNode, MergedCache, indexes, merge, merged
from packhorse.workflow.records import plain
from packhorse.workflow.state import WorkflowState
from packhorse.workflow.statuses import Status


def test_merge_is_deep_and_changes_neither_side() -> None:
    left = {"d": {"a": 1, "n": {"p": 1}}, "keep": [1]}
    right = {"d": {"n": {"q": 2}}, "keep": [2], "new": None}
    result = merge(left, right)
    assert result == {"d": {"a": 1, "n": {"p": 1, "q": 2}}, "keep": [2], "new": None}
    assert left == {"d": {"a": 1, "n": {"p": 1}}, "keep": [1]}
    assert right == {"d": {"n": {"q": 2}}, "keep": [2], "new": None}


def test_chains_list_and_merge_deltas_as_orquesta_lists_them() -> None:
    contexts: list[dict[str, Any]] = [{"x": 0}, {"x": 1}, {"y": 2}, {"x": 3}]
    chains = [
        ChainNode(None, 0),  # 0: [0]
        ChainNode(0, 1),  # 1: [0, 1]
        ChainNode(1, 2),  # 2: [0, 1, 2]
        ChainNode(1, 3),  # 3: [0, 1, 3]
        ChainNode(2, None, 3),  # 4: [0, 1, 2] + [1, 3]: the second branch's list without 0
    ]
    assert indexes(chains, 4) == [0, 1, 2, 1, 3]
    cache = MergedCache()
    assert merged(chains, contexts, 4, cache) == {"x": 3, "y": 2}
    assert merged(chains, contexts, 2, cache) == {"x": 1, "y": 2}
    assert merged(chains, contexts, ROOT, cache) == {"x": 0}


def test_long_chains_need_no_recursion() -> None:
    contexts = [{"n": i} for i in range(5000)]
    chains = [ChainNode(None, 0)] + [ChainNode(i - 1, i) for i in range(1, 5000)]
    assert merged(chains, contexts, 4999, MergedCache(size=2)) == {"n": 4999}
    assert len(indexes(chains, 4999)) == 5000


def test_plain_keeps_only_json() -> None:
    assert plain({"t": (1, (2, 3)), 1: "a", False: None}) == {
        "t": [1, [2, 3]],
        "1": "a",
        "false": None,
    }
    value = {"a": [1]}
    copied = plain(value)
    assert copied == value and copied["a"] is not value["a"]


def _sample_state() -> WorkflowState:
    state = WorkflowState({"name": "Stanley"}, {"st2": {"user": "me"}})
    state.add_context({"name": "Stanley"})
    root = state.root_chain()
    state.add_route([])
    staged = state.stage("task1", 0, root, state.new_prevs(), ready=True)
    record = state.add_record("task1", 0, staged.chain, staged.prev)
    state.unstage(staged.key)
    state.set_record_status(record, Status.RUNNING)
    state.set_record_status(record, Status.SUCCEEDED)
    state.set_next(record, "task2__t0", True)
    delta = state.add_context({"greeting": ("hi", "there")})
    state.stage(
        "task2", 0, state.extend_chain(root, delta), state.new_prevs({"task1__t0": 0}), ready=True
    )
    items = state.new_items(3)
    state.set_item(items, 1, status=Status.SUCCEEDED, result={"out": 1})
    state.log_entry({"type": "error", "message": "boom", "task_id": "task1"})
    state.log_entry({"type": "error", "message": "boom", "task_id": "task1"})  # a duplicate
    state.set_status(Status.RUNNING)
    return state


def _parts_of(state: WorkflowState) -> dict[str, Any]:
    written, deleted = state.take_changes()
    assert not deleted & set(written)
    return written


def test_round_trips() -> None:
    state = _sample_state()
    assert WorkflowState.from_json(state.to_json()) == state
    parts = _parts_of(state)
    assert WorkflowState.from_parts(parts) == state
    assert state.to_json()["version"] == 2
    assert state.errors == [{"type": "error", "message": "boom", "task_id": "task1"}]
    assert state.contexts[1] == {"greeting": ["hi", "there"]}  # stored as JSON stores it


def test_changes_are_incremental() -> None:
    state = _sample_state()
    parts = _parts_of(state)
    assert _parts_of(state) == {}  # nothing changed since
    record = state.latest("task1", 0)
    assert record is not None
    state.set_term(record, True)
    state.unstage(("task2", 0))
    state.remove_errors("task1")
    written, deleted = state.take_changes()
    assert set(written) == {"seq/0"}
    assert deleted == {"staged/task2__r0", "error/0"}
    parts.update(written)
    for part in deleted:
        del parts[part]
    assert WorkflowState.from_parts(parts) == state


def test_indexes_are_rebuilt_on_load() -> None:
    state = WorkflowState.from_json(_sample_state().to_json())
    assert state.pointers == {("task1", 0): 0}
    assert state.task_status("task1", 0) == Status.SUCCEEDED
    assert state.satisfied[("task2", 0)] == {"task1"}
    assert list(state.ready) == [("task2", 0)]
    assert state.variables(state.staged[("task2", 0)].chain) == {
        "name": "Stanley",
        "greeting": ["hi", "there"],
    }


def test_an_unknown_version_is_refused() -> None:
    document = _sample_state().to_json()
    document["version"] = 99
    with pytest.raises(StateVersionError, match="version 99"):
        WorkflowState.from_json(document)


def test_the_ready_index_shrinks_once_a_fan_out_is_handed_out() -> None:
    """Emptied dicts keep their table and iterating one walks it all: the ready index must
    not make every later query pay for the widest fan-out the workflow had."""
    state = WorkflowState()
    root = state.root_chain()
    state.add_route([])
    keys = [state.stage(f"b{i}", 0, root, state.new_prevs(), ready=True).key for i in range(1000)]
    for key in keys:
        state.unstage(key)
    assert state.ready == {}
    assert sys.getsizeof(state.ready) == sys.getsizeof({})
