"""``packhorse pack validate``: output lines, summary, JSON, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from packhorse.cli.pack_validate import validate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "packs"


@pytest.fixture
def packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "packs")
    monkeypatch.chdir(tmp_path)
    return Path("packs")


def test_valid_packs_exit_zero(packs: Path) -> None:
    result = CliRunner().invoke(validate, [str(packs / "demo_good"), str(packs / "demo_user")])
    assert result.exit_code == 0, result.output
    assert result.output == "0 errors, 0 warnings in 2 packs\n"


def test_errors_print_sorted_lines_and_exit_one(packs: Path) -> None:
    result = CliRunner().invoke(validate, [str(packs / "demo_broken")])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-1] == "6 errors, 0 warnings in 1 pack"
    assert lines[0] == (
        "packs/demo_broken/actions/bad.yaml:3:1: PH201: runner type 'run-local' was removed "
        "from StackStorm; use local-shell-cmd"
    )
    paths = [line.split(":")[0] for line in lines[:-1]]
    assert paths == sorted(paths)
    assert any(line.startswith("packs/demo_broken/pack.yaml:4:1: PH101:") for line in lines)


def test_warnings_alone_exit_zero(packs: Path) -> None:
    result = CliRunner().invoke(validate, [str(packs / "demo_user")])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "0 errors, 2 warnings in 1 pack"


def test_folder_of_packs(packs: Path) -> None:
    result = CliRunner().invoke(validate, [str(packs)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "6 errors, 0 warnings in 3 packs"


def test_json_format(packs: Path) -> None:
    result = CliRunner().invoke(validate, ["--format", "json", str(packs)])
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document["errors"] == 6
    assert document["warnings"] == 0
    assert {p["path"]: p["valid"] for p in document["packs"]} == {
        "packs/demo_broken": False,
        "packs/demo_good": True,
        "packs/demo_user": True,
    }
    first = document["diagnostics"][0]
    assert set(first) == {"code", "severity", "message", "path", "line", "col", "field"}


def test_a_folder_without_packs(tmp_path: Path) -> None:
    result = CliRunner().invoke(validate, [str(tmp_path)])
    assert result.exit_code == 1
    assert ": PH100: no pack here" in result.output
