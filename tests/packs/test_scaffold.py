"""``pack create``: the new pack validates, installs, runs and its test passes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult


def test_a_created_pack_validates(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    made = cli("pack", "create", "net_tools", "--dir", tmp_path, "--author", "Ada")
    assert made.code == 0, made.err
    folder = tmp_path / "net_tools"
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "actions/greet.py",
        "actions/greet.yaml",
        "actions/greet_twice.yaml",
        "actions/workflows/greet_twice.yaml",
        "config.schema.yaml",
        "pack.yaml",
        "requirements.txt",
        "rules/greet_from_webhook.yaml",
        "tests/test_action_greet.py",
    ]
    checked = cli("pack", "validate", folder, "--format", "json")
    assert checked.code == 0, checked.out + checked.err
    assert "author: Ada" in (folder / "pack.yaml").read_text()


def test_bad_names_and_existing_folders_are_refused(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    bad = cli("pack", "create", "Net-Tools", "--dir", tmp_path)
    assert bad.code != 0 and "net_tools" in bad.err
    assert not list(tmp_path.iterdir())
    (tmp_path / "taken").mkdir()
    taken = cli("pack", "create", "taken", "--dir", tmp_path)
    assert taken.code != 0 and "exists already" in taken.err


@pytest.mark.slow
def test_a_created_pack_installs_runs_and_passes_its_test(
    tmp_path: Path, instance_home: Path, cli: Callable[..., CliResult]
) -> None:
    """The test venv's pytest and mock come from the package index (CI has one)."""
    assert cli("pack", "create", "made", "--dir", tmp_path).code == 0
    installed = cli("--home", instance_home, "pack", "install", tmp_path / "made")
    assert installed.code == 0, installed.err
    tested = cli("--home", instance_home, "pack", "test", "made", "-q")
    assert tested.code == 0, tested.out + tested.err
    ran = cli(
        "--home", instance_home, "run", "made.greet_twice", "first=Ada", "second=Bob", "--json"
    )
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["result"]["output"]["greetings"] == ["Hello, Ada!", "Hello, Bob!"]
