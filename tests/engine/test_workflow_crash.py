"""SIGKILL the engine with workflows in flight, restart it: every workflow carries on from its
stored state and ends succeeded, no task is lost, and no task runs twice unless its execution
was abandoned by the kill and the task's own retry ran it again."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from tests.engine.test_crash import gone, pids_of, start_engine, wait_until

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import build_runtime

pytestmark = pytest.mark.slow

FLOWS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "flows"
WORKFLOWS = 8
TASKS = 6


def rows(home: Path) -> list[tuple[str, str, str | None, str]]:
    with sqlite3.connect(home / "state.db") as connection:
        return connection.execute(
            "SELECT id, status, parent_id, context FROM executions"
        ).fetchall()


def test_sigkill_mid_workflow_then_restart(tmp_path: Path) -> None:
    from tests.test_up import free_port

    home = tmp_path / "home"
    settings = init_instance(home).settings
    shutil.copytree(FLOWS, home / "packs" / "flows")
    outcome = bootstrap.register_instance_packs(settings, refs=["flows"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    runtime = build_runtime(settings)
    ids = [
        runtime.executions.request(
            "flows.ledger_flow", {"file": str(ledger), "seconds": 0.3}, user="test"
        ).id
        for _ in range(WORKFLOWS)
    ]

    engine = start_engine(home, free_port())
    # Kill once the workflows are well under way: some tasks done, some running.
    wait_until(lambda: len(ledger.read_text().split()) >= WORKFLOWS * 2, 60, "tasks to run")
    engine.send_signal(signal.SIGKILL)
    engine.wait(timeout=10)
    done_at_kill = len(ledger.read_text().split())
    assert done_at_kill < WORKFLOWS * TASKS

    engine = start_engine(home, free_port())
    try:
        wait_until(
            lambda: all(
                status in {"succeeded", "failed", "canceled"}
                for execution_id, status, _, _ in rows(home)
                if execution_id in ids
            ),
            120,
            "every workflow to end",
        )
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)

    final = rows(home)
    workflows = {
        execution_id: status for execution_id, status, _, _ in final if execution_id in ids
    }
    assert workflows == dict.fromkeys(ids, "succeeded")
    children = [
        (parent, json.loads(context)["workflow_key"]["task_id"], status)
        for _, status, parent, context in final
        if parent in workflows
    ]
    appended = Counter(ledger.read_text().split())
    for workflow_id in ids:
        for index in range(1, TASKS + 1):
            task = f"t{index}"
            runs = [status for parent, t, status in children if parent == workflow_id and t == task]
            # Exactly one run of each task succeeded; any other was abandoned by the kill.
            assert sorted(runs) == ["abandoned"] * (len(runs) - 1) + ["succeeded"], runs
            # The succeeded run appended; an abandoned one may have (killed mid-command):
            # never more appends than runs, so nothing ran twice unasked.
            assert 1 <= appended[f"{workflow_id}:{task}"] <= len(runs)
    assert all(gone(pid) for pid in pids_of(home))
