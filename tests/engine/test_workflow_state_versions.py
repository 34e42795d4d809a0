"""A workflow paused by an older Packhorse resumes under this one: its saved state (version 1,
as the code before version 2 wrote it) is upgraded as it loads and written back in version 2.
One saved by a newer Packhorse is refused and left as it is."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from tests.engine.workflow_helpers import drive, ended, flows_runtime, status_is

from packhorse.engine.clock import iso, utc_now
from packhorse.engine.runtime import Runtime, build_runtime
from packhorse.errors import StateVersionError
from packhorse.model.execution import Status
from packhorse.settings import load_settings
from packhorse.storage.workflows import Commit
from packhorse.workflow.state import WorkflowState

FIXTURE = Path(__file__).parents[1] / "fixtures" / "workflow_state" / "asking-paused-v1.json"


def _paused_at_inquiry(home: Path) -> str:
    """``flows.asking`` run until it waits for its inquiry; the runtime is then closed."""
    runtime = flows_runtime(home)
    workflow = runtime.executions.request("flows.asking", {"item": "crate"}, user="admin")
    asyncio.run(drive(runtime, status_is(runtime, workflow.id, Status.PAUSED)))
    asyncio.run(runtime.aclose())
    return workflow.id


def _restarted(home: Path) -> Runtime:
    """A new process's runtime over the same instance: no workflow session cached."""
    return build_runtime(load_settings(home), slots=4)


def _replace_parts(runtime: Runtime, workflow_id: str, parts: dict[str, Any]) -> None:
    store = runtime.workflows.store
    stored = store.load(workflow_id)
    assert stored is not None
    store.commit(
        Commit(workflow_id, stored.version, upserts=parts, deletes=set(stored.parts) - set(parts)),
        now=iso(utc_now()),
    )


def _version_1_parts(workflow_id: str) -> dict[str, Any]:
    parts: dict[str, Any] = json.loads(FIXTURE.read_text().replace("{workflow_id}", workflow_id))
    return parts


def test_a_workflow_saved_in_version_1_resumes_and_is_saved_in_version_2(
    instance_home: Path,
) -> None:
    workflow_id = _paused_at_inquiry(instance_home)
    runtime = _restarted(instance_home)
    store = runtime.workflows.store
    written_by_this_code = store.load(workflow_id)
    assert written_by_this_code is not None
    old = _version_1_parts(workflow_id)
    # What the old code saved, upgraded, is exactly what this code saves for the same pause.
    assert WorkflowState.from_parts(old).take_changes()[0] == written_by_this_code.parts
    _replace_parts(runtime, workflow_id, old)
    assert store.load(workflow_id).parts["meta"]["version"] == 1  # type: ignore[union-attr]

    workflow = runtime.executions.get(workflow_id)
    assert [node["task_id"] for node in runtime.workflows.tree(workflow)] == ["ask"]
    [inquiry] = runtime.inquiries.list()
    runtime.inquiries.respond(inquiry.id, {"continue": True}, user="admin", role="operator")
    asyncio.run(drive(runtime, ended(runtime, workflow_id)))

    done = runtime.executions.get(workflow_id)
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result["output"] == {"said": "shipping crate approved=True"}
    saved = store.load(workflow_id)
    assert saved is not None
    assert saved.parts["meta"]["version"] == 2
    records = [value for key, value in saved.parts.items() if key.startswith("seq/")]
    assert {"ask", "ship"} <= {r["id"] for r in records}
    assert all("chain" in r and "ctx" not in r for r in records)


def test_a_workflow_saved_by_a_newer_version_is_refused_and_left_as_it_is(
    instance_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workflow_id = _paused_at_inquiry(instance_home)
    runtime = _restarted(instance_home)
    store = runtime.workflows.store
    newer = _version_1_parts(workflow_id)
    newer["meta"]["version"] = 3
    _replace_parts(runtime, workflow_id, newer)

    workflow = runtime.executions.get(workflow_id)
    with pytest.raises(StateVersionError) as refused:
        runtime.workflows.tree(workflow)
    message = refused.value.message
    assert workflow_id in message and "version 3" in message and "up to 2" in message
    assert refused.value.hint is not None and "roll back" in refused.value.hint

    [inquiry] = runtime.inquiries.list()
    runtime.inquiries.respond(inquiry.id, {"continue": True}, user="admin", role="operator")
    caplog.set_level(logging.ERROR, logger="packhorse.engine.workflows")
    waiting = store.inbox()
    assert waiting and {event.workflow_id for event in waiting} == {workflow_id}
    assert runtime.workflows.process() == len(waiting)
    assert runtime.workflows.process() == len(waiting)  # waiting for a Packhorse that reads it
    assert [r.getMessage() for r in caplog.records] == [f"{message}: {refused.value.hint}"]
    assert runtime.executions.get(workflow_id).status is Status.PAUSED
    assert store.load(workflow_id).parts == newer  # type: ignore[union-attr]
    assert store.inbox() == waiting


def _as_version_1(parts: dict[str, Any]) -> dict[str, Any]:
    """Current parts said as version 1 did (its one difference: ``ctx`` for ``chain``); the
    inverse of the 1 -> 2 transform, which the fixture test above checks against real
    version-1 parts."""
    old = {}
    for key, value in parts.items():
        if key.startswith(("seq/", "staged/")):
            value = {("ctx" if k == "chain" else k): v for k, v in value.items()}
        old[key] = value
    old["meta"] = {**parts["meta"], "version": 1}
    return old


def test_a_rerun_of_a_workflow_saved_in_version_1_starts_from_its_upgraded_state(
    instance_home: Path, tmp_path: Path
) -> None:
    runtime = flows_runtime(instance_home)
    marker = tmp_path / "marker"
    failed = runtime.executions.request("flows.flaky", {"marker": str(marker)}, user="admin")
    failed = asyncio.run(runtime.run_and_close(failed.id))
    assert failed.status is Status.FAILED
    store = runtime.workflows.store
    stored = store.load(failed.id)
    assert stored is not None and "chain" in stored.parts["seq/0"]
    _replace_parts(runtime, failed.id, _as_version_1(dict(stored.parts)))

    runtime = _restarted(instance_home)
    marker.touch()
    again = runtime.executions.re_run(failed.id, user="admin", overrides={}, tasks=["second"])
    done = asyncio.run(runtime.run_and_close(again.id))
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result["output"] == {"first_said": "word=none", "second_said": "second ran"}
    rerun = runtime.workflows.store.load(done.id)
    assert rerun is not None and rerun.parts["meta"]["version"] == 2
    records = [v for k, v in rerun.parts.items() if k.startswith(("seq/", "staged/"))]
    assert records and all("chain" in r and "ctx" not in r for r in records)
    assert runtime.workflows.store.load(failed.id).parts["meta"]["version"] == 1  # type: ignore[union-attr]
