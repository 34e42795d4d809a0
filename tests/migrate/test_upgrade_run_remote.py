"""``packhorse upgrade run`` with ``from:`` the URL of the old instance's API: the upgrade of
an instance on another machine. The bundle is exported over the API, sealed for a key derived
from the plan's passphrase (the new instance does not exist yet), then imported here; verify
replays the old instance's traffic through its API. The archive is the old machine's to make."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.settings import load_settings
from tests.api.credentials import token_for
from tests.api.serving import serving
from tests.conftest import CliResult
from tests.migrate.conftest import SECRETS, Populated
from tests.migrate.test_upgrade_run import PASSPHRASE, events, write_plan

Run = Callable[..., CliResult]


def test_an_upgrade_from_an_instance_reached_over_its_api(
    cli: Run, populated: Populated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = populated.settings.home
    ran = cli("--home", home, "run", "core.local", "cmd=echo before the upgrade")
    assert ran.code == 0, ran.err
    settings = load_settings(home)
    monkeypatch.setenv("PACKHORSE_TOKEN", token_for(settings))
    with serving(bootstrap.create_app(settings, workers=1)) as url:
        plan = write_plan(tmp_path, url, archive="{skip: true}")
        done = cli("upgrade", "run", plan, "--json")
        assert done.code == 0, done.err
        again = cli("upgrade", "run", plan, "--json")
    for clear in [PASSPHRASE, *SECRETS.values()]:
        assert clear not in done.out + done.err
        assert clear.encode() not in (tmp_path / "site.tgz").read_bytes()
    report = json.loads(done.out)
    assert [(s["step"], s["status"]) for s in report["steps"]] == [
        ("export", "ran"), ("init", "ran"), ("import", "ran"), ("check", "ran"),
        ("verify", "ran"), ("cutover", "skipped"), ("archive", "skipped"),
    ]  # fmt: skip
    outputs = {s["step"]: s["outputs"] for s in report["steps"]}
    assert outputs["export"]["bundle"] == str(tmp_path / "site.tgz")
    # Replayed through the old instance's API; the only difference is the populated
    # instance's own drift (an enforcement its rules no longer give), not the upgrade's.
    assert outputs["verify"]["replayed"] == 1
    assert outputs["verify"]["differences"] == outputs["verify"]["drift"]

    new = tmp_path / "new"
    bootstrap._cached_registry.cache_clear()  # each CLI command is a new process, not here
    got = cli("--home", new, "key", "get", "db_password", "--decrypt", "--json")
    assert json.loads(got.out)["value"] == SECRETS["db_password"]
    executions = json.loads(cli("--home", new, "execution", "list", "--json").out)
    assert [e["status"] for e in executions] == ["succeeded"]
    assert load_settings(new).instance_id != settings.instance_id

    assert again.code == 0, again.err
    assert {s["status"] for s in json.loads(again.out)["steps"]} == {"already done", "skipped"}
    assert [e["event"] for e in events(tmp_path)].count("finished") == 2
