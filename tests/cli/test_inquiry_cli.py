"""``packhorse inquiry`` and the workflow-only execution commands, through the entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def test_ask_list_get_and_respond(instance_home: Path, cli: Cli) -> None:
    asked = cli("--home", instance_home, "run", "core.ask", "route=ops", "--json")
    assert asked.code == 1, asked.err  # not succeeded: it waits for an answer
    inquiry_id = json.loads(asked.out)["id"]
    assert json.loads(asked.out)["status"] == "pending"

    listed = json.loads(cli("--home", instance_home, "inquiry", "list", "--json").out)
    assert [i["id"] for i in listed] == [inquiry_id] and listed[0]["route"] == "ops"
    table = cli("--home", instance_home, "inquiry", "list")
    assert inquiry_id in table.out

    shown = cli("--home", instance_home, "inquiry", "get", inquiry_id)
    assert "continue" in shown.out and "boolean" in shown.out

    wrong = cli("--home", instance_home, "inquiry", "respond", inquiry_id, "-r", '{"continue": 1}')
    assert wrong.code != 0 and "is not of type 'boolean'" in wrong.err
    bad_json = cli("--home", instance_home, "inquiry", "respond", inquiry_id, "-r", "{nope")
    assert bad_json.code != 0 and "not JSON" in bad_json.err

    answered = cli(
        "--home", instance_home, "inquiry", "respond", inquiry_id, "-r", '{"continue": true}'
    )
    assert answered.code == 0, answered.err
    assert f"Response accepted for inquiry {inquiry_id}" in answered.out
    got = json.loads(cli("--home", instance_home, "execution", "get", inquiry_id, "--json").out)
    assert got["status"] == "succeeded" and got["result"]["response"] == {"continue": True}
    assert json.loads(cli("--home", instance_home, "inquiry", "list", "--json").out) == []


def test_respond_checks_the_stored_role_of_the_user(instance_home: Path, cli: Cli) -> None:
    asked = cli("--home", instance_home, "run", "core.ask", 'roles=["admin"]', "--json")
    inquiry_id = json.loads(asked.out)["id"]
    assert json.loads(asked.out)["result"]["roles"] == ["admin"]
    answer = '{"continue": true}'
    stranger = cli(
        "--home", instance_home, "inquiry", "respond", inquiry_id, "-r", answer, "--user", "nobody"
    )
    assert stranger.code != 0 and "(role none) may not answer" in stranger.err
    assert "allowed roles: admin" in stranger.err
    admin = cli("--home", instance_home, "inquiry", "respond", inquiry_id, "-r", answer)
    assert admin.code == 0, admin.err


def test_pause_and_resume_are_for_workflows_only(instance_home: Path, cli: Cli) -> None:
    queued = cli("--home", instance_home, "run", "core.noop", "--async", "--json")
    execution_id = json.loads(queued.out)["id"]
    paused = cli("--home", instance_home, "execution", "pause", execution_id)
    assert paused.code != 0 and "cannot pause" in paused.err
    resumed = cli("--home", instance_home, "execution", "resume", execution_id)
    assert resumed.code != 0 and "cannot resume" in resumed.err
    rerun = cli("--home", instance_home, "execution", "re-run", execution_id, "--tasks", "t1")
    assert rerun.code != 0 and "not a workflow" in rerun.err
