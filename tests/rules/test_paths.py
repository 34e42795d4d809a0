"""Criteria keys: the plain walk agrees with jsonpath-ng, suffixes, the datastore root."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonpath_ng.parser import parse

from packhorse.rules.paths import compile_key, strip_suffix

NAMES = st.sampled_from(["a", "b", "tags", "X-Source", "app.version", "0"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(NAMES, children, max_size=3),
    max_leaves=12,
)
STEPS = st.lists(
    st.one_of(NAMES.map(lambda name: f"['{name}']"), st.integers(-3, 3).map(lambda i: f"[{i}]")),
    max_size=4,
)


@given(payload=JSON, steps=STEPS)
def test_the_plain_walk_finds_what_jsonpath_ng_finds(payload: Any, steps: list[str]) -> None:
    key = "trigger" + "".join(steps)
    path = compile_key(key)
    assert path.steps is not None  # names and indexes only: the fast walk
    matches = parse(key).find({"trigger": payload})
    expected = matches[0].value if matches else None
    assert path.find({"trigger": payload}, lambda name: None) == expected


@pytest.mark.parametrize(
    "key", ["trigger.items[*].name", "trigger..name", "trigger.items[0:2]", "trigger.*"]
)
def test_other_shapes_use_jsonpath_ng_and_take_the_first_match(key: str) -> None:
    path = compile_key(key)
    assert path.steps is None
    payload = {"items": [{"name": "a"}, {"name": "b"}]}
    found = path.find({"trigger": payload}, lambda name: None)
    first = parse(key).find({"trigger": payload})[0].value
    assert found == first


def test_the_suffix_is_stripped_before_parsing() -> None:
    assert strip_suffix("trigger.tags#1") == "trigger.tags"
    assert strip_suffix("trigger.tags#a#b") == "trigger.tags"
    assert compile_key("trigger.tags#1").text == "trigger.tags"
    assert compile_key("trigger.tags#1").find({"trigger": {"tags": [1]}}, lambda n: None) == [1]


def test_a_key_that_does_not_parse_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="JsonPath"):
        compile_key("trigger.body[")


def test_system_keys_read_the_datastore_by_dotted_name() -> None:
    seen: list[str] = []

    def datastore(name: str) -> str | None:
        seen.append(name)
        return {"a.b": "v"}.get(name)

    assert compile_key("system.a.b").find({}, datastore) == "v"
    assert compile_key("system['a.b']").find({}, datastore) == "v"
    assert compile_key("system.c").find({}, datastore) is None
    assert compile_key("system.a[0]").find({}, datastore) is None  # no index into a key
    assert seen == ["a.b", "a.b", "c"]
