"""A workflow state saved in version 1 goes through the workflow store on SQLite and
PostgreSQL: read back as stored, upgraded as it loads, written back whole in version 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from packhorse.storage.workflows import Commit, SqlWorkflowStore
from packhorse.workflow.state import WorkflowState

FIXTURE = Path(__file__).parents[1] / "fixtures" / "workflow_state" / "asking-paused-v1.json"
NOW = "2026-01-01T00:00:00.000000Z"


def test_version_1_parts_are_written_back_in_version_2(engine: sa.Engine) -> None:
    old: dict[str, Any] = json.loads(FIXTURE.read_text().replace("{workflow_id}", "wf"))
    store = SqlWorkflowStore(engine)
    store.commit(Commit("wf", 0, upserts=old, kind="orquesta", definition="tasks: {}"), now=NOW)
    stored = store.load("wf")
    assert stored is not None and stored.parts == old

    state = WorkflowState.from_parts(stored.parts)
    upserts, deletes = state.take_changes()
    store.commit(Commit("wf", stored.version, upserts=upserts, deletes=deletes), now=NOW)

    saved = store.load("wf")
    assert saved is not None and saved.version == stored.version + 1
    assert saved.parts["meta"]["version"] == 2
    assert saved.parts["seq/0"]["chain"] == 0 and "ctx" not in saved.parts["seq/0"]
    assert set(saved.parts) == set(old)
    assert WorkflowState.from_parts(saved.parts) == state
    assert WorkflowState.from_parts(saved.parts).take_changes() == ({}, set())
