"""``packhorse upgrade verify``: a baseline with recorded trigger instances (dispatched by the
real rules engine) and a candidate instance, compared through the real CLI entry point."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import build_runtime
from packhorse.model.content import Kind
from packhorse.model.datastore import Scope
from packhorse.settings import Settings, load_settings
from packhorse.storage.events import EnforcementFilter, InstanceFilter, SqlEventStore
from packhorse.storage.executions import ExecutionFilter, SqlExecutionStore
from tests.api.credentials import headers_for, token_for
from tests.api.serving import free_port, serving
from tests.conftest import CliResult

TOKEN = "tok-0123456789-do-not-leak"
"""The clear value of the secret key the rules read: never in any output."""

PACK_YAML = """---
ref: shop
name: shop
description: Orders in, notifications out.
version: 1.0.0
author: Tester
email: tester@example.org
"""

TRIGGER = """---
name: order
pack: shop
description: An order was placed.
payload_schema:
  type: object
  properties:
    id: {type: string}
    amount: {type: integer}
"""

ACTION = """---
name: notify
pack: shop
description: Tell someone.
runner_type: noop
enabled: true
parameters:
  message:
    type: string
    required: true
  token:
    type: string
    secret: true
  channel:
    type: string
    default: orders
"""

BIG_ORDER = """---
name: big_order
pack: shop
description: Orders over 100.
enabled: true
trigger:
  type: shop.order
criteria:
  trigger.amount:
    type: greaterthan
    pattern: 100
action:
  ref: shop.notify
  parameters:
    message: "big order {{ trigger.id }} of {{ trigger.amount }} in {{ st2kv.system.region }}"
    token: "{{ st2kv.system.api_token | decrypt_kv }}"
"""

EVERY_ORDER = """---
name: every_order
pack: shop
description: Every order.
enabled: true
trigger:
  type: shop.order
action:
  ref: shop.notify
  parameters:
    message: "order {{ trigger.id }}"
"""


def write_pack(folder: Path) -> Path:
    for name, text in {
        "pack.yaml": PACK_YAML,
        "triggers/order.yaml": TRIGGER,
        "actions/notify.yaml": ACTION,
        "rules/big_order.yaml": BIG_ORDER,
        "rules/every_order.yaml": EVERY_ORDER,
    }.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def install(settings: Settings, pack: Path, *, token: str = TOKEN) -> None:
    shutil.copytree(pack, settings.packs_dir / "shop", dirs_exist_ok=True)
    outcome = bootstrap.register_instance_packs(settings, refs=["shop"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    datastore = bootstrap.datastore_service(settings)
    datastore.set_value("region", "eu-west-1", scope=Scope.SYSTEM)
    datastore.set_value("api_token", token, scope=Scope.SYSTEM, secret=True)


def record_orders(settings: Settings) -> list[str]:
    """Orders emitted and processed by the real rules engine (enforcements written)."""
    runtime = build_runtime(settings, slots=1)
    ids = [
        runtime.events.emit("shop.order", {"id": f"o{n}", "amount": amount}, source="test").id
        for n, amount in enumerate([50, 150, 500])
    ]
    assert runtime.rules.process_pending() == 3
    enforced = runtime.events.store.enforcements(EnforcementFilter(limit=100))
    assert len(enforced) == 5  # every_order thrice, big_order twice
    return ids


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return write_pack(tmp_path / "src" / "shop")


@pytest.fixture
def baseline(instance_home: Path, pack: Path) -> Settings:
    settings = load_settings(instance_home)
    install(settings, pack)
    record_orders(settings)
    return settings


@pytest.fixture
def candidate(tmp_path: Path, pack: Path) -> Settings:
    init_instance(tmp_path / "candidate")
    settings = load_settings(tmp_path / "candidate")
    install(settings, pack)
    return settings


def verify(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings, *extra: str
) -> CliResult:
    return cli(
        "upgrade",
        "verify",
        "--baseline",
        baseline.home,
        "--candidate",
        candidate.home,
        "--skip-tests",
        *extra,
    )


def change_rule(settings: Settings, name: str, old: str, new: str) -> None:
    path = settings.packs_dir / "shop" / "rules" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    assert bootstrap.register_instance_packs(settings, refs=["shop"]).ok


def test_an_identical_candidate_shows_no_difference(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    done = verify(cli, baseline, candidate)
    assert done.code == 0, done.out + done.err
    assert "3 trigger instances replayed, 5 rule matches in the baseline, 5 in the candidate" in (
        done.out
    )
    assert "0 differences (0 unexpected, 0 baseline drift)" in done.out
    assert "pack tests skipped: --skip-tests" in done.out
    assert TOKEN not in done.out + done.err


def test_a_rule_whose_criteria_changed_is_named_with_the_field(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    change_rule(candidate, "big_order", "pattern: 100", "pattern: 200")
    done = verify(cli, baseline, candidate)
    assert done.code == 1, done.out + done.err
    lines = [line for line in done.out.splitlines() if "shop.big_order" in line]
    assert len(lines) == 1  # the order of 150; the one of 500 still matches
    assert "matched only in baseline" in lines[0] and "criteria" in lines[0]
    assert "1 difference (1 unexpected, 0 baseline drift)" in done.out


def test_a_changed_parameter_template_is_named_with_its_path(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    change_rule(candidate, "every_order", 'message: "order {{', 'message: "Order {{')
    done = verify(cli, baseline, candidate, "--json")
    assert done.code == 1, done.err
    report = json.loads(done.out)
    assert {(d["rule"], d["kind"], d["field"]) for d in report["differences"]} == {
        ("shop.every_order", "parameter", "parameters.message")
    }
    assert sorted(d["candidate"] for d in report["differences"]) == [
        "Order o0",
        "Order o1",
        "Order o2",
    ]
    assert report["unexpected"] == 3 and report["ok"] is False

    table = verify(cli, baseline, candidate)
    assert table.code == 1
    header = table.out.splitlines()[0].split()
    assert header[:2] == ["TRIGGER", "INSTANCE"] and "FIELD" in header
    assert "parameters.message" in table.out and "parameter differs" in table.out


def test_the_json_report_has_stable_keys(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    change_rule(candidate, "big_order", "pattern: 100", "pattern: 200")
    done = verify(cli, baseline, candidate, "--json")
    report = json.loads(done.out)
    assert set(report) == {
        "baseline",
        "candidate",
        "replayed",
        "matches",
        "differences",
        "unexpected",
        "baseline_drift",
        "pack_tests",
        "pack_tests_skipped",
        "ok",
    }
    assert report["replayed"] == 3
    assert report["matches"] == {"baseline": 5, "candidate": 4}
    (difference,) = report["differences"]
    assert difference == {
        "trigger_instance": difference["trigger_instance"],
        "rule": "shop.big_order",
        "kind": "only-baseline",
        "field": "criteria",
        "baseline": "matched",
        "candidate": "not matched",
        "expected": False,
        "unexpected": True,
        "timestamp_only": False,
    }


def test_a_differing_secret_is_detected_and_shown_masked(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    other = "tok-9876543210-other-secret"
    bootstrap.datastore_service(candidate).set_value(
        "api_token", other, scope=Scope.SYSTEM, secret=True
    )
    done = verify(cli, baseline, candidate, "--json")
    assert done.code == 1
    assert TOKEN not in done.out and other not in done.out
    report = json.loads(done.out)
    differences = report["differences"]
    assert {(d["rule"], d["field"]) for d in differences} == {
        ("shop.big_order", "parameters.token")
    }
    for difference in differences:
        assert difference["baseline"].startswith("********#")
        assert difference["candidate"].startswith("********#")
        assert difference["baseline"] != difference["candidate"]


def test_a_secret_read_into_a_plain_parameter_is_masked_too(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    """``message`` is not secret by schema; it holds a decrypted secret, so it is masked."""
    for settings in (baseline, candidate):
        change_rule(
            settings,
            "every_order",
            'message: "order {{ trigger.id }}"',
            'message: "order {{ trigger.id }} {{ st2kv.system.api_token | decrypt_kv }}"',
        )
    bootstrap.datastore_service(candidate).set_value(
        "api_token", "tok-another-value-entirely", scope=Scope.SYSTEM, secret=True
    )
    done = verify(cli, baseline, candidate)
    assert done.code == 1
    assert TOKEN not in done.out and "tok-another-value-entirely" not in done.out
    assert "parameters.message" in done.out and "********#" in done.out


def test_a_rule_edited_in_the_baseline_since_is_baseline_drift(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    for settings in (baseline, candidate):
        change_rule(settings, "big_order", "pattern: 100", "pattern: 1000")
    done = verify(cli, baseline, candidate, "--json")
    assert done.code == 0, done.out
    report = json.loads(done.out)
    assert report["baseline_drift"] == 2 and report["unexpected"] == 0
    assert {
        (d["rule"], d["kind"], d["baseline"], d["candidate"]) for d in report["differences"]
    } == {("shop.big_order", "baseline-drift", "enforced", "not matched")}


def test_expected_differences_do_not_fail(
    tmp_path: Path, cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    change_rule(candidate, "every_order", 'message: "order {{', 'message: "Order {{')
    expect = tmp_path / "expect.yaml"
    expect.write_text("- rule: shop.every_order\n  field: parameters.message\n")
    done = verify(cli, baseline, candidate, "--expect", expect)
    assert done.code == 0, done.out
    assert "parameter differs (expected)" in done.out
    assert "3 differences (0 unexpected, 0 baseline drift)" in done.out


def test_limit_and_since_choose_the_newest_instances(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    change_rule(candidate, "big_order", "pattern: 100", "pattern: 200")
    newest = json.loads(verify(cli, baseline, candidate, "--json", "--limit", "1").out)
    assert newest["replayed"] == 1 and newest["unexpected"] == 0  # the order of 500
    recent = json.loads(verify(cli, baseline, candidate, "--json", "--since", "1h").out)
    assert recent["replayed"] == 3
    bad = verify(cli, baseline, candidate, "--since", "soon")
    assert bad.code == 2 and "not a duration" in bad.err


def test_a_folder_that_is_no_instance_is_a_usage_error(
    tmp_path: Path, cli: Callable[..., CliResult], baseline: Settings
) -> None:
    done = cli(
        "upgrade", "verify", "--baseline", baseline.home, "--candidate", tmp_path / "nowhere"
    )
    assert done.code == 2
    assert "--candidate" in done.err


@pytest.mark.slow
def test_a_remote_candidate_gives_the_same_report_as_the_local_one(
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliResult],
    baseline: Settings,
    candidate: Settings,
) -> None:
    """The candidate served by ``packhorse up``'s app on loopback, read over HTTP."""
    change_rule(candidate, "big_order", "pattern: 100", "pattern: 200")
    bootstrap.datastore_service(candidate).set_value(
        "api_token", "tok-remote-other-secret", scope=Scope.SYSTEM, secret=True
    )
    local = json.loads(verify(cli, baseline, candidate, "--json").out)
    monkeypatch.setenv("PACKHORSE_TOKEN", token_for(candidate))
    with serving(bootstrap.create_app(candidate, workers=1)) as url:
        done = cli("upgrade", "verify", "--baseline", baseline.home, "--candidate", url, "--json")
        viewer = httpx.post(
            f"{url}/api/v1/packhorse/shadow",
            json={"key": "00" * 16, "trigger_instances": []},
            headers=headers_for(candidate, "viewer", "viewer"),
        )
        bad = httpx.post(
            f"{url}/api/v1/packhorse/shadow",
            json={"key": "short", "trigger_instances": []},
            headers=headers_for(candidate),
        )
    assert done.code == 1, done.err
    remote = json.loads(done.out)
    assert remote["candidate"] == url
    assert "remote" in remote["pack_tests_skipped"]

    def comparable(report: dict[str, Any]) -> list[tuple[str, str, str, str, bool]]:
        # Fingerprints use a fresh key per run: compare whether values differ, not the digests.
        return sorted(
            (d["trigger_instance"], d["rule"], d["kind"], d["field"], d["unexpected"])
            for d in report["differences"]
        )

    assert comparable(remote) == comparable(local)
    assert {d["field"] for d in remote["differences"]} == {"criteria", "parameters.token"}
    assert "tok-remote-other-secret" not in done.out and TOKEN not in done.out
    assert viewer.status_code == 403
    assert bad.status_code == 400 and "hexadecimal" in bad.text


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_failing_pack_test_in_the_candidate_fails_verify(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    """Pack tests run in their test venvs (pytest and mock come from the package index)."""
    tests = candidate.packs_dir / "shop" / "tests"
    tests.mkdir()
    (tests / "test_shop.py").write_text("def test_totals():\n    assert 1 + 1 == 3\n")
    done = cli(
        "upgrade", "verify", "--baseline", baseline.home, "--candidate", candidate.home, "--json"
    )
    assert done.code == 1, done.out + done.err
    report = json.loads(done.out)
    statuses = {t["pack"]: t["status"] for t in report["pack_tests"]}
    assert statuses["shop"] == "failed" and statuses["core"] == "no tests"
    assert statuses["examples"] == "passed"  # the bundled examples pack's tests
    assert report["differences"] == [
        {
            "trigger_instance": "",
            "rule": "shop",
            "kind": "pack-tests",
            "field": "tests",
            "baseline": None,
            "candidate": "failed",
            "expected": False,
            "unexpected": True,
            "timestamp_only": False,
        }
    ]
    table = cli("upgrade", "verify", "--baseline", baseline.home, "--candidate", candidate.home)
    assert "pack shop: tests failed" in table.out
    assert "pack tests: 1 passed, 1 failed, 1 without tests" in table.out


def counts(settings: Settings) -> tuple[int, int, int]:
    """Trigger instances, enforcements and executions an instance holds."""
    engine = bootstrap.database_engine(settings)
    store, executions = SqlEventStore(engine), SqlExecutionStore(engine)
    return (
        store.count(InstanceFilter()),
        store.count_enforcements(EnforcementFilter()),
        executions.count(ExecutionFilter()),
    )


def test_verify_writes_nothing_and_a_disabled_action_is_a_request_error(
    cli: Callable[..., CliResult], baseline: Settings, candidate: Settings
) -> None:
    assert bootstrap.content_registry(candidate).set_enabled(Kind.ACTION, "shop.notify", False)
    before = counts(baseline), counts(candidate)
    assert before == ((3, 5, 5), (0, 0, 0))
    done = verify(cli, baseline, candidate, "--json")
    assert (counts(baseline), counts(candidate)) == before
    assert done.code == 1
    report = json.loads(done.out)
    assert len(report["differences"]) == 5
    for difference in report["differences"]:
        assert (difference["kind"], difference["field"]) == ("error", "error")
        assert (difference["baseline"], difference["candidate"]) == (None, "action is disabled")


@pytest.mark.slow
def test_a_remote_baseline_is_read_and_replayed_over_its_api(
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliResult],
    baseline: Settings,
    candidate: Settings,
) -> None:
    """Its trigger instances and enforcements come from the API, its outcomes from the shadow
    route: drift and differences as with the folder."""
    change_rule(baseline, "big_order", "pattern: 100", "pattern: 1000")  # drift
    change_rule(candidate, "every_order", 'message: "order {{', 'message: "Order {{')
    local = json.loads(verify(cli, baseline, candidate, "--json").out)
    monkeypatch.setenv("PACKHORSE_TOKEN", token_for(baseline))
    with serving(bootstrap.create_app(baseline, workers=1)) as url:
        done = cli("upgrade", "verify", "--baseline", url, "--candidate", candidate.home, "--json")
    assert done.code == 1, done.err
    remote = json.loads(done.out)
    assert remote["baseline"] == url and remote["replayed"] == 3
    assert remote["baseline_drift"] == 2 and remote["unexpected"] == 5  # 3 + big_order twice

    def comparable(report: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted(
            tuple(d[k] for k in ("trigger_instance", "rule", "kind", "field", "candidate"))
            for d in report["differences"]
        )

    assert comparable(remote) == comparable(local)


def test_an_instance_that_does_not_answer_exits_2(
    monkeypatch: pytest.MonkeyPatch, cli: Callable[..., CliResult], baseline: Settings
) -> None:
    monkeypatch.setenv("PACKHORSE_API_KEY", "some-key")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = cli("upgrade", "verify", "--baseline", baseline.home, "--candidate", url, "--json")
    assert done.code == 2, done.out + done.err
    assert "127.0.0.1" in done.err and done.out == ""
