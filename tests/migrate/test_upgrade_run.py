"""``packhorse upgrade run PLAN.yaml``: the whole upgrade, journaled, resumable after a kill
at any step."""

from __future__ import annotations

import json
import os
import platform
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.engine.clock import utc_now
from packhorse.settings import load_settings
from tests.conftest import CliResult
from tests.migrate.conftest import SECRETS, Populated

Run = Callable[..., CliResult]
PASSPHRASE = "a long upgrade passphrase"
STEPS = ["export", "init", "import", "check", "verify", "cutover", "archive"]


def write_plan(folder: Path, source: Path | str, **extra: str) -> Path:
    """A plan beside its passphrase file, upgrading ``source`` (a folder or a URL) into
    ``folder/new``."""
    (folder / "pass.txt").write_text(PASSPHRASE + "\n")
    lines = {
        "version": "1",
        "from": str(source),
        "to": "new",
        "bundle": "site.tgz",
        "passphrase_file": "pass.txt",
        "fix": "true",
        "verify": "{pack_tests: false}",
        "cutover": "{skip: true}",
        "archive": "{output: old.phar}",
        **extra,
    }
    plan = folder / "plan.yaml"
    plan.write_text("".join(f"{key}: {value}\n" for key, value in lines.items()))
    return plan


def events(folder: Path) -> list[dict[str, object]]:
    text = (folder / "plan.journal.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line]


def export_checksum(home: Path, output: Path) -> str:
    """The content checksum of a bundle of ``home`` under the plan's passphrase: equal for
    two instances that hold the same packs, configs, datastore, rules, users and events."""
    from packhorse.migrate.upgrade_services import InstanceServices

    services = InstanceServices(utc_now, secrets.token_bytes, platform.python_version())
    report = services.export(home, output, PASSPHRASE, lambda _line: None)
    return str(report.manifest.content_checksum)


@pytest.fixture
def source(cli: Run, populated: Populated) -> Path:
    home = populated.settings.home
    ran = cli("--home", home, "run", "core.local", "cmd=echo before the upgrade")
    assert ran.code == 0, ran.err
    return home


def test_a_full_run_moves_everything_and_says_how_to_roll_back(
    cli: Run, source: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, source)
    done = cli("upgrade", "run", plan, "--json")
    assert done.code == 0, done.err
    for clear in [PASSPHRASE, *SECRETS.values()]:
        assert clear not in done.out + done.err
    report = json.loads(done.out)
    assert report["ok"] and not report["resumed"]
    assert [(s["step"], s["status"]) for s in report["steps"]] == [
        ("export", "ran"), ("init", "ran"), ("import", "ran"), ("check", "ran"),
        ("verify", "ran"), ("cutover", "skipped"), ("archive", "ran"),
    ]  # fmt: skip
    outputs = {s["step"]: s["outputs"] for s in report["steps"]}
    assert all(s["seconds"] > 0 for s in report["steps"] if s["status"] == "ran")
    assert outputs["archive"]["archive"] == str(tmp_path / "old.phar")
    assert report["rollback"] == [
        f"packhorse restore {tmp_path / 'old.phar'} --to {source} --passphrase-file "
        f"{tmp_path / 'pass.txt'}   # when the old folder is gone"
    ]

    new = tmp_path / "new"
    assert load_settings(new).instance_id == outputs["init"]["instance_id"]
    # The new instance's web console shows this run on its upgrade page.
    assert load_settings(new).extra["web"] == {
        "upgrade_journal": str(tmp_path / "plan.journal.jsonl")
    }
    bootstrap._cached_registry.cache_clear()
    got = cli("--home", new, "key", "get", "db_password", "--decrypt", "--json")
    assert json.loads(got.out)["value"] == SECRETS["db_password"]
    executions = json.loads(cli("--home", new, "execution", "list", "--json").out)
    assert [e["status"] for e in executions] == ["succeeded"]
    assert export_checksum(new, tmp_path / "check.tgz") == outputs["export"]["content_checksum"]

    text = (tmp_path / "plan.journal.jsonl").read_text()
    assert not any(clear in text for clear in [PASSPHRASE, *SECRETS.values()])
    journal = events(tmp_path)
    assert [(e["event"], e.get("step")) for e in journal] == [
        ("run", None),
        ("started", "export"), ("done", "export"), ("started", "init"), ("done", "init"),
        ("started", "import"), ("done", "import"), ("started", "check"), ("done", "check"),
        ("started", "verify"), ("done", "verify"), ("skipped", "cutover"),
        ("started", "archive"),
        ("done", "archive"), ("finished", None),
    ]  # fmt: skip
    assert journal[2]["outputs"]["sha256"] == outputs["export"]["sha256"]

    database = (new / "state.db").read_bytes()
    again = cli("upgrade", "run", plan, "--json")
    assert again.code == 0, again.err
    second = json.loads(again.out)
    assert second["resumed"]
    assert {s["status"] for s in second["steps"]} == {"already done", "skipped"}
    assert (new / "state.db").read_bytes() == database

    restored = cli("restore", tmp_path / "old.phar", "--to", tmp_path / "back",
                   "--passphrase-file", tmp_path / "pass.txt")  # fmt: skip
    assert restored.code == 0, restored.err
    assert load_settings(tmp_path / "back").instance_id == load_settings(source).instance_id


def test_dry_run_writes_nothing(cli: Run, source: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, source)
    (tmp_path / "pass.txt").unlink()  # a dry run needs no passphrase
    before = sorted(tmp_path.rglob("*"))
    done = cli("upgrade", "run", plan, "--dry-run")
    assert done.code == 0, done.err
    assert "Nothing was written." in done.out
    assert f"bundle export {source} -> {tmp_path / 'site.tgz'}" in done.out
    assert f"packhorse init {tmp_path / 'new'}" in done.out
    assert sorted(tmp_path.rglob("*")) == before

    write_plan(tmp_path, source, cutover="{front_state: front.json, start: true}")
    before = sorted(tmp_path.rglob("*"))
    done = cli("upgrade", "run", plan, "--dry-run")
    assert done.code == 0, done.err
    assert (
        f"start the new instance if it is not up, then packhorse cutover --from {source} --to "
        f"{tmp_path / 'new'} --front-state {tmp_path / 'front.json'}: drain"
    ) in done.out
    assert sorted(tmp_path.rglob("*")) == before


def test_plan_errors_name_the_line_and_the_field(cli: Run, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\n"
        "from: http://old.example.org:9101\n"
        "to: http://old.example.org:9101\n"
        "passphrase: hunter2-hunter2\n"
        "fix: yes please\n"
        "verify:\n"
        "  skip: true\n"
        "  replay_dayz: 3\n"
        "archive: {}\n"
        "cutover: {start: true}\n"
    )
    done = cli("upgrade", "run", plan)
    assert done.code == 2
    lines = done.err.splitlines()
    expected = [
        f"{plan}:3:1: PH012: to: http://old.example.org:9101 is a URL; the new instance is"
        " made, checked and fixed here",
        f"{plan}:3:1: PH012: to must be another folder than from",
        f"{plan}:4:1: PH011: unknown field 'passphrase': never put the passphrase in the plan",
        f"{plan}:5:1: PH012: fix must be a bool, not str",
        f"{plan}:8:3: PH011: unknown field 'verify.replay_dayz'",
        f"{plan}:1:1: PH010: required field 'bundle' missing",
        f"{plan}:1:1: PH010: give exactly one of passphrase_file and passphrase_env",
        f"{plan}:9:1: PH012: from: http://old.example.org:9101 is a URL, and the archive is"
        " made of the old instance's folder: say archive: {skip: true}",
        f"{plan}:9:1: PH010: archive.output missing",
        f"{plan}:10:1: PH010: cutover needs front_state (the front's state file) or hook",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, done.err)
    shown = [line for line in lines if line.startswith(str(plan))]
    assert shown == sorted(shown, key=lambda line: int(line.split(":")[1]))
    assert "hunter2" not in done.out + done.err


def test_a_failed_verify_stops_the_run_and_a_rerun_goes_on_from_it(
    cli: Run, source: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, source, verify="{pack_tests: false, expect: accepted.yaml}")
    done = cli("upgrade", "run", plan)
    assert done.code == 1
    assert f"verify.expect {tmp_path / 'accepted.yaml'}" in done.out
    journal = events(tmp_path)
    assert journal[-1]["event"] == "failed" and journal[-1]["step"] == "verify"

    (tmp_path / "accepted.yaml").write_text("[]\n")
    resumed = cli("upgrade", "run", plan, "--resume", "--json")
    assert resumed.code == 0, resumed.err
    report = json.loads(resumed.out)
    statuses = {s["step"]: s["status"] for s in report["steps"]}
    assert statuses == {
        "export": "already done", "init": "already done", "import": "already done",
        "check": "already done", "verify": "ran", "cutover": "skipped", "archive": "ran",
    }  # fmt: skip
    verified = next(s for s in report["steps"] if s["step"] == "verify")["outputs"]
    # The source's rule demo_good.on_line was disabled after it fired: baseline drift, shown
    # and not counted against the new instance.
    assert verified["replayed"] == 2 and verified["differences"] == verified["drift"] == 2
    assert "(0 unexpected, 2 baseline drift)" in verified["summary"]


def upgrade(plan: Path, kill_at: str = "") -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PACKHORSE_UPGRADE_KILL_AT": kill_at}
    return subprocess.run(
        [sys.executable, "-m", "packhorse", "upgrade", "run", str(plan), "--json"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


KILLABLE = ["export", "init", "import", "check", "verify", "archive"]


def test_killed_at_every_step_the_run_resumes_and_does_each_step_once(
    source: Path, tmp_path: Path
) -> None:
    """SIGKILL right after each step's 'started' event and right before its 'done' event,
    in turn: each run resumes the last, and is killed one point further on."""
    plan = write_plan(tmp_path, source)
    points = [f"{step}:{moment}" for step in KILLABLE for moment in ("before", "after")]
    for point in points:
        killed = upgrade(plan, point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        if point == "init:before":
            (tmp_path / "new" / "keys").mkdir(parents=True)  # what a kill inside init leaves
    finished = upgrade(plan)
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert report["ok"] and report["resumed"]
    assert [(s["step"], s["status"]) for s in report["steps"]] == [
        ("export", "already done"), ("init", "already done"), ("import", "already done"),
        ("check", "already done"), ("verify", "already done"), ("cutover", "skipped"),
        ("archive", "ran"),
    ]  # fmt: skip

    journal = events(tmp_path)
    runs = [e for e in journal if e["event"] == "run"]
    assert [r["resumed"] for r in runs] == [False] + [True] * len(points)
    for step in KILLABLE:
        mine = [e["event"] for e in journal if e.get("step") == step]
        # killed before, killed after (so run again), then run to completion once
        assert mine.count("started") == 3 and mine.count("done") == 1, (step, mine)
        assert mine[mine.index("done") - 1] == "started", (step, mine)
    outputs = {e["step"]: e["outputs"] for e in journal if e["event"] == "done"}
    assert outputs["init"] == {"instance_id": outputs["init"]["instance_id"], "created": False}

    new = tmp_path / "new"
    assert load_settings(new).instance_id == outputs["init"]["instance_id"]
    assert export_checksum(new, tmp_path / "check.tgz") == outputs["export"]["content_checksum"]
    assert export_checksum(source, tmp_path / "old.tgz") == outputs["export"]["content_checksum"]
    bootstrap._cached_registry.cache_clear()
    packs = bootstrap.registry_reader(load_settings(new)).list_packs()
    assert sorted(p.ref for p in packs) == ["core", "demo_good", "examples"]
    datastore = bootstrap.datastore_service(load_settings(new))
    assert datastore.get_value("db_password", decrypt=True).value == SECRETS["db_password"]


def test_verify_step_fails_naming_the_rule_and_field_of_an_unexpected_difference(
    tmp_path: Path,
) -> None:
    from packhorse.migrate.upgrade_journal import JournalState
    from packhorse.migrate.upgrade_plan import load_plan
    from packhorse.migrate.upgrade_steps import StepContext, StepFailed, VerifyStep
    from packhorse.migrate.verify_diff import Difference, DifferenceKind, VerifyReport

    changed = Difference("ti-1", "shop.on_order", DifferenceKind.PARAMETER,
                         "parameters.message", "old", "new")  # fmt: skip
    drift = Difference("ti-2", "shop.other", DifferenceKind.BASELINE_DRIFT, "criteria", 1, 0)
    asked: list[tuple[Path, Path, dict[str, object]]] = []

    class Services:
        def verify(self, baseline: Path, candidate: Path, options: dict[str, object],
                   say: object) -> VerifyReport:  # fmt: skip
            asked.append((baseline, candidate, dict(options)))
            return VerifyReport("old", "new", 2, 1, 1, (changed, drift))

    (tmp_path / "old").mkdir()
    plan, problems = load_plan(write_plan(tmp_path, tmp_path / "old", verify="{limit: 5}"))
    assert plan is not None, problems
    context = StepContext(plan, JournalState(), "x" * 20, lambda _line: None, Services())  # type: ignore[arg-type]
    with pytest.raises(StepFailed) as failed:
        VerifyStep().run(context)
    assert "1 unexpected difference: shop.on_order parameters.message (parameter" in str(
        failed.value.message
    )
    assert "shop.other" not in failed.value.message  # drift does not fail the run
    assert asked == [(tmp_path / "old", tmp_path / "new", {"limit": 5})]


def test_a_cutover_step_killed_after_the_flip_only_hands_over_when_run_again(
    tmp_path: Path,
) -> None:
    """The record beside the front's state names this cutover and the front sends to the new
    instance: the step does not drain or flip again (the old instance is closed already), it
    hands over what reached the old one since. Any other record: a cutover is attempted (and
    here refused: neither instance serves)."""
    from packhorse.engine.instance import init_instance
    from packhorse.front.state import FrontState, save_state
    from packhorse.migrate.cutover_wiring import write_record
    from packhorse.migrate.upgrade_services import InstanceServices
    from packhorse.migrate.upgrade_steps import StepFailed

    old = init_instance(tmp_path / "old", listen="127.0.0.1:1").settings
    new = init_instance(tmp_path / "new", listen="127.0.0.1:2").settings
    state = tmp_path / "front.json"
    save_state(state, FrontState(active="http://127.0.0.1:2", previous="http://127.0.0.1:1"))
    record = {"format": 1, "state": "cut-over", "from": str(old.home), "to": str(new.home)}
    write_record(state, record)
    services = InstanceServices(utc_now, secrets.token_bytes, platform.python_version())
    said: list[str] = []
    outputs = services.cut_over(old.home, new.home, {"front_state": str(state)}, said.append)
    assert outputs == {"resumed": True, "handed_over": {"trigger_instances": 0, "executions": 0}}
    assert "recorded already" in said[0]

    write_record(state, {**record, "to": str(tmp_path / "elsewhere")})
    with pytest.raises(StepFailed, match="failed its health gate, nothing changed") as refused:
        services.cut_over(old.home, new.home, {"front_state": str(state)}, said.append)
    assert refused.value.hint is not None and "is the active instance again" in refused.value.hint


def test_an_altered_journal_or_another_passphrase_is_refused_before_anything_runs(
    cli: Run, source: Path, tmp_path: Path
) -> None:
    """The journal is what a resumed run trusts to skip steps: each line is signed, chained
    to the one before, under a key derived from the plan's passphrase."""
    plan = write_plan(tmp_path, source, verify="{skip: true}", archive="{skip: true}")
    done = cli("upgrade", "run", plan, "--json")
    assert done.code == 0, done.err
    path = tmp_path / "plan.journal.jsonl"
    signed = path.read_text()
    lines = signed.splitlines()
    assert all("mac" in json.loads(line) for line in lines)
    assert "mac_salt" in json.loads(lines[0])
    assert PASSPHRASE not in signed

    export_done = next(i for i, line in enumerate(lines) if '"done"' in line)
    changed = json.loads(lines[export_done])
    changed["outputs"]["sha256"] = "0" * 64  # as if the bundle were another one
    altered = {
        "a line changed": [*lines[:export_done], json.dumps(changed), *lines[export_done + 1 :]],
        "a line removed": lines[:export_done] + lines[export_done + 1 :],
        "two lines swapped": [lines[0], lines[2], lines[1], *lines[3:]],
    }
    for what, text in altered.items():
        path.write_text("\n".join(text) + "\n")
        again = cli("upgrade", "run", plan, "--json")
        assert again.code == 2, (what, again.out, again.err)
        assert "does not check: the journal was altered" in again.err, what
        assert path.read_text() == "\n".join(text) + "\n", what  # nothing appended

    path.write_text(signed)
    (tmp_path / "pass.txt").write_text("another long passphrase\n")
    other = cli("upgrade", "run", plan, "--json")
    assert other.code == 2 and "the passphrase is not the one the run began with" in other.err
    (tmp_path / "pass.txt").write_text(PASSPHRASE + "\n")
    resumed = cli("upgrade", "run", plan, "--json")
    assert resumed.code == 0, resumed.err
    assert json.loads(resumed.out)["resumed"]
