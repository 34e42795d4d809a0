"""``packhorse upgrade check [--fix]`` on fixture packs of ours, through the real entry point."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

FIXTURES = Path(__file__).parent.parent / "fixtures" / "upgrade"
#: Written here, not committed: the linters would refuse a Python 2 file.
PY2_ACTION = 'import sys\n\n\ndef main():\n    print "hello from python 2"\n    return sys.argv\n'

Cli = Callable[..., CliResult]


@pytest.fixture
def packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "packs")
    (tmp_path / "packs" / "legacy" / "actions" / "old.py").write_text(PY2_ACTION)
    monkeypatch.chdir(tmp_path)
    return Path("packs")


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


def test_check_reports_every_transform_with_place(cli: Cli, packs: Path) -> None:
    result = cli("upgrade", "check", packs)
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    assert lines[-1] == "19 findings (10 fixable) in 2 packs"
    assert "packs/oldpack/pack.yaml:5:10: pack-version-semver: version '1.0' is not " in result.out
    assert (
        "packs/oldpack/actions/workflows/flow.yaml:13:3: continue-task-name: task name "
        "'continue' is reserved since StackStorm 3.3: rename to 'continue_' [fixable]"
    ) in lines
    found = {line.split(": ")[1] for line in lines[:-1]}
    assert found == {
        "pack-version-semver",
        "continue-task-name",
        "yaql-format",
        "flat-output-schema",
        "python2-only",
        "mistral-v2",
        "stackstorm-version",
    }
    assert "packs/legacy/actions/old.py:5:5: python2-only: Python 3 cannot compile" in result.out
    assert "packs/legacy/pack.yaml:7:21: stackstorm-version: it needs StackStorm <3.0.0" in (
        result.out
    )


def test_json(cli: Cli, packs: Path) -> None:
    result = cli("upgrade", "check", "--json", packs / "oldpack")
    assert result.code == 0  # every finding is fixable
    document = json.loads(result.out)
    assert document["unfixable"] == 0
    assert document["findings"] == 10
    [pack] = document["packs"]
    assert pack["path"] == "packs/oldpack"
    assert {f["transform"] for f in pack["findings"]} >= {"yaql-format", "flat-output-schema"}


def test_fix_then_validate_passes_and_a_second_fix_changes_nothing(cli: Cli, packs: Path) -> None:
    before = cli("pack", "validate", packs / "oldpack")
    assert before.code == 1  # the task named continue is an error today
    fixed = cli("upgrade", "check", "--fix", packs / "oldpack")
    assert fixed.code == 0, fixed.out + fixed.err
    assert fixed.out.splitlines() == [
        "fixed packs/oldpack/actions/deploy.yaml: +1 -1 lines",
        "fixed packs/oldpack/actions/greet.yaml: +8 -5 lines",
        "fixed packs/oldpack/actions/workflows/deploy.yaml: +27 -25 lines",
        "fixed packs/oldpack/actions/workflows/flow.yaml: +5 -5 lines",
        "fixed packs/oldpack/pack.yaml: +1 -1 lines",
        "0 findings (0 fixable) in 1 pack",
    ]
    validated = cli("pack", "validate", packs / "oldpack")
    assert validated.code == 0, validated.out
    text = (packs / "oldpack" / "pack.yaml").read_text()
    assert 'version: "1.0.0"  # kept quoted' in text
    assert "runner_type: orquesta\n" in (packs / "oldpack" / "actions" / "deploy.yaml").read_text()
    after_first = _tree(packs / "oldpack")
    again = cli("upgrade", "check", "--fix", packs / "oldpack")
    assert again.code == 0
    assert again.out == "0 findings (0 fixable) in 1 pack\n"
    assert _tree(packs / "oldpack") == after_first


def test_fix_leaves_unfixable_reported_and_exits_one(cli: Cli, packs: Path) -> None:
    before = _tree(packs / "legacy")
    result = cli("upgrade", "check", "--fix", packs / "legacy")
    assert result.code == 1
    assert "fixed" not in result.out
    assert _tree(packs / "legacy") == before


def test_fix_refused_when_the_fixed_pack_validates_worse(
    cli: Cli, packs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from packhorse.migrate import upgrade_check

    # A transform gone wrong (made up here): its output would break the pack.
    monkeypatch.setattr(upgrade_check, "apply_all", lambda files: {"pack.yaml": "name: [\n"})
    pack = packs / "oldpack"
    before = _tree(pack)
    result = cli("upgrade", "check", "--fix", pack)
    assert result.code == 1
    assert "fix refused: the fixed pack has validation errors it did not have (PH" in result.err
    assert _tree(pack) == before


def test_default_is_the_instance_packs_folder(cli: Cli, packs: Path, instance_home: Path) -> None:
    shutil.copytree(packs / "oldpack", instance_home / "packs" / "oldpack")
    result = cli("--home", instance_home, "upgrade", "check")
    assert result.code == 0, result.out + result.err
    assert "oldpack/pack.yaml:5:10: pack-version-semver" in result.out


def test_a_folder_without_packs_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = cli("upgrade", "check", tmp_path)
    assert result.code == 2
    assert "no pack in" in result.err
