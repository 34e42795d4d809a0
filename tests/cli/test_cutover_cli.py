"""``packhorse cutover`` and ``packhorse rollback`` through the real entry point, on instance
folders with no process running: what they refuse, and ``--handover-only`` (stragglers)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from packhorse import bootstrap
from packhorse.engine.clock import iso_now
from packhorse.model.events import TriggerInstance, TriggerInstanceStatus
from packhorse.model.execution import Execution, Status
from packhorse.settings import load_settings, write_settings
from packhorse.storage.events import SqlEventStore
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.intake import SqlIntakeStore
from tests.conftest import CliResult
from tests.test_up import free_port

Cli = Callable[..., CliResult]


def _pair(instance_home: Path, template: Path, tmp_path: Path) -> tuple[Path, Path]:
    new = tmp_path / "new"
    shutil.copytree(template, new)
    for home in (instance_home, new):  # each its own address (nothing listens there)
        write_settings(load_settings(home).with_overrides(listen=f"127.0.0.1:{free_port()}"))
    return instance_home, new


def test_a_new_instance_that_does_not_answer_changes_nothing(
    cli: Cli, instance_home: Path, _instance_template: Path, tmp_path: Path
) -> None:
    old, new = _pair(instance_home, _instance_template, tmp_path)
    state = tmp_path / "front.json"
    done = cli("cutover", "--from", old, "--to", new, "--front-state", state)
    assert done.code == 1
    assert "failed its health gate, nothing changed" in done.err
    assert "cannot be reached" in done.err
    assert SqlIntakeStore(bootstrap.database_engine(load_settings(old))).read().generation == 0
    assert not state.exists() and not state.with_name("front.json.cutover.json").exists()


def test_rollback_needs_a_recorded_cutover(cli: Cli, tmp_path: Path) -> None:
    done = cli("rollback", "--front-state", tmp_path / "front.json")
    assert done.code == 1
    assert "no cutover recorded" in done.err


def test_handover_only_moves_stragglers_once(
    cli: Cli, instance_home: Path, _instance_template: Path, tmp_path: Path
) -> None:
    old, new = _pair(instance_home, _instance_template, tmp_path)
    old_engine = bootstrap.database_engine(load_settings(old))
    new_engine = bootstrap.database_engine(load_settings(new))
    now = iso_now()
    SqlEventStore(old_engine).record(
        TriggerInstance(
            "t-late", "core.st2.webhook", "core.st2.webhook", {}, now, TriggerInstanceStatus.HELD
        )
    )
    queued = Execution("e-late", "core.noop", "noop", Status.REQUESTED, {}, {"user": "u"}, now)
    SqlExecutionStore(old_engine).create(queued, then=Status.SCHEDULED)
    arguments = ("cutover", "--from", old, "--to", new, "--front-state", tmp_path / "f.json")
    first = cli(*arguments, "--handover-only", "--json")
    assert first.code == 0, first.err
    assert json.loads(first.out)["handed_over"] == {"trigger_instances": 1, "executions": 1}
    again = cli(*arguments, "--handover-only")
    assert again.code == 0 and "0 trigger instances, 0 queued executions" in again.out
    received = SqlEventStore(new_engine).get("t-late")
    assert received is not None and received.status is TriggerInstanceStatus.PENDING
    moved = SqlExecutionStore(new_engine).get("e-late")
    assert moved is not None and moved.status is Status.SCHEDULED
    left = SqlExecutionStore(old_engine).get("e-late")
    assert left is not None and left.status is Status.CANCELED
    assert left.result["handed_over_to"] == f"http://{load_settings(new).listen}"


def test_handover_only_between_folders_with_their_own_keys_reseals_secrets(
    cli: Cli, instance_home: Path, tmp_path: Path
) -> None:
    """Local folders seal in-process as the API does: the new folder (its own datastore key)
    stores the secret under its key; the clear value is printed nowhere."""
    from packhorse.engine.instance import init_instance

    secret = "folder-secret-91ab3c"
    new = tmp_path / "new"
    init_instance(new)
    old = instance_home
    for home in (old, new):
        write_settings(load_settings(home).with_overrides(listen=f"127.0.0.1:{free_port()}"))
    old_settings, new_settings = load_settings(old), load_settings(new)
    token = bootstrap.datastore_service(old_settings).encrypt(secret)
    queued = Execution(
        "e-secret",
        "core.noop",
        "noop",
        Status.REQUESTED,
        {"token": token},
        {"user": "u"},
        iso_now(),
    )
    SqlExecutionStore(bootstrap.database_engine(old_settings)).create(queued, then=Status.SCHEDULED)
    done = cli(
        "cutover", "--from", old, "--to", new, "--front-state", tmp_path / "f.json",
        "--handover-only", "--json",
    )  # fmt: skip
    assert done.code == 0, done.err
    assert json.loads(done.out)["handed_over"] == {"trigger_instances": 0, "executions": 1}
    assert secret not in done.out + done.err
    moved = SqlExecutionStore(bootstrap.database_engine(new_settings)).get("e-secret")
    assert moved is not None and moved.parameters["token"] != token
    assert bootstrap.datastore_service(new_settings).decrypt(moved.parameters["token"]) == secret
