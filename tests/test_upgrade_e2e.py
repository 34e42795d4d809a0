"""The whole upgrade as one command under load: ``packhorse upgrade run PLAN.yaml`` moves a
running instance (webhooks through the front without a pause) to a new one it creates, fills,
checks, verifies, starts and cuts over to, then archives the old one; ``packhorse rollback``
moves the site back. Every webhook answered runs exactly once across the two instances."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.model.execution import Status
from packhorse.model.intake import is_handed_over
from packhorse.settings import Settings, load_settings
from packhorse.storage.executions import ExecutionFilter, SqlExecutionStore
from tests.front.upstream import packhorse, running_front
from tests.test_cutover_e2e import Load, _instance, _waiting, up
from tests.test_up import free_port

pytestmark = pytest.mark.slow


def executions_by_webhook(*instances: Settings) -> dict[str, set[str]]:
    """Webhook id -> the ids of the relay.take executions that ran (or will run) for it on
    any of the instances. A bundle carries the old instance's finished executions to the new
    one under the same ids: those count once."""
    found: dict[str, set[str]] = defaultdict(set)
    for settings in instances:
        store = SqlExecutionStore(bootstrap.database_engine(settings))
        for e in store.find(ExecutionFilter(action_ref="relay.take", limit=1_000_000)):
            if e.status is Status.CANCELED and is_handed_over(e.result):
                continue
            found[str(e.context["trigger_instance"]["payload"]["body"]["id"])].add(e.id)
    return found


def unfinished(*instances: Settings) -> int:
    count = 0
    for settings in instances:
        store = SqlExecutionStore(bootstrap.database_engine(settings))
        for e in store.find(ExecutionFilter(action_ref="relay.take", limit=1_000_000)):
            if not e.completed:
                count += 1
    return count


@pytest.mark.timeout(420)
def test_upgrade_run_under_load_then_rollback_runs_every_webhook_exactly_once(
    instance_home: Path, tmp_path: Path
) -> None:
    old = _instance(instance_home, auth=True)
    made = packhorse("--home", str(old.home), "apikey", "create", "--json")
    key = json.loads(made.stdout)["key"]
    state = tmp_path / "front.json"
    (tmp_path / "pass.txt").write_text("a long enough passphrase for the test\n")
    new_listen = f"127.0.0.1:{free_port()}"
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"from: {old.home}\n"
        "to: new\n"
        f"listen: {new_listen}\n"
        "bundle: site.tgz\n"
        "passphrase_file: pass.txt\n"
        "fix: true\n"
        "verify: {pack_tests: false}\n"
        "cutover:\n"
        "  front_state: front.json\n"
        "  start: true\n"
        "  health_gate: core.noop\n"
        "  drain_timeout: 30\n"
        "archive: {output: old.phar}\n"
    )
    started_pid = None
    try:
        with up(old) as old_url, running_front(state) as front:
            packhorse("front", "flip", "--state", str(state), "--to", old_url)
            with Load(front, headers={"St2-Api-Key": key}) as load:
                load.sent_for(1.0)
                done = subprocess.run(
                    [sys.executable, "-m", "packhorse", "upgrade", "run", str(plan), "--json"],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                assert done.returncode == 0, done.stderr + done.stdout
                report = json.loads(done.stdout)
                steps = {s["step"]: s for s in report["steps"]}
                started_pid = steps["cutover"]["outputs"].get("started_pid")
                load.sent_for(1.5)
                rolled = packhorse("rollback", "--front-state", str(state), "--json")
                load.sent_for(1.0)
            new = load_settings(tmp_path / "new")
            deadline = time.monotonic() + 90
            while _waiting(old) or _waiting(new) or unfinished(old, new):
                assert time.monotonic() < deadline, (_waiting(old), _waiting(new))
                packhorse("rollback", "--front-state", str(state), "--handover-only")
                time.sleep(0.5)
            runs = executions_by_webhook(old, new)
    finally:
        if started_pid is not None:
            os.kill(started_pid, signal.SIGTERM)

    assert [(s["step"], s["status"]) for s in report["steps"]] == [
        ("export", "ran"), ("init", "ran"), ("import", "ran"), ("check", "ran"),
        ("verify", "ran"), ("cutover", "ran"), ("archive", "ran"),
    ]  # fmt: skip
    cutover = steps["cutover"]["outputs"]
    rollback = json.loads(rolled.stdout)
    print(
        f"\nupgrade run {report['seconds']:.1f} s; cutover drain to flip "
        f"{cutover['drain_to_flip_seconds']:.3f} s, handed over {cutover['handed_over']}; "
        f"rollback flip {rollback['flip_ms']} ms; {len(load.answered)} webhooks"
    )
    assert "(0 unexpected" in steps["verify"]["outputs"]["summary"]
    assert load.failed == []
    assert cutover["ok"] and rollback["ok"]
    assert [step["step"] for step in cutover["steps"]] == [
        "check",
        "drain",
        "open",
        "gate",
        "finish",
        "flip",
        "handover",
        "verify",
    ]  # fmt: skip; the new instance waited in standby until its cutover
    assert cutover["drain_to_flip_seconds"] < 5
    assert rollback["flip_ms"] < 100
    lost = set(load.answered) - runs.keys()
    doubled = {id_: ids for id_, ids in runs.items() if len(ids) > 1}
    assert not lost, f"{len(lost)} webhooks without an execution"
    assert not doubled, f"webhooks run more than once: {doubled}"
    assert runs.keys() == set(load.answered)
    assert (tmp_path / "old.phar").is_file()
    assert any("packhorse rollback --front-state" in line for line in report["rollback"])
