"""Enforcement: the action context of a rule, and the rendering of its action parameters."""

from __future__ import annotations

from typing import Any

from packhorse.params import render_parameters, schema_for_action
from packhorse.rules import (
    ParametersFailed,
    ParametersRendered,
    Rule,
    TriggerInstance,
    action_context,
    render_action_parameters,
    render_context,
)

RULE = Rule(
    ref="ops.restart_on_alert",
    pack="ops",
    name="restart_on_alert",
    trigger_type="ops.alert",
    action_ref="core.local",
    action_parameters={"cmd": "systemctl restart {{ trigger.service }}"},
    id="rule-7",
)
INSTANCE = TriggerInstance(
    "ti-9", "ops.alert", {"service": "nginx", "count": 3}, occurrence_time="2026-01-01T12:00:00Z"
)
DATASTORE = {
    ("system", "prefix"): "[ops]",
    ("user", "stanley:token"): "user-token",
    ("system", "secret"): "hunter2",
}


def _lookup(scope: str, name: str) -> str | None:
    return DATASTORE.get((scope, name))


def _with(**parameters: Any) -> Rule:
    return Rule(
        ref=RULE.ref,
        pack=RULE.pack,
        name=RULE.name,
        trigger_type=RULE.trigger_type,
        action_ref=RULE.action_ref,
        action_parameters=parameters,
        id=RULE.id,
    )


def test_action_context_has_stackstorm_s_keys_and_the_action_s_pack() -> None:
    assert action_context(RULE, INSTANCE, user="stanley") == {
        "trigger_instance": {
            "id": "ti-9",
            "name": None,
            "occurrence_time": "2026-01-01T12:00:00Z",
        },
        "rule": {
            "id": "rule-7",
            "name": "restart_on_alert",
            "ref": "ops.restart_on_alert",
            "pack": "ops",
        },
        "user": "stanley",
        "pack": "core",
    }


def test_parameters_render_over_trigger_datastore_context_and_config() -> None:
    rule = _with(
        cmd="systemctl restart {{ trigger.service }}",
        note="{{ st2kv.system.prefix }} {{ st2kv.user.token }} {{ action_context.rule.ref }}",
        region="{{ config_context.region }}",
        untouched=["{{ trigger.service }}", 5],
    )
    context = action_context(rule, INSTANCE, user="stanley")
    rendered = render_action_parameters(
        rule, INSTANCE.payload, context, _lookup, config={"region": "eu"}
    )
    assert rendered == ParametersRendered(
        {
            "cmd": "systemctl restart nginx",
            "note": "[ops] user-token ops.restart_on_alert",
            "region": "eu",
            "untouched": ["nginx", 5],
        }
    )
    assert rule.action_parameters["cmd"] == "systemctl restart {{ trigger.service }}"


def test_a_failure_names_the_parameter() -> None:
    rule = _with(ok="fine", cmd="echo {{ trigger.missing }}")
    rendered = render_action_parameters(
        rule, INSTANCE.payload, action_context(rule, INSTANCE, user="stanley"), _lookup
    )
    assert isinstance(rendered, ParametersFailed)
    assert rendered.parameter == "cmd"
    assert rendered.message == (
        "Failed to render parameter \"cmd\": UndefinedError: 'dict object' has no attribute "
        "'missing'"
    )


def test_payload_text_is_never_rendered_a_second_time() -> None:
    payload = {"service": "{{ st2kv.system.secret }}"}
    rule = _with(cmd="echo {{ trigger.service }}")
    context = action_context(rule, INSTANCE, user="stanley")
    rendered = render_action_parameters(rule, payload, context, _lookup)
    assert rendered == ParametersRendered({"cmd": "echo {{ st2kv.system.secret }}"})


LOCAL_ACTION = {
    "runner_type": "local-shell-cmd",
    "parameters": {
        "cmd": {"type": "string"},
        "count": {"type": "integer"},
        "summary": {"type": "string", "default": "{{ count }} restarts of {{ trigger.service }}"},
    },
}


def test_render_context_feeds_the_parameter_pipeline_in_one_rendering() -> None:
    rule = _with(cmd="echo {{ trigger.service }}", count="{{ trigger.count }}")
    schema, runner_names = schema_for_action(LOCAL_ACTION)
    context = action_context(rule, INSTANCE, user="stanley")
    result = render_parameters(
        schema,
        runner_names,
        rule.action_parameters,
        context=render_context(INSTANCE.payload, context, _lookup),
    )
    assert result.runner["cmd"] == "echo nginx"
    assert result.action["count"] == 3  # cast by the action's schema
    assert result.action["summary"] == "3 restarts of nginx"  # defaults see the trigger too


def test_through_the_pipeline_payload_text_is_not_rendered_again_either() -> None:
    rule = _with(cmd="echo {{ trigger.service }}", count=1)
    schema, runner_names = schema_for_action(LOCAL_ACTION)
    payload = {"service": "{{ st2kv.system.secret }}"}
    context = action_context(rule, INSTANCE, user="stanley")
    result = render_parameters(
        schema,
        runner_names,
        rule.action_parameters,
        context=render_context(payload, context, _lookup),
    )
    assert result.runner["cmd"] == "echo {{ st2kv.system.secret }}"


def test_the_api_user_wins_over_the_user_for_st2kv_user() -> None:
    variables = render_context({}, {"user": "stanley", "api_user": "alice"}, _lookup).variables()
    assert str(variables["st2kv"].user.token) == ""  # alice has no token
    variables = render_context({}, {"user": "stanley"}, _lookup).variables()
    assert str(variables["st2kv"].user.token) == "user-token"
