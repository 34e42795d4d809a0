"""The pipeline over the real runner catalogue and the bundled core pack's actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import packhorse
from packhorse.errors import ParameterError
from packhorse.params import RenderContext, render_parameters, schema_for_action

ACTIONS = Path(packhorse.__file__).parent / "bundled_packs" / "core" / "actions"


def render(action: str, live: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    body = yaml.safe_load((ACTIONS / f"{action}.yaml").read_text(encoding="utf-8"))
    schema, runner_names = schema_for_action(body)
    rendered = render_parameters(
        schema, runner_names, live, context=RenderContext(action_context={"user": "stanley"})
    )
    return rendered.runner, rendered.action


def test_core_echo_renders_its_immutable_command() -> None:
    runner, action = render("echo", {"message": "hello world"})
    assert runner["cmd"] == 'echo "hello world"'
    assert runner["sudo"] is False
    assert runner["timeout"] == 60
    assert action == {"message": "hello world"}


def test_core_local_runs_the_given_command() -> None:
    runner, action = render("local", {"cmd": "ls -l", "timeout": "5", "env": '{"A": "1"}'})
    assert runner["cmd"] == "ls -l"
    assert runner["timeout"] == 5
    assert runner["env"] == {"A": "1"}
    assert runner["kwarg_op"] == "--"
    assert action == {}


def test_core_http_casts_and_checks_enums() -> None:
    runner, action = render("http", {"url": "https://example.org", "timeout": "2.5"})
    assert runner["url"] == "https://example.org"
    assert action["timeout"] == 2.5
    assert action["method"] is None
    with pytest.raises(ParameterError, match=r'Parameter "method": \'FETCH\' is not one of'):
        render("http", {"url": "https://example.org", "method": "FETCH"})


REFUSALS: list[Any] = [
    pytest.param("echo", {}, r"Required parameter\(s\) 'message'", id="echo needs a message"),
    pytest.param(
        "echo",
        {"message": "x", "cmd": "rm -rf /"},
        r"Override of immutable parameter\(s\) \['cmd'\]",
        id="echo's command is immutable",
    ),
    pytest.param(
        "local", {"cmd": "id", "sudo": True}, r"immutable parameter\(s\) \['sudo'\]", id="sudo"
    ),
    pytest.param("local", {}, r"Required parameter\(s\) 'cmd'", id="local needs a command"),
    pytest.param(
        "remote", {"cmd": "id"}, r"Required parameter\(s\) 'hosts'", id="remote needs hosts"
    ),
    pytest.param("http", {}, r"Required parameter\(s\) 'url'", id="http needs a url"),
    pytest.param(
        "local", {"cmd": "id", "timeout": "soon"}, r'"timeout" must be an integer', id="timeout"
    ),
]


@pytest.mark.parametrize(("action", "live", "error"), REFUSALS)
def test_refusals(action: str, live: dict[str, Any], error: str) -> None:
    with pytest.raises(ParameterError, match=error):
        render(action, live)
