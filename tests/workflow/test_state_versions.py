"""Versions of the saved workflow state: each transform, the chain of them, what is refused,
and a state saved in version 1 (by the code before version 2) loaded by parts and written back.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from packhorse.errors import StateVersionError
from packhorse.workflow import persistence, state_versions
from packhorse.workflow.state import WorkflowState
from packhorse.workflow.statuses import Status

FIXTURE = Path(__file__).parents[1] / "fixtures" / "workflow_state" / "asking-paused-v1.json"


def _version_1_parts() -> dict[str, Any]:
    """The parts the code before version 2 saved for ``flows.asking`` paused at its inquiry."""
    parts: dict[str, Any] = json.loads(FIXTURE.read_text().replace("{workflow_id}", "wf1"))
    return parts


def _version_1_document() -> dict[str, Any]:
    """A whole version-1 document with a task execution and a staged task."""
    return {
        "version": 1,
        "status": "running",
        "input": {"name": "Stanley"},
        "context": {},
        "output": None,
        "finished": False,
        "contexts": [{"name": "Stanley"}, {"greeting": "hi"}],
        "chains": [[None, 0, None], [0, 1, None]],
        "routes": [[]],
        "sequence": [
            {"id": "task1", "route": 0, "ctx": 0, "prev": 0, "status": "succeeded", "next": {}}
        ],
        "staged": [{"id": "task2", "route": 0, "ctx": 1, "prev": 1, "ready": True, "order": 1}],
        "prevs": {"0": {}, "1": {"task1__t0": 0}},
        "item_sets": {},
        "errors": {},
        "log": {},
        "reruns": [],
    }


def test_the_registry_has_one_transform_per_version_up_to_the_current_one() -> None:
    assert sorted(state_versions.TRANSFORMS) == list(range(1, state_versions.CURRENT))
    assert state_versions.CURRENT == persistence.VERSION == 2


def test_version_1_to_2_names_the_chain_of_records_chain() -> None:
    document = _version_1_document()
    before = copy.deepcopy(document)
    upgraded = state_versions.upgrade_state(document)
    assert document == before  # the input is left as it was
    assert upgraded["version"] == 2
    assert [r["chain"] for r in upgraded["sequence"]] == [0]
    assert [r["chain"] for r in upgraded["staged"]] == [1]
    assert all("ctx" not in r for r in [*upgraded["sequence"], *upgraded["staged"]])
    assert upgraded["contexts"] == document["contexts"]  # the deltas keep their name


def test_a_document_without_a_version_is_version_1() -> None:
    document = _version_1_document()
    del document["version"]
    assert state_versions.stored_version(document) == 1
    assert state_versions.upgrade_state(document) == state_versions.upgrade_state(
        _version_1_document()
    )


def test_a_current_document_is_read_as_it_is() -> None:
    current = state_versions.upgrade_state(_version_1_document())
    assert state_versions.upgrade_state(current) == current


@pytest.mark.parametrize("version", [3, 99, 0, -1, "2", True, 1.5])
def test_a_version_this_code_does_not_know_is_refused(version: object) -> None:
    document = _version_1_document()
    document["version"] = version
    with pytest.raises(StateVersionError) as refused:
        state_versions.upgrade_state(document)
    assert refused.value.found == version and refused.value.supported == 2
    assert f"version {version!r}" in refused.value.message
    assert "up to 2" in refused.value.message


def test_a_version_1_document_loads_into_a_state_that_runs_on() -> None:
    state = WorkflowState.from_json(_version_1_document())
    assert state.variables(state.staged[("task2", 0)].chain) == {
        "name": "Stanley",
        "greeting": "hi",
    }
    assert state.latest("task1", 0) is not None
    assert state.to_json()["version"] == 2


def test_version_1_parts_are_all_rewritten_in_version_2_at_the_next_save() -> None:
    stored = _version_1_parts()
    assert stored["meta"]["version"] == 1 and "ctx" in stored["seq/0"]
    state = WorkflowState.from_parts(stored)
    assert state.status is Status.PAUSED
    written, deleted = state.take_changes()
    assert set(written) == set(stored) and deleted == set()
    assert written["meta"]["version"] == 2
    assert written["seq/0"] == {**_without(stored["seq/0"], "ctx"), "chain": 0}
    assert WorkflowState.from_parts(written) == state
    assert state.take_changes() == ({}, set())  # written once, then only what changes


def test_a_current_state_loaded_by_parts_writes_nothing_back() -> None:
    current = WorkflowState.from_parts(_version_1_parts()).take_changes()[0]
    assert WorkflowState.from_parts(current).take_changes() == ({}, set())


def test_parts_saved_before_versions_were_written_are_version_1() -> None:
    stored = _version_1_parts()
    del stored["meta"]["version"]
    written, _ = WorkflowState.from_parts(stored).take_changes()
    assert written["meta"]["version"] == 2 and written["seq/0"]["chain"] == 0


def test_parts_of_a_newer_version_are_refused() -> None:
    stored = _version_1_parts()
    stored["meta"]["version"] = 3
    with pytest.raises(StateVersionError, match="version 3; this Packhorse reads versions up to 2"):
        WorkflowState.from_parts(stored)


def _without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}
