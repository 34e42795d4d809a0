"""The official ``st2`` CLI (``st2client`` from PyPI, in a venv of its own) against the served
app: ``st2 action-alias list|get|match|execute`` with the ``talk`` fixture pack's aliases.
Skipped, saying why, when pip cannot install st2client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.api.conftest import St2, st2_logged_in
from tests.api.test_aliases_api import client, finished  # noqa: F401 - the served app fixture
from tests.api.test_reactor_api import Api

pytestmark = pytest.mark.slow


@pytest.fixture
def st2(st2_bin: Path, client: Api, tmp_path: Path) -> St2:  # noqa: F811
    return st2_logged_in(st2_bin, str(client.base_url), client.settings, tmp_path)


def test_st2_action_alias_list_and_get(st2: St2) -> None:
    listed = {a["ref"]: a for a in json.loads(st2("action-alias", "list", "-j"))}
    assert {"talk.say", "talk.deploy", "talk.shout", "examples.greet"} <= set(listed)
    assert listed["talk.shout"]["enabled"] is False
    table = st2("action-alias", "list", "--pack", "talk")
    assert "talk.deploy" in table and "Deploy an application" in table
    assert "examples.greet" not in table
    got = json.loads(st2("action-alias", "get", "talk.say", "-j"))
    assert got["action_ref"] == "talk.say"
    assert got["formats"][0] == "talk {{ message }}"


def test_st2_action_alias_match(st2: St2) -> None:
    table = st2("action-alias", "match", "ship web to prod!")
    assert "deploy" in table and "Deploy an application; who asked is recorded." in table
    [matched] = json.loads(st2("action-alias", "match", "repeat hi 3 times", "-j"))
    assert matched == {"name": "say", "description": "Say something, once or several times."}
    [every] = json.loads(st2("action-alias", "match", "greet Ada", "-a", "all", "-j"))
    assert every["ref"] == "examples.greet" and every["action_ref"] == "examples.greet"


def test_st2_action_alias_execute(st2: St2, client: Api) -> None:  # noqa: F811
    out = st2("action-alias", "execute", "repeat hello 2 times tags=a")
    assert "Matching Action-alias: 'talk.say'" in out
    execution_id = out.split("st2 execution get ")[1].split()[0]
    done = finished(client, execution_id)
    assert done["status"] == "succeeded"
    assert done["parameters"] == {"message": "hello", "times": 2, "tags": ["a"]}
    alias_id = json.loads(st2("action-alias", "get", "talk.say", "-j"))["id"]
    assert done["context"]["action_alias_ref"] == {"id": alias_id, "name": "say"}
    assert done["context"]["source_channel"] == "cli"
    shown = json.loads(st2("execution", "get", execution_id, "-j"))
    assert shown["result"]["stdout"] == "hello x2 #a"
