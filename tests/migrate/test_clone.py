"""``packhorse clone``: the copy holds everything and runs the same workflow to the same
result."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from packhorse import bootstrap
from packhorse.model.content import Kind
from packhorse.settings import load_settings
from tests.conftest import CliResult
from tests.migrate.conftest import SECRETS, Populated

Run = Callable[..., CliResult]

WORKFLOW = {
    "version": 1.0,
    "input": ["who"],
    "vars": [{"region": "<% st2kv('system.region') %>"}],
    "tasks": {
        "say": {
            "action": 'core.local cmd="echo <% ctx(who) %> in <% ctx(region) %>"',
            "next": [{"when": "<% succeeded() %>", "publish": [{"said": "<% result().stdout %>"}]}],
        }
    },
    "output": [{"said": "<% ctx(said) %>"}],
}


def add_workflow_pack(home: Path) -> None:
    folder = home / "packs" / "clonetest"
    (folder / "actions" / "workflows").mkdir(parents=True)
    (folder / "pack.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "clonetest",
                "version": "0.1.0",
                "description": "clone test",
                "author": "tests",
                "email": "tests@example.org",
            }
        )
    )
    (folder / "actions" / "greet.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "greet",
                "runner_type": "orquesta",
                "entry_point": "workflows/greet.yaml",
                "parameters": {"who": {"type": "string", "default": "world"}},
            }
        )
    )
    (folder / "actions" / "workflows" / "greet.yaml").write_text(yaml.safe_dump(WORKFLOW))
    assert bootstrap.register_instance_packs(load_settings(home), refs=["clonetest"]).ok


def run_greet(cli: Run, home: Path) -> object:
    bootstrap._cached_registry.cache_clear()  # each CLI command is a new process, not here
    ran = cli("--home", home, "run", "clonetest.greet", "who=Ada", "--json")
    assert ran.code == 0, ran.err
    document = json.loads(ran.out)
    assert document["status"] == "succeeded", document
    return document["result"]


def test_clone_holds_everything_and_runs_the_same_workflow(
    cli: Run, populated: Populated, tmp_path: Path
) -> None:
    source = populated.settings.home
    add_workflow_pack(source)
    expected = run_greet(cli, source)
    assert "Ada in eu-west-1" in json.dumps(expected)

    clone = tmp_path / "clone"
    done = cli("clone", "--from", source, "--to", clone)
    assert done.code == 0, done.err
    assert f"Cloned {source} into {clone}" in done.out
    for clear in SECRETS.values():
        assert clear not in done.out + done.err

    settings = load_settings(clone)
    assert settings.instance_id != populated.settings.instance_id
    registry = bootstrap.content_registry(settings)
    assert {p.ref for p in registry.list_packs()} == {"core", "examples", "demo_good", "clonetest"}
    rule = registry.get_resource(Kind.RULE, "demo_good.on_line")
    assert rule is not None and not rule.enabled
    assert (clone / "configs" / "demo_good.yaml").read_bytes() == (
        source / "configs" / "demo_good.yaml"
    ).read_bytes()
    datastore = bootstrap.datastore_service(settings)
    assert datastore.get_value("db_password", decrypt=True).value == SECRETS["db_password"]
    users = bootstrap.user_store(settings)
    assert users.get_password_hash("admin") == bootstrap.user_store(
        populated.settings
    ).get_password_hash("admin")
    assert users.get_role("alice") == "operator"
    assert run_greet(cli, clone) == expected


def test_clone_with_a_given_passphrase(cli: Run, populated: Populated, tmp_path: Path) -> None:
    (tmp_path / "pass").write_text("a long enough passphrase\n")
    clone = tmp_path / "clone"
    done = cli(
        "clone", "--from", populated.settings.home, "--to", clone,
        "--passphrase-file", tmp_path / "pass", "--json",
    )  # fmt: skip
    assert done.code == 0, done.err
    summary = json.loads(done.out)
    assert summary["target"] == str(clone) and summary["plan"]["pack"] == {
        "add": 1,
        "unchanged": 1,
    }
    (tmp_path / "short").write_text("short\n")
    refused = cli(
        "clone", "--from", populated.settings.home, "--to", tmp_path / "other",
        "--passphrase-file", tmp_path / "short",
    )  # fmt: skip
    assert refused.code != 0 and not (tmp_path / "other").exists()


def test_clone_refuses_a_folder_that_is_not_empty(
    cli: Run, populated: Populated, tmp_path: Path
) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    refused = cli("clone", "--from", populated.settings.home, "--to", occupied)
    assert refused.code != 0 and "not empty" in refused.err
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]


def test_clone_between_relative_folders(
    cli: Run, populated: Populated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths relative to the working folder work as absolute ones (the pack installer and
    the virtualenv builder run subprocesses in other folders)."""
    (populated.settings.home / "packs" / "demo_good" / "requirements.txt").write_text("")
    monkeypatch.chdir(populated.settings.home.parent)
    done = cli("clone", "--from", populated.settings.home.name, "--to", "relative-clone")
    assert done.code == 0, done.err
    clone = populated.settings.home.parent / "relative-clone"
    assert f"into {clone}" in done.out
    settings = load_settings(Path("relative-clone"))
    assert settings.home == clone
    packs = {p.ref for p in bootstrap.content_registry(settings).list_packs()}
    assert "demo_good" in packs
