"""Acceptance: an instance running StackStorm's own ``examples`` pack with its rules fired,
cloned, verifies with no unexpected difference (and the pack's tests pass in the clone).

StackStorm's sources are not part of this repository: the test reads them from
``$PACKHORSE_ST2_SOURCE`` (default ``/work/st2src``) and is skipped when they are absent.
The clone builds the pack's virtualenvs, so it needs the package index too.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import build_runtime
from packhorse.model.events import trigger_ref
from packhorse.settings import load_settings
from packhorse.storage.events import EnforcementFilter
from tests.conftest import CliResult

ST2_EXAMPLES = Path(os.environ.get("PACKHORSE_ST2_SOURCE", "/work/st2src")) / "contrib/examples"


def fire_rules(home: Path) -> set[str]:
    """Trigger instances for the pack's rules, processed by the rules engine: the webhook
    rule (matching and not), the action-trigger rule (matching and not) and the notify rule
    (whose slack action is missing: a failed enforcement). Returns the rules enforced."""
    runtime = build_runtime(load_settings(home), slots=1)
    events = runtime.events
    hook = trigger_ref("core.st2.webhook", {"url": "sample"})
    for name in ("st2", "someone else"):
        events.emit(hook, {"headers": {}, "body": {"name": name}}, source="webhook")
    for status in ("error", "succeeded"):
        events.emit(
            "core.st2.generic.actiontrigger",
            {
                "execution_id": "6b0b2b5f2aebd14cb65f2b00",
                "status": status,
                "start_timestamp": "2026-11-28T10:00:00.000000Z",
                "action_name": "local",
                "action_ref": "core.local",
                "runner_ref": "local-shell-cmd",
                "parameters": {"cmd": "false"},
                "result": {},
            },
            source="test",
        )
    events.emit(
        "core.st2.generic.notifytrigger",
        {"channel": "slack", "message": "done", "route": "slack"},
        source="test",
        validate=False,
    )
    assert runtime.rules.process_pending() == 5
    return {e.rule for e in events.store.enforcements(EnforcementFilter(limit=100))}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_clone_of_an_instance_running_the_st2_examples_pack_verifies_clean(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    if not (ST2_EXAMPLES / "pack.yaml").is_file():
        pytest.skip(f"StackStorm's examples pack is not at {ST2_EXAMPLES} (PACKHORSE_ST2_SOURCE)")
    old, new = tmp_path / "old", tmp_path / "new"
    init_instance(old)
    shutil.rmtree(old / "packs" / "examples")  # our bundled examples pack, in this instance only
    shutil.copytree(ST2_EXAMPLES, old / "packs" / "examples")
    assert bootstrap.register_instance_packs(load_settings(old), refs=["examples"]).ok
    assert fire_rules(old) == {
        "examples.sample_rule_with_webhook",
        "examples.sample_rule_with_actiontrigger",
        "examples.notify_slack",
    }
    cloned = cli("clone", "--from", old, "--to", new)
    assert cloned.code == 0, cloned.err

    done = cli("upgrade", "verify", "--baseline", old, "--candidate", new, "--json")
    assert done.code == 0, done.out + done.err
    report = json.loads(done.out)
    assert report["replayed"] == 5
    assert report["matches"] == {"baseline": 3, "candidate": 3}
    assert report["differences"] == []
    assert {t["pack"]: t["status"] for t in report["pack_tests"]} == {
        "core": "no tests",
        "examples": "passed",
    }
