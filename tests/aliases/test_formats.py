"""Alias format strings against commands, table-driven: (format, command, parameters).

The table follows StackStorm's alias grammar (``action_alias_utils``): checked case by case
against the behaviour its own parser tests describe. ``NO_MATCH`` means ``ParseError``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packhorse.aliases.formats import (
    FormatError,
    ParseError,
    Representation,
    compile_format,
    extract_all,
    extract_parameters,
    matches,
    representations,
)

NO_MATCH = "no match"

TABLE: list[tuple[str, str, Any]] = [
    # plain placeholders: the shortest text that lets the rest match
    ("greet {{ name }}", "greet ada", {"name": "ada"}),
    ("greet {{name}}", "greet Ada Lovelace", {"name": "Ada Lovelace"}),
    ("copy {{ a }} to {{ b }} now.", "copy x to y now.", {"a": "x", "b": "y"}),
    ("copy {{ a }} to {{ b }}", "  copy x to y  ", {"a": "x", "b": "y"}),
    # quoted values lose their quotes; {...} blocks are kept as written
    ("greet {{ name }} now", 'greet "Ada L" now', {"name": "Ada L"}),
    ("greet {{ name }} now", "greet 'Ada L' now", {"name": "Ada L"}),
    ("set {{ data }} ok", 'set {"a": 1, "b": [2]} ok', {"data": '{"a": 1, "b": [2]}'}),
    # defaults: absent, given, quoted, a template kept as text, the space goes with it
    ("acl {{ a = test }}", "acl", {"a": "test"}),
    ("acl {{ a = test }}", "acl other", {"a": "other"}),
    ("acl {{a=1}} {{b=2}}", "acl 5", {"a": "5", "b": "2"}),
    ("run {{ cmd }} {{ host = 'local host' }}", "run ls", {"cmd": "ls", "host": "local host"}),
    ('x {{ v = "" }}', "x", {"v": ""}),
    ("x {{ v = {'a': 1} }}", "x", {"v": "{'a': 1}"}),
    ("colour {{ c = {{ st2kv.system.c }} }}", "colour", {"c": "{{ st2kv.system.c }}"}),
    ("a {{ d = 1 }} b {{ e = 2 }}.", "a b.", {"d": "1", "e": "2"}),
    ("a {{ d = 1 }} b {{ e = 2 }}", "a 7 b", {"d": "7", "e": "2"}),
    ("say hello to {{ name }} {{ remember = false }}", "say hello to ada", None),
    # regular expressions in the format, with groups of their own
    ("(run|execute) {{ cmd }}( on {{ hosts = localhost }})?[!.]?", "run date", None),
    (
        "(run|execute) {{ cmd }}( on {{ hosts = localhost }})?[!.]?",
        "execute uname -a on web1!",
        {"cmd": "uname -a", "hosts": "web1"},
    ),
    (r"issue (?P<key>[A-Z]+-\d+)", "issue ABC-12", {"key": "ABC-12"}),
    (r"issue (?P<key>[A-Z]+-\d+)", "issue abc-12", NO_MATCH),
    (r"issue(?P<note> .+)?", "issue", {"note": None}),
    # anchors: a side without one of its own is anchored to the whole command
    (r"^\s*foo (?P<k>[A-Z]+-[0-9]+)", "foo AB-1", {"k": "AB-1"}),
    (r"^\s*foo (?P<k>[A-Z]+-[0-9]+)", "foo AB-1 trailing", NO_MATCH),
    (r"^\s*foo (?P<k>[A-Z]+-[0-9]+)", "bar foo AB-1", NO_MATCH),
    (r"foo (?P<k>[A-Z]+-[0-9]+)\s*$", "foo AB-1", {"k": "AB-1"}),
    (r"foo (?P<k>[A-Z]+-[0-9]+)\s*$", "foo AB-1 bar", NO_MATCH),
    (r"(?:^|\b)foo (?P<k>[A-Z]+-[0-9]+)(?:\b|$)", "so foo AB-1 then", {"k": "AB-1"}),
    (r"foo [$^]", "foo $", {}),  # in a character class they are no anchors
    ("status", "status please", NO_MATCH),
    ("status [^x]+", "status ok", {}),
    # trailing key=value pairs: any number, quoted, {...}; they win over captured values
    ("deploy {{ app }}", "deploy shop env=prod", {"app": "shop", "env": "prod"}),
    (
        "deploy {{ app }}",
        'deploy shop a=1 b="two words" c=\'x y\' d={"k": [1]}',
        {"app": "shop", "a": "1", "b": "two words", "c": "x y", "d": '{"k": [1]}'},
    ),
    ("deploy {{ app = web }}", "deploy app=api", {"app": "api"}),
    ("", "a=1 b=2", {"a": "1", "b": "2"}),
    ("", "", {}),
    ("status", "status verbose=true", {"verbose": "true"}),
    # pairs are cut off first, so a command made only of pairs leaves nothing to capture
    ("say {{ text }}", "say x=1", NO_MATCH),
    # pairs only count at the very end
    ("say {{ text }}", "say a=1 then more", {"text": "a=1 then more"}),
    # no match
    ("foo bar ponies", "foo lulz ponies", NO_MATCH),
    ("greet {{ name }}", "greet", NO_MATCH),
    ("greet {{ name }}", "", NO_MATCH),
]


@pytest.mark.parametrize(("format_text", "command", "expected"), TABLE)
def test_format_table(format_text: str, command: str, expected: Any) -> None:
    assert matches(format_text, command) is (expected != NO_MATCH)
    if expected == NO_MATCH:
        with pytest.raises(ParseError) as raised:
            extract_parameters(format_text, command)
        assert str(raised.value) == (
            f'Command "{command}" doesn\'t match format string "{format_text}"'
        )
        return
    found = extract_parameters(format_text, command)
    if expected is not None:
        assert found == expected


def test_optional_parts_take_their_defaults() -> None:
    found = extract_parameters("say hello to {{ name }} {{ remember = false }}", "say hello to a")
    assert found == {"name": "a", "remember": "false"}
    found = extract_parameters("say hello to {{ name }} {{ remember = false }}", "say hello to a b")
    assert found == {"name": "a", "remember": "b"}
    found = extract_parameters("(run|execute) {{ cmd }}( on {{ hosts = localhost }})?", "run date")
    assert found == {"cmd": "date", "hosts": "localhost"}


def test_a_format_that_is_no_regular_expression_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="not a valid regular expression"):
        compile_format("broken (")
    with pytest.raises(FormatError):
        extract_parameters("{{ a }} {{ a }}", "x y")  # a group name twice


def test_match_multiple_gives_every_match() -> None:
    text = r"(?:\b|^)close (?P<ticket>[A-Z]+-[0-9]+)(?:\b|$)"
    found = extract_all(text, "close AB-1, close CD-2 and close EF-3 x=y")
    assert found == [
        {"ticket": "AB-1", "x": "y"},
        {"ticket": "CD-2", "x": "y"},
        {"ticket": "EF-3", "x": "y"},
    ]
    with pytest.raises(ParseError):
        extract_all(text, "nothing to close")


def test_representations_of_string_and_mapping_entries() -> None:
    formats = [
        "greet {{ name }}",
        {"display": "say <x>", "representation": ["say {{ x }}", "tell {{ x }}"]},
        {"display": "just help"},
        {"display": "one", "representation": "single {{ y }}", "match_multiple": True},
        42,
    ]
    assert representations(formats) == [
        Representation("greet {{ name }}", "greet {{ name }}", 0),
        Representation("say {{ x }}", "say <x>", 1),
        Representation("tell {{ x }}", "say <x>", 1),
        Representation("single {{ y }}", "one", 3, match_multiple=True),
    ]
    assert representations(None) == []


WORDS = ["talk", "to", "x", "'a b'", '"c"', "{1}", "times", " ", "  ", "k=v", "!"]
PIECES = ["talk ", "to ", " times", "!", "{{ a }}", "{{ b = 2 }}", " {{ c }}", "x", ""]


@given(
    pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=5),
    words=st.lists(st.sampled_from(WORDS), max_size=8),
)
@settings(max_examples=400, deadline=None)
def test_the_quick_precheck_never_refuses_a_command_the_format_matches(
    pieces: list[str], words: list[str]
) -> None:
    format_text = "".join(pieces)
    try:
        compiled = compile_format(format_text)
    except FormatError:
        return  # a placeholder twice
    command = " ".join(words)
    if compiled.pattern.search(f" {command} ") is not None:
        assert compiled.could_match(command), (format_text, command)


def test_side_by_side_placeholders_fail_fast_on_a_long_command() -> None:
    started = time.perf_counter()
    for _ in range(20):
        with pytest.raises(ParseError):
            extract_parameters("{{ a }} {{ b }} {{ c }} {{ d }} end", "x " * 2000)
    assert time.perf_counter() - started < 1
