"""The official ``st2`` CLI (``st2client`` from PyPI, in a venv of its own) against the served
app: ``st2 key set|get|list|delete``, ``st2 rule list|get|disable|enable``, ``st2 trigger
list``. Skipped, saying why, when pip cannot install st2client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.api.conftest import St2, st2_logged_in
from tests.api.test_reactor_api import Api, client  # noqa: F401 - the served app fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def st2(st2_bin: Path, client: Api, tmp_path: Path) -> St2:  # noqa: F811
    return st2_logged_in(st2_bin, str(client.base_url), client.settings, tmp_path)


def test_st2_key_commands(st2: St2, client: Api) -> None:  # noqa: F811
    st2("key", "set", "greeting", "hello")
    st2("key", "set", "password", "hush", "--encrypt")
    assert json.loads(st2("key", "get", "greeting", "-j"))["value"] == "hello"
    masked = json.loads(st2("key", "get", "password", "-j"))
    assert masked["value"] == "********" and masked["encrypted"] is True
    assert json.loads(st2("key", "get", "password", "--decrypt", "-j"))["value"] == "hush"
    listed = {k["name"]: k["value"] for k in json.loads(st2("key", "list", "-j"))}
    assert listed == {"greeting": "hello", "password": "********"}
    assert client.runtime.datastore.get_value("greeting").value == "hello"
    assert "successfully deleted" in st2("key", "delete", "greeting")
    assert [k["name"] for k in json.loads(st2("key", "list", "-j"))] == ["password"]


def test_st2_rule_and_trigger_commands(st2: St2) -> None:
    rules = {r["ref"]: r for r in json.loads(st2("rule", "list", "-j"))}
    assert rules["examples.page_on_critical_alert"]["enabled"] is True
    assert rules["examples.greet_every_minute"]["enabled"] is False
    rule = json.loads(st2("rule", "get", "examples.page_on_critical_alert", "-j"))
    assert rule["trigger"]["type"] == "examples.service_alert"
    assert rule["action"]["ref"] == "core.echo"
    disabled = json.loads(st2("rule", "disable", "examples.page_on_critical_alert", "-j"))
    assert disabled["enabled"] is False
    again = json.loads(st2("rule", "get", "examples.page_on_critical_alert", "-j"))
    assert again["enabled"] is False
    assert json.loads(st2("rule", "enable", "examples.page_on_critical_alert", "-j"))["enabled"]
    types = {t["ref"] for t in json.loads(st2("trigger", "list", "-j"))}
    assert {"examples.service_alert", "core.st2.webhook"} <= types
