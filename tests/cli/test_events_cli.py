"""``packhorse rule test|explain|enable|disable``, ``trigger-instance`` and
``rule-enforcement`` through the entry point."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.engine.runtime import build_runtime
from packhorse.settings import load_settings
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
SIGNALS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "signals"


@pytest.fixture
def home(instance_home: Path) -> Path:
    shutil.copytree(SIGNALS, instance_home / "packs" / "signals")
    assert bootstrap.register_instance_packs(load_settings(instance_home), refs=["signals"]).ok
    return instance_home


def write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_rule_test_says_why_and_renders_parameters(home: Path, tmp_path: Path, cli: Cli) -> None:
    critical = write(tmp_path / "c.json", {"service": "api", "severity": "Critical"})
    matched = cli("--home", home, "rule", "test", "signals.page_critical", "--payload", critical)
    assert matched.code == 0, matched.err
    assert "matches" in matched.out and "core.echo" in matched.out

    key = cli("--home", home, "key", "set", "oncall", "bob")
    assert key.code == 0, key.err
    shown = cli(
        "--home", home, "rule", "test", "signals.page_critical", "--payload", critical, "--json"
    )
    assert json.loads(shown.out)["parameters"] == {"message": "PAGE api bob"}

    # st2-rule-tester's trigger instance file: {trigger, payload}
    low = write(tmp_path / "l.json", {"trigger": "signals.alert", "payload": {"severity": "low"}})
    missed = cli(
        "--home", home, "rule", "test", "signals.page_critical", "--payload", low, "--json"
    )
    assert missed.code == 1
    outcome = json.loads(missed.out)
    assert outcome["matched"] is False
    assert "trigger.severity" in outcome["reason"] and "low" in outcome["reason"]

    from_file = cli(
        "--home",
        home,
        "rule",
        "test",
        SIGNALS / "rules" / "page_critical.yaml",
        "--payload",
        critical,
    )
    assert from_file.code == 0, from_file.err


def test_instances_enforcements_explain_and_re_emit(home: Path, cli: Cli) -> None:
    runtime = build_runtime(load_settings(home), slots=1)
    instance = runtime.events.emit(
        "signals.alert", {"service": "web", "severity": "critical"}, source="test"
    )
    runtime.rules.process_pending()

    listed = json.loads(cli("--home", home, "trigger-instance", "list", "--json").out)
    assert [i["id"] for i in listed] == [instance.id]
    assert listed[0]["status"] == "processed" and listed[0]["trigger"] == "signals.alert"
    got = json.loads(cli("--home", home, "trigger-instance", "get", instance.id, "--json").out)
    assert got["payload"] == {"service": "web", "severity": "critical"}

    explained = json.loads(cli("--home", home, "rule", "explain", instance.id, "--json").out)
    by_rule = {row["rule"]: row for row in explained["rules"]}
    assert by_rule["signals.page_critical"]["matches"] is True
    assert by_rule["signals.page_critical"]["execution_id"]
    assert "backstop" in by_rule["signals.everything_else"]["reason"]
    assert "disabled" in by_rule["signals.quiet"]["reason"]
    text = cli("--home", home, "rule", "explain", instance.id).out
    assert "MATCH    signals.page_critical: execution" in text

    enforced = json.loads(cli("--home", home, "rule-enforcement", "list", "--json").out)
    assert [(e["rule"]["ref"], e["status"]) for e in enforced] == [
        ("signals.page_critical", "succeeded")
    ]

    again = cli("--home", home, "trigger-instance", "re-emit", instance.id, "--json")
    assert again.code == 0, again.err
    copy = json.loads(again.out)
    assert copy["id"] != instance.id and copy["status"] == "pending"
    assert copy["source"] == f"re-emit:{instance.id}"
    missing = cli("--home", home, "trigger-instance", "get", "nope")
    assert missing.code != 0 and "not found" in missing.err


def test_rule_enable_and_disable(home: Path, cli: Cli) -> None:
    enabled = cli("--home", home, "rule", "enable", "signals.quiet")
    assert enabled.code == 0, enabled.err
    shown = json.loads(cli("--home", home, "rule", "show", "signals.quiet", "--json").out)
    assert shown["enabled"] is True
    assert cli("--home", home, "rule", "disable", "signals.quiet").code == 0
    shown = json.loads(cli("--home", home, "rule", "show", "signals.quiet", "--json").out)
    assert shown["enabled"] is False
    assert cli("--home", home, "rule", "enable", "signals.nope").code != 0
