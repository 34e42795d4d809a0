"""Choosing the alias for a command and the parameters of its executions (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from packhorse.aliases.matching import (
    MAX_COMMAND,
    AliasRefused,
    CommandNotMatched,
    alias_context,
    cast_parameters,
    execution_parameters,
    help_strings,
    match_command,
)
from packhorse.errors import ParameterError
from packhorse.model.content import Kind, Resource


def alias(name: str, *formats: Any, enabled: bool = True, **body: Any) -> Resource:
    document = {"name": name, "action_ref": f"chat.{name}", "formats": list(formats), **body}
    return Resource(Kind.ALIAS, f"chat.{name}", "chat", name, "aliases/x.yaml", document, enabled)


ALIASES = [
    alias(
        "greet", "greet {{ name = world }}", {"display": "hi <n>", "representation": ["hi {{ n }}"]}
    ),
    alias("deploy", "deploy {{ app }}", immutable_parameters={"by": "{{ api_user }}"}),
    alias("deploy_to", "deploy {{ app }} to {{ env }}"),
    alias("off", "switch off {{ x }}", enabled=False),
    alias(
        "close",
        {
            "display": "close",
            "representation": [r"(?:^|\b)close (?P<t>[A-Z]+-\d+)(?:\b|$)"],
            "match_multiple": True,
        },
    ),
    alias("bad", "broken ( {{ x }}"),
]


@pytest.mark.parametrize(
    ("command", "ref", "format_text", "display"),
    [
        ("greet", "chat.greet", "greet {{ name = world }}", "greet {{ name = world }}"),
        ("greet Ada", "chat.greet", "greet {{ name = world }}", "greet {{ name = world }}"),
        ("hi Ada", "chat.greet", "hi {{ n }}", "hi <n>"),
        ("deploy shop", "chat.deploy", "deploy {{ app }}", "deploy {{ app }}"),
        (
            "close AB-1 and close CD-2",
            "chat.close",
            r"(?:^|\b)close (?P<t>[A-Z]+-\d+)(?:\b|$)",
            "close",
        ),
    ],
)
def test_the_one_matching_format_wins(
    command: str, ref: str, format_text: str, display: str
) -> None:
    matched = match_command(ALIASES, command)
    assert (matched.alias.ref, matched.format, matched.display) == (ref, format_text, display)


def test_no_match_and_several_matches_are_errors_with_stackstorms_messages() -> None:
    with pytest.raises(CommandNotMatched) as none:
        match_command(ALIASES, "dance")
    assert none.value.message == "Command 'dance' matched no patterns"
    assert none.value.matches == ()
    with pytest.raises(CommandNotMatched) as several:
        match_command(ALIASES, "deploy shop to prod")
    assert several.value.message == "Command 'deploy shop to prod' matched more than 1 pattern"
    assert {m.alias.ref for m in several.value.matches} == {"chat.deploy", "chat.deploy_to"}


def test_disabled_aliases_and_broken_formats_never_match() -> None:
    with pytest.raises(CommandNotMatched):
        match_command(ALIASES, "switch off lights")
    with pytest.raises(CommandNotMatched):
        match_command(ALIASES, "broken ( x")


def test_two_formats_of_one_alias_matching_is_ambiguous_too() -> None:
    twice = alias("twice", "ping {{ host }}", "ping {{ host }}{{ n = 1 }}")
    with pytest.raises(CommandNotMatched, match="more than 1 pattern"):
        match_command([twice], "ping web")


def test_execution_parameters_add_pairs_defaults_and_immutable_parameters() -> None:
    greet, deploy, close = ALIASES[0], ALIASES[1], ALIASES[4]
    assert execution_parameters(greet, "greet {{ name = world }}", "greet") == [{"name": "world"}]
    assert execution_parameters(greet, "hi {{ n }}", "hi Ada mood=happy") == [
        {"n": "Ada", "mood": "happy"}
    ]
    assert execution_parameters(
        deploy, "deploy {{ app }}", "deploy shop", immutable={"by": "ada"}
    ) == [{"app": "shop", "by": "ada"}]
    # Without rendered values the immutable parameters go as written.
    assert execution_parameters(deploy, "deploy {{ app }}", "deploy shop") == [
        {"app": "shop", "by": "{{ api_user }}"}
    ]
    close_format = close.body["formats"][0]["representation"][0]
    runs = execution_parameters(close, close_format, "close A-1 close B-2", multiple=True)
    assert runs == [{"t": "A-1"}, {"t": "B-2"}]
    # Without multiple (StackStorm's POST /aliasexecution), the first match only.
    assert execution_parameters(close, close_format, "close A-1 close B-2") == [{"t": "A-1"}]


def test_unmatched_groups_are_left_out() -> None:
    note = alias("note", r"note(?P<text> .+)?")
    assert execution_parameters(note, r"note(?P<text> .+)?", "note") == [{}]


def test_execution_parameters_refusals() -> None:
    greet, deploy = ALIASES[0], ALIASES[1]
    with pytest.raises(
        AliasRefused, match='Format string "nope" is not available on the alias "greet"'
    ):
        execution_parameters(greet, "nope", "greet")
    with pytest.raises(AliasRefused, match="doesn't match format string"):
        execution_parameters(greet, "hi {{ n }}", "greet Ada")
    with pytest.raises(AliasRefused, match="Immutable arguments cannot be overriden: by"):
        execution_parameters(deploy, "deploy {{ app }}", "deploy shop by=mallory")


def test_cast_parameters_by_the_action_schema() -> None:
    schema = {
        "tags": {"type": "array"},
        "count": {"type": "integer"},
        "loud": {"type": "boolean"},
        "data": {"type": "object"},
        "free": {},
    }
    given = {
        "tags": "a, b,c",
        "count": "3",
        "loud": "true",
        "data": '{"k": 1}',
        "free": "x",
        "other": "y",
    }
    assert cast_parameters(given, schema) == {
        "tags": ["a", "b", "c"],
        "count": 3,
        "loud": True,
        "data": {"k": 1},
        "free": "x",
        "other": "y",
    }
    assert cast_parameters({"tags": ["kept"]}, schema) == {"tags": ["kept"]}
    with pytest.raises(ParameterError, match="count"):
        cast_parameters({"count": "many"}, schema)


def test_alias_context_is_stackstorms() -> None:
    context = alias_context(
        ALIASES[0], alias_id="a1", user="admin", api_user="ada", source_channel="ops"
    )
    assert context == {
        "action_alias_ref": {"id": "a1", "name": "greet"},
        "api_user": "ada",
        "user": "admin",
        "source_channel": "ops",
    }


def test_a_command_longer_than_the_limit_is_refused() -> None:
    long = "deploy " + "x" * MAX_COMMAND
    with pytest.raises(AliasRefused, match="at most 10000 are matched"):
        match_command(ALIASES, long)
    with pytest.raises(AliasRefused, match="at most 10000 are matched"):
        execution_parameters(ALIASES[1], "deploy {{ app }}", long)


def test_help_strings_are_the_displays_of_enabled_aliases() -> None:
    aliases = [
        alias("a", "greet {{ x }}", {"display": "hi <x>", "representation": ["hi {{ x }}"]}),
        alias("b", {"representation": ["no display {{ y }}"]}, description="B"),
        alias("c", "off {{ z }}", enabled=False),
    ]
    count, strings = help_strings(aliases)
    assert count == 2
    assert strings == [
        {"pack": "chat", "display": "greet {{ x }}", "description": ""},
        {"pack": "chat", "display": "hi <x>", "description": ""},
    ]
    assert help_strings(aliases, search="HI") == (1, [strings[1]])
    assert help_strings(aliases, limit=1, offset=1) == (2, [strings[1]])
    assert help_strings(aliases, pack="other") == (0, [])
    with pytest.raises(AliasRefused, match="not a valid regular expression"):
        help_strings(aliases, search="(")
