"""Run-time resolution of pack configs (StackStorm's ContentPackConfigLoader), masking."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from packhorse.errors import ExpressionError
from packhorse.expr import Datastore
from packhorse.params.config import MASK, mask_config, resolve_config, secret_paths

STORE = {
    ("system", "k0"): "v0",
    ("system", "k1"): "v1",
    ("system", "k2"): "v2",
    ("system", "enc"): "enc:plain text",
    ("system", "enc2"): "enc:second",
    ("system", "empty"): "",
    ("system", "not_encrypted"): "just text",
    ("user", "joe:api_key"): "joe's key",
    ("user", "joe:token"): "enc:joe's token",
}


def decrypt(ciphertext: str) -> str:
    if not ciphertext.startswith("enc:"):
        raise ValueError("invalid ciphertext")
    return ciphertext.removeprefix("enc:")


def lookup(scope: str, name: str) -> str | None:
    return STORE.get((scope, name))


def resolve(values: dict[str, Any], schema: dict[str, Any], **options: Any) -> dict[str, Any]:
    datastore = Datastore(lookup, user="joe", decrypt=decrypt)
    return resolve_config(values, schema, datastore=datastore, decrypt=decrypt, **options)


PROFILE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "host": {"type": "string", "default": "127.0.0.3"},
        "port": {"type": "integer", "default": 8080},
        "token": {"type": "string", "required": True, "secret": True},
    },
}


@dataclass(frozen=True)
class Case:
    id: str
    values: dict[str, Any]
    expected: dict[str, Any]
    schema: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("static values pass through", {"a": 1, "b": ["x"]}, {"a": 1, "b": ["x"]}),
    Case("system key", {"k": "{{st2kv.system.k1}}"}, {"k": "v1"}),
    Case("user key of the bound user", {"k": "{{ st2kv.user.api_key }}"}, {"k": "joe's key"}),
    Case("text around an expression", {"k": "a-{{ st2kv.system.k0 }}-b"}, {"k": "a-v0-b"}),
    Case("a block", {"k": "{% if true %}yes{% endif %}"}, {"k": "yes"}),
    Case("a missing key is None", {"k": "{{ st2kv.system.nope }}"}, {"k": None}),
    Case("an empty value is None", {"k": "{{ st2kv.system.empty }}"}, {"k": None}),
    Case(
        "secret items are decrypted",
        {"t": "{{ st2kv.system.enc }}", "u": "{{ st2kv.user.token }}"},
        {"t": "plain text", "u": "joe's token"},
        {"t": {"type": "string", "secret": True}, "u": {"type": "string", "secret": True}},
    ),
    Case(
        "decrypt_kv decrypts without a secret schema",
        {"t": "{{ st2kv.system.enc | decrypt_kv }}"},
        {"t": "plain text"},
    ),
    Case(
        "a static secret is not decrypted",
        {"t": "hard-coded"},
        {"t": "hard-coded"},
        {"t": {"type": "string", "secret": True}},
    ),
    Case(
        "nested objects and lists",
        {
            "a": {"b": "{{ st2kv.system.k1 }}", "c": {"d": "{{ st2kv.system.k2 }}"}},
            "l": [
                "a",
                "{{ st2kv.system.k0 }}",
                ["{{ st2kv.system.k1 }}"],
                {"e": "{{st2kv.system.k2}}"},
            ],
        },
        {"a": {"b": "v1", "c": {"d": "v2"}}, "l": ["a", "v0", ["v1"], {"e": "v2"}]},
    ),
    Case(
        "top-level defaults, falsy ones too",
        {},
        {"a": False, "b": None, "c": {}, "d": "", "e": 0, "f": {"g": False, "h": 0}},
        {
            "a": {"default": False},
            "b": {"default": None},
            "c": {"type": "object", "default": {}},
            "d": {"default": ""},
            "e": {"default": 0},
            "f": {
                "type": "object",
                "properties": {"g": {"default": False}, "h": {"default": 0}},
            },
        },
    ),
    Case(
        "falsy values win over defaults",
        {"a": 0, "b": "", "c": None, "f": {"g": True}},
        {"a": 0, "b": "", "c": None, "f": {"g": True, "h": 0}},
        {
            "a": {"default": 5},
            "b": {"default": "x"},
            "c": {"default": "y"},
            "f": {
                "type": "object",
                "properties": {"g": {"default": False}, "h": {"default": 0}},
            },
        },
    ),
    Case(
        "absent objects and arrays with nested schemas are created",
        {},
        {"o": {"x": {}}, "a": [], "extra": {}},
        {
            "o": {
                "type": "object",
                "properties": {"x": {"type": "object", "properties": {"y": {"type": "string"}}}},
            },
            "a": {"type": "array", "items": {"type": "string"}},
            "extra": {"type": "object", "additionalProperties": True},
            "plain": {"type": "object"},
            "closed": {"type": "object", "additionalProperties": False},
        },
    ),
    Case(
        "a null object with a nested schema becomes an empty one",
        {"auth": None},
        {"auth": {"host": "127.0.0.3", "port": 8080}},
        {"auth": PROFILE},
    ),
    Case(
        "additionalProperties: defaults and secrets of each profile",
        {
            "profiles": {
                "dev": {"token": "hard"},
                "prod": {"port": 1, "token": "{{st2kv.system.enc}}"},
            }
        },
        {
            "region": "us-east-1",
            "profiles": {
                "dev": {"host": "127.0.0.3", "port": 8080, "token": "hard"},
                "prod": {"host": "127.0.0.3", "port": 1, "token": "plain text"},
            },
        },
        {
            "region": {"type": "string", "default": "us-east-1"},
            "profiles": {"type": "object", "additionalProperties": PROFILE},
        },
    ),
    Case(
        "properties, then patternProperties, then additionalProperties",
        {
            "p": {
                "foo": {"token": "{{ st2kv.system.enc }}"},
                "env-dev": {"token": "{{ st2kv.system.enc2 }}"},
                "other": {"token": "{{ st2kv.system.not_encrypted }}"},
            }
        },
        {
            "p": {
                "foo": {"token": "plain text"},
                "env-dev": {"token": "second", "port": 8080},
                "other": {"token": "just text", "port": 1234},
            }
        },
        {
            "p": {
                "type": "object",
                "properties": {
                    "foo": {
                        "type": "object",
                        "properties": {"token": {"type": "string", "secret": True}},
                    }
                },
                "patternProperties": {
                    "^env-\\w+$": {
                        "type": "object",
                        "properties": {
                            "token": {"type": "string", "secret": True},
                            "port": {"type": "integer", "default": 8080},
                        },
                    },
                    "^nothing$": {"type": "string"},
                },
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "token": {"type": "string"},
                        "port": {"type": "integer", "default": 1234},
                    },
                },
            }
        },
    ),
    Case(
        "patterns matching one key merge shallowly, the last one's keywords winning",
        {"p": {"ab": {}}},
        {"p": {"ab": {"y": 2}}},
        {
            "p": {
                "type": "object",
                "patternProperties": {
                    "^a": {"type": "object", "properties": {"x": {"default": 1}}},
                    "b$": {"type": "object", "properties": {"y": {"default": 2}}},
                },
            }
        },
    ),
    Case(
        "additionalItems after positional items",
        {
            "profiles": [{"token": "hard"}, {"port": 2, "token": "{{ st2kv.system.enc }}"}],
            "free": [5, "s", {"token": "{{ st2kv.system.enc | decrypt_kv }}"}],
        },
        {
            "profiles": [
                {"host": "127.0.0.3", "port": 8080, "token": "hard"},
                {"host": "127.0.0.3", "port": 2, "token": "plain text"},
            ],
            "free": [5, "s", {"token": "plain text"}],
        },
        {
            "profiles": {"type": "array", "additionalItems": PROFILE},
            "free": {"type": "array", "additionalItems": True},
        },
    ),
    Case(
        "positional items: defaults only for items present",
        {"l": [None, {}]},
        {"l": [None, {"b": 2}]},
        {
            "l": {
                "type": "array",
                "items": [
                    {"type": "string", "default": "a"},
                    {"type": "object", "properties": {"b": {"default": 2}}},
                    {"type": "string", "default": "never appended"},
                ],
            }
        },
    ),
    Case(
        "a value of the wrong type is left alone",
        {"o": "{{ st2kv.system.k1 }}", "a": "text"},
        {"o": "v1", "a": "text"},
        {
            "o": {"type": "object", "properties": {"x": {"default": 1}}},
            "a": {"type": "array", "items": {"type": "string"}},
        },
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_resolve(case: Case) -> None:
    values = copy.deepcopy(case.values)
    assert resolve(values, case.schema) == case.expected
    assert values == case.values  # not changed in place


ERRORS = [
    ("level0_key", {"level0_key": "{{st2kvXX.invalid}}"}, {}, "'st2kvXX' is undefined"),
    (
        "level0_object.level1_object.level2_key",
        {"level0_object": {"level1_object": {"level2_key": "{{st2kvXX.invalid}}"}}},
        {},
        "UndefinedError",
    ),
    ("level0_object.1", {"level0_object": ["abc", "{{st2kvXX.invalid}}"]}, {}, "undefined"),
    (
        "level0_object.0.level2_key",
        {"level0_object": [{"level2_key": "{{st2kvXX.invalid}}"}]},
        {},
        "undefined",
    ),
    (
        "level0_key",
        {"level0_key": "{{ this is some invalid Jinja }}"},
        {},
        "TemplateSyntaxError",
    ),
    (
        "token",
        {"token": "{{ st2kv.system.not_encrypted }}"},
        {"token": {"type": "string", "secret": True}},
        "ValueError: invalid ciphertext",
    ),
    (
        "token",
        {"token": "{{ st2kv.system.enc | decrypt_kv }}"},
        {"token": {"type": "string", "secret": True}},
        "invalid ciphertext",  # decrypted twice
    ),
]


@pytest.mark.parametrize(("key", "values", "schema", "reason"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_config_key(
    key: str, values: dict[str, Any], schema: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ExpressionError) as raised:
        resolve(values, schema)
    assert raised.value.message.startswith(f'config key "{key}": ')
    assert reason in raised.value.message
    assert str(raised.value) == raised.value.message


def test_a_secret_needs_the_decrypt_function() -> None:
    datastore = Datastore(lookup, user="joe")
    with pytest.raises(ExpressionError, match=r'config key "t": .*datastore key'):
        resolve_config(
            {"t": "{{ st2kv.system.enc }}"},
            {"t": {"type": "string", "secret": True}},
            datastore=datastore,
            decrypt=None,
        )


def test_decryption_errors_never_show_the_value() -> None:
    def failing(ciphertext: str) -> str:
        raise ValueError("integrity check failed")

    datastore = Datastore(lookup, decrypt=failing)
    with pytest.raises(ExpressionError) as raised:
        resolve_config(
            {"t": "{{ st2kv.system.enc }}"},
            {"t": {"secret": True}},
            datastore=datastore,
            decrypt=failing,
        )
    assert "plain text" not in raised.value.message and "enc:" not in raised.value.message


def test_no_values_and_no_schema() -> None:
    assert resolve_config(None, None, datastore=Datastore(lookup), decrypt=None) == {}


SCHEMA = {
    "api_token": {"type": "string", "secret": True},
    "url": {"type": "string"},
    "auth": {
        "type": "object",
        "properties": {"password": {"type": "string", "secret": True}, "user": {}},
    },
    "hosts": {
        "type": "array",
        "items": {"type": "object", "properties": {"key": {"secret": True}}},
    },
    "profiles": {"type": "object", "additionalProperties": PROFILE},
    "keys": {"type": "object", "secret": True, "properties": {"a": {"secret": True}}},
}


def test_secret_paths() -> None:
    assert secret_paths(SCHEMA) == {
        "api_token",
        "auth.password",
        "hosts.*.key",
        "profiles.*.token",
        "keys",
    }
    assert secret_paths(None) == set()


def test_mask_config() -> None:
    values = {
        "api_token": "{{ st2kv.system.token }}",
        "url": "http://x",
        "auth": {"password": "p", "user": "u"},
        "hosts": [{"key": "k1", "name": "a"}, {"name": "b"}],
        "profiles": {"dev": {"token": "t", "host": "h"}},
        "keys": {"a": 1},
        "unknown": "shown",
    }
    original = copy.deepcopy(values)
    assert mask_config(values, SCHEMA) == {
        "api_token": MASK,
        "url": "http://x",
        "auth": {"password": MASK, "user": "u"},
        "hosts": [{"key": MASK, "name": "a"}, {"name": "b"}],
        "profiles": {"dev": {"token": MASK, "host": "h"}},
        "keys": MASK,
        "unknown": "shown",
    }
    assert values == original
    assert MASK == "********"
