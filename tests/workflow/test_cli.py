"""``packhorse workflow validate`` through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def test_valid_workflows_exit_0(cli: Callable[..., Any]) -> None:
    files = sorted((FIXTURES / "valid").glob("*.yaml"))
    result = cli("workflow", "validate", *files)
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines() == [f"0 errors, 0 warnings in {len(files)} workflows"]


def test_problems_are_printed_with_file_and_line_and_exit_1(cli: Callable[..., Any]) -> None:
    broken = FIXTURES / "invalid" / "PH707.yaml"
    result = cli("workflow", "validate", broken)
    assert result.code == 1
    assert result.out.splitlines() == [
        f'{broken}:7:9: PH707: The task "task3" is not defined.',
        "1 error, 0 warnings in 1 workflow",
    ]


def test_warnings_alone_exit_0(cli: Callable[..., Any]) -> None:
    result = cli("workflow", "validate", FIXTURES / "invalid" / "PH700.yaml")
    assert result.code == 0
    assert ": PH700: version missing" in result.out


def test_json_format(cli: Callable[..., Any]) -> None:
    result = cli("workflow", "validate", "--format", "json", FIXTURES / "invalid" / "PH708.yaml")
    assert result.code == 1
    document = json.loads(result.out)
    assert document["errors"] == 1
    [diagnostic] = document["diagnostics"]
    assert diagnostic["code"] == "PH708"
    assert diagnostic["field"] == "tasks.task1.action"
    assert (diagnostic["line"], diagnostic["col"]) == (6, 5)


def test_missing_file_is_a_usage_error(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli("workflow", "validate", tmp_path / "nope.yaml")
    assert result.code == 2


def test_pack_validate_reports_workflow_problems(cli: Callable[..., Any], tmp_path: Path) -> None:
    pack = tmp_path / "demo"
    (pack / "actions" / "workflows").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "---\nref: demo\nname: demo\ndescription: d\nversion: 1.0.0\nauthor: a\n"
        "email: a@example.com\n"
    )
    (pack / "actions" / "wf.yaml").write_text(
        "---\nname: wf\nrunner_type: orquesta\nentry_point: workflows/wf.yaml\n"
    )
    (pack / "actions" / "workflows" / "wf.yaml").write_text(
        (FIXTURES / "invalid" / "PH707.yaml").read_text()
    )
    result = cli("pack", "validate", pack)
    # The pack registers (as in StackStorm); the workflow's problem is reported as a warning.
    assert result.code == 0, result.out
    assert f'{pack}/actions/workflows/wf.yaml:7:9: PH707: The task "task3" is not defined.' in (
        result.out
    )
    assert "(this workflow will fail when run)" in result.out
    strict = cli("workflow", "validate", pack / "actions" / "workflows" / "wf.yaml")
    assert strict.code == 1 and "PH707" in strict.out


def test_action_chains_are_checked_as_chains(cli: Callable[..., Any]) -> None:
    good = FIXTURES / "chains" / "routing.yaml"
    assert cli("workflow", "validate", good).code == 0
    broken = next(iter(sorted((FIXTURES / "chains" / "invalid").glob("*PH803*.yaml"))))
    result = cli("workflow", "validate", broken)
    assert result.code == 1
    assert "PH803" in result.out and str(broken) in result.out
