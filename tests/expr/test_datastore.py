"""The ``st2kv`` object: lazy, cached lookups; dotted and user-scoped keys; decrypt_kv."""

from __future__ import annotations

from collections import Counter

import pytest

from packhorse.errors import ExpressionError
from packhorse.expr import (
    Datastore,
    render_criteria_pattern,
    render_param_template,
    render_template,
    render_value,
)


class FakeStore:
    """A datastore that counts every lookup."""

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self.values = values
        self.calls: Counter[tuple[str, str]] = Counter()

    def __call__(self, scope: str, name: str) -> str | None:
        self.calls[(scope, name)] += 1
        return self.values.get((scope, name))


def decrypt(ciphertext: str) -> str:
    if not ciphertext.startswith("enc:"):
        raise ValueError("not a ciphertext")
    return ciphertext.removeprefix("enc:")


VALUES = {
    ("system", "foo"): "bar",
    ("system", "a.b"): "nested",
    ("system", "a"): "top",
    ("system", "my-key"): "dashed",
    ("system", "count"): "42",
    ("system", "ratio"): "2.5",
    ("system", "doc"): '{"k": [1, 2]}',
    ("system", "yaml_doc"): "- a\n- b\n",
    ("system", "version"): "1.2.3",
    ("system", "secret"): "enc:s3cret",
    ("system", "empty"): "",
    ("system", "decrypted"): "a key, not a method",
    ("system", "key_name"): "a key, not a property",
    ("user", "stanley:foo"): "stanley's",
    ("user", "stanley:a.b"): "stanley's nested",
    ("user", "stanley:secret"): "enc:user secret",
}


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(dict(VALUES))


def render(store: FakeStore, text: str, *, user: str | None = "stanley") -> str:
    return render_template(text, {"st2kv": Datastore(store, user=user, decrypt=decrypt)})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ st2kv.system.foo }}", "bar"),
        ("{{ st2kv.system.a.b }}", "nested"),
        ("{{ st2kv.system.a }}", "top"),
        ("{{ st2kv.system['my-key'] }}", "dashed"),
        ("{{ st2kv.system['a']['b'] }}", "nested"),
        ("{{ st2kv.system.missing }}", ""),
        ("[{{ st2kv.system.missing.deeper }}]", "[]"),
        ("{{ st2kv.user.foo }}", "stanley's"),
        ("{{ st2kv.user.a.b }}", "stanley's nested"),
        ("{{ st2kv.user.missing }}", ""),
        ("{{ st2kv.system.count | int + 1 }}", "43"),
        ("{{ st2kv.system.ratio | float * 2 }}", "5.0"),
        ("{{ st2kv.system.doc | from_json_string }}", "{'k': [1, 2]}"),
        ("{{ (st2kv.system.doc | from_json_string).k[1] }}", "2"),
        ("{{ st2kv.system.yaml_doc | from_yaml_string }}", "['a', 'b']"),
        ("{{ st2kv.system.foo | to_json_string }}", '"bar"'),
        ("{{ st2kv.system.foo | to_complex }}", '"bar"'),
        ("{{ st2kv.system.foo | to_yaml_string }}", "bar\n"),
        ("{{ st2kv.system.foo | upper }}", "BAR"),
        ("{{ st2kv.system.foo | regex_match('b') }}", "True"),
        ("{{ st2kv.system.version | version_bump_minor }}", "1.3.0"),
        ("{{ st2kv.system.foo ~ '!' }}", "bar!"),
        ("{{ st2kv.system.foo == 'bar' }}", "True"),  # always False in StackStorm
        ("{{ 'yes' if st2kv.system.missing else 'no' }}", "no"),  # 'yes' in StackStorm
        ("{{ st2kv.system.foo | default('d') }}", "bar"),
        ("{{ st2kv.system.secret | decrypt_kv }}", "s3cret"),
        ("{{ st2kv.user.secret | decrypt_kv }}", "user secret"),
        ("{{ 'enc:plain' | decrypt_kv }}", "plain"),
        ("{{ st2kv.system.decrypted }}", "a key, not a method"),
        ("{{ st2kv.system.key_name }}", "a key, not a property"),
    ],
)
def test_lookups(store: FakeStore, template: str, expected: str) -> None:
    assert render(store, template) == expected


def test_only_referenced_keys_are_looked_up_once(store: FakeStore) -> None:
    datastore = Datastore(store, user="stanley")
    context = {"st2kv": datastore, "trigger": {"x": 1}}
    assert render_template("{{ trigger.x }}", context) == "1"
    assert not store.calls  # a template without st2kv costs nothing

    text = "{{ st2kv.system.a.b }} {{ st2kv.system.a.b }} {{ st2kv.system.foo | upper }}"
    assert render_template(text, context) == "nested nested BAR"
    # Only the keys whose values are used: not the prefix "a" (StackStorm fetches it too).
    assert store.calls == Counter({("system", "a.b"): 1, ("system", "foo"): 1})

    render_template("{{ st2kv.system.foo }}", context)
    assert store.calls[("system", "foo")] == 1  # cached for the life of the Datastore


def test_a_new_datastore_looks_up_again(store: FakeStore) -> None:
    render(store, "{{ st2kv.system.foo }}")
    render(store, "{{ st2kv.system.foo }}")
    assert store.calls[("system", "foo")] == 2


def test_user_scope_needs_a_user(store: FakeStore) -> None:
    assert render(store, "{{ st2kv.system.foo }}", user=None) == "bar"
    with pytest.raises(ExpressionError, match="UndefinedError"):
        render(store, "{{ st2kv.user.foo }}", user=None)


def test_decrypt_kv_of_a_missing_key(store: FakeStore) -> None:
    for scope in ("system", "user"):
        with pytest.raises(ExpressionError) as raised:
            render(store, f"{{{{ st2kv.{scope}.nope | decrypt_kv }}}}")
        assert raised.value.reason == (
            f'ValueError: Referenced datastore item "st2kv.{scope}.nope" doesn\'t exist or '
            "it contains an empty string"
        )
    with pytest.raises(ExpressionError, match="empty string"):
        render(store, "{{ st2kv.system.empty | decrypt_kv }}")


def test_decrypt_kv_without_a_key_or_a_datastore(store: FakeStore) -> None:
    context = {"st2kv": Datastore(store)}
    with pytest.raises(ExpressionError, match="no datastore encryption key"):
        render_template("{{ st2kv.system.secret | decrypt_kv }}", context)
    with pytest.raises(ExpressionError, match="no datastore in the context"):
        render_template("{{ 'enc:x' | decrypt_kv }}", {})
    with pytest.raises(ExpressionError, match="ValueError: not a ciphertext"):
        render(store, "{{ st2kv.system.foo | decrypt_kv }}")


def test_lookups_are_strings_in_every_rendering(store: FakeStore) -> None:
    context = {"st2kv": Datastore(store)}
    assert render_value("{{ st2kv.system.count }}", context) == "42"
    assert type(render_value("{{ st2kv.system.count }}", context)) is str
    assert render_value("{{ st2kv.system.count | int }}", context) == 42
    assert render_param_template("{{ st2kv.system.count }}", context) == "42"
    # StackStorm fails here: "Object of type KeyValueLookup is not JSON serializable".
    assert render_criteria_pattern("{{ st2kv.system.count }}", context) == "42"


def test_private_names_are_not_keys(store: FakeStore) -> None:
    lookup = Datastore(store).system
    with pytest.raises(AttributeError):
        _ = lookup._secret
    with pytest.raises(ExpressionError, match="SecurityError"):
        render(store, "{{ st2kv.system._source }}")
    assert repr(lookup.foo) == "<st2kv.system.foo>"  # never the value
    assert not store.calls
