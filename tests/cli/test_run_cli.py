"""``packhorse run`` and ``packhorse execution`` end to end: real SQLite queue, real
processes, through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def run_json(cli: Cli, home: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = cli("--home", home, "run", *args, "--json")
    assert result.out, result.err
    return result.code, json.loads(result.out)


def test_run_local_command_prints_the_st2_result_shape(instance_home: Path, cli: Cli) -> None:
    code, execution = run_json(cli, instance_home, "core.local", "cmd=echo hello; echo oops >&2")
    assert code == 0, execution
    assert execution["status"] == "succeeded"
    assert execution["result"] == {
        "failed": False,
        "succeeded": True,
        "return_code": 0,
        "stdout": "hello",
        "stderr": "oops",
    }
    assert [entry["status"] for entry in execution["log"]] == [  # type: ignore[index]
        "requested",
        "scheduled",
        "running",
        "succeeded",
    ]


def test_failing_command_exits_1_and_records_failed(instance_home: Path, cli: Cli) -> None:
    code, execution = run_json(cli, instance_home, "core.local", "cmd=exit 3")
    assert code == 1
    assert execution["status"] == "failed"
    assert execution["result"]["return_code"] == 3  # type: ignore[index]


def test_human_output_and_noop(instance_home: Path, cli: Cli) -> None:
    result = cli("--home", instance_home, "run", "core.noop")
    assert result.code == 0, result.err
    assert "action.ref: core.noop" in result.out and "status: succeeded" in result.out


def test_async_then_get_and_list(instance_home: Path, cli: Cli) -> None:
    queued = cli("--home", instance_home, "run", "core.echo", "message=queued", "--async")
    assert queued.code == 0 and "Queued execution" in queued.out
    execution_id = queued.out.split()[2].rstrip(".")
    got = json.loads(cli("--home", instance_home, "execution", "get", execution_id, "--json").out)
    assert got["status"] == "scheduled" and got["parameters"] == {"message": "queued"}
    table = cli("--home", instance_home, "execution", "list")
    assert execution_id in table.out and "core.echo" in table.out
    canceled = cli("--home", instance_home, "execution", "cancel", execution_id)
    assert "canceled" in canceled.out
    again = cli("--home", instance_home, "execution", "cancel", execution_id)
    assert again.code == 2 and "already canceled" in again.err


def test_secret_parameters_are_stored_encrypted_and_shown_masked(
    instance_home: Path, cli: Cli
) -> None:
    code, execution = run_json(
        cli, instance_home, "core.local", "cmd=true", "sudo_password=very-secret-pw"
    )
    assert code == 0
    assert execution["parameters"]["sudo_password"] == "********"  # type: ignore[index]
    listed = cli("--home", instance_home, "execution", "list", "--json").out
    assert "very-secret-pw" not in listed
    stored = b"".join(p.read_bytes() for p in instance_home.glob("state.db*"))
    assert b"very-secret-pw" not in stored


def test_unknown_action_and_bad_parameters_are_refused_before_queueing(
    instance_home: Path, cli: Cli
) -> None:
    unknown = cli("--home", instance_home, "run", "core.nope")
    assert unknown.code == 2 and "action 'core.nope' is not registered" in unknown.err
    missing = cli("--home", instance_home, "run", "core.local")
    assert missing.code == 2 and "cmd" in missing.err
    listed = json.loads(cli("--home", instance_home, "execution", "list", "--json").out)
    assert listed == []


def test_re_run_repeats_with_overrides(instance_home: Path, cli: Cli) -> None:
    _, first = run_json(cli, instance_home, "core.echo", "message=one")
    again = cli(
        "--home", instance_home, "execution", "re-run", str(first["id"]), "message=two", "--json"
    )
    assert again.code == 0, again.err
    second = json.loads(again.out)
    assert second["id"] != first["id"]
    assert second["result"]["stdout"] == "two"  # type: ignore[index]


def test_output_is_stored_as_it_streams_and_tail_prints_it(instance_home: Path, cli: Cli) -> None:
    code, execution = run_json(
        cli, instance_home, "core.local", "cmd=echo one; echo two >&2; echo three"
    )
    assert code == 0
    tailed = cli("--home", instance_home, "execution", "tail", str(execution["id"]))
    assert tailed.code == 0, tailed.err
    lines = tailed.out.split()
    assert {"one", "two", "three"} <= set(lines)
    assert lines.index("one") < lines.index("three")
    assert f"Execution {execution['id']} has completed (status=succeeded)." in tailed.out


def test_a_command_that_cannot_start_fails_cleanly(instance_home: Path, cli: Cli) -> None:
    code, execution = run_json(cli, instance_home, "core.local", "cmd=true", "cwd=/no/such/dir")
    assert code == 1
    assert execution["status"] == "failed"
    assert [e["status"] for e in execution["log"]][-2:] == ["running", "failed"]  # type: ignore[index]
