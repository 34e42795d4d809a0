"""``packhorse alias list|get|match|run`` through the real entry point, with the ``talk``
fixture pack registered in a fresh instance (real SQLite queue, real processes)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

Cli = Callable[..., CliResult]
TALK = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "talk"


@pytest.fixture
def home(instance_home: Path, cli: Cli) -> Path:
    shutil.copytree(TALK, instance_home / "packs" / "talk")
    registered = cli("--home", instance_home, "pack", "register", "talk")
    assert registered.code == 0, registered.err
    return instance_home


def test_help_lists_the_alias_commands(cli: Cli) -> None:
    top = cli("--help")
    assert "alias" in top.out and "match a chat command" in top.out
    group = cli("alias", "--help")
    for command in ("list", "get", "match", "run"):
        assert command in group.out
    assert "Nothing runs." in cli("alias", "match", "--help").out


def test_list_and_get(home: Path, cli: Cli) -> None:
    table = cli("--home", home, "alias", "list", "--pack", "talk")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["REF", "ACTION", "ENABLED", "FORMATS"]
    assert [line.split()[0] for line in lines[1:]] == [
        "talk.close",
        "talk.deploy",
        "talk.say",
        "talk.say_again",
        "talk.shout",
    ]
    say = next(line for line in lines if line.startswith("talk.say "))
    assert "talk {{ message }}; repeat <message> [<times>] times" in say
    listed = json.loads(cli("--home", home, "alias", "list", "--json").out)
    assert {"examples.greet", "talk.shout"} <= {a["ref"] for a in listed}
    got = json.loads(cli("--home", home, "alias", "get", "talk.deploy", "--json").out)
    assert got["immutable_parameters"] == {
        "requested_by": "{{ api_user }} via {{ source_channel }}"
    }
    assert (
        "uid                 : action_alias:talk:deploy"
        in cli("--home", home, "alias", "get", "deploy").out
    )
    missing = cli("--home", home, "alias", "get", "talk.nope")
    assert missing.code == 2
    assert 'Unable to identify action alias with name "talk.nope".' in missing.err


def test_match_prints_the_alias_and_the_parameters_it_would_pass(home: Path, cli: Cli) -> None:
    matched = cli("--home", home, "alias", "match", "ship web to prod!", "--user", "ada")
    assert matched.code == 0, matched.err
    assert matched.out.splitlines() == [
        "alias: talk.deploy",
        "format: (deploy|ship) {{ app }}( to {{ stage = staging }})?[!.]?",
        "action: talk.deploy",
        "parameters: ",
        "  app: web",
        "  requested_by: ada via cli",
        "  stage: prod",
    ]
    as_json = json.loads(cli("--home", home, "alias", "match", "repeat hi times", "--json").out)
    assert as_json["actionalias"]["ref"] == "talk.say"
    assert as_json["representation"] == "repeat {{ message }} {{ times = 2 }} times"
    assert as_json["parameters"] == [{"message": "hi", "times": 2}]
    # Nothing ran.
    listed = cli("--home", home, "execution", "list", "--json")
    assert json.loads(listed.out) == []


def test_match_says_why_nothing_matched(home: Path, cli: Cli) -> None:
    none = cli("--home", home, "alias", "match", "dance wildly")
    assert none.code == 1
    assert none.out.startswith("Command 'dance wildly' matched no patterns\n")
    several = cli("--home", home, "alias", "match", "talk hi again", "--json")
    assert several.code == 1
    assert json.loads(several.out) == {
        "faultstring": "Command 'talk hi again' matched more than 1 pattern",
        "matches": [
            {"ref": "talk.say", "representation": "talk {{ message }}"},
            {"ref": "talk.say_again", "representation": "talk {{ message }} again"},
        ],
    }
    disabled = cli("--home", home, "alias", "match", "shout hi")
    assert disabled.code == 1 and "matched no patterns" in disabled.out


def test_run_executes_and_prints_the_execution(home: Path, cli: Cli) -> None:
    ran = cli("--home", home, "alias", "run", "repeat hello 3 times tags=x,y")
    assert ran.code == 0, ran.err
    assert ran.out.startswith("Matching action-alias: 'talk.say'\n")
    assert "status: succeeded" in ran.out and "stdout: 'hello x3 #x #y'" in ran.out
    assert ran.out.endswith("chat result: hello x3 #x #y\n")  # the alias's result format
    as_json = json.loads(cli("--home", home, "alias", "run", "talk hi", "--json").out)
    assert as_json["parameters"] == {"message": "hi"}
    assert as_json["context"]["action_alias_ref"]["name"] == "say"
    assert as_json["context"]["source_channel"] == "cli"
    assert as_json["result"]["stdout"] == "hi x1"


def test_run_a_match_multiple_alias_and_async(home: Path, cli: Cli) -> None:
    several = json.loads(cli("--home", home, "alias", "run", "close A-1 close B-2", "--json").out)
    assert [e["result"]["stdout"] for e in several] == ["closed A-1", "closed B-2"]
    queued = cli("--home", home, "alias", "run", "talk later", "--async")
    assert queued.code == 0 and "Queued execution" in queued.out
    refused = cli("--home", home, "alias", "run", "dance")
    assert refused.code == 2 and "matched no patterns" in refused.err
