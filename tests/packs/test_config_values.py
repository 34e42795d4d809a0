"""Config values against config schemas: one case per PH61x code, defaults, dynamic values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from packhorse.model.content import Kind
from packhorse.model.diagnostics import Severity
from packhorse.packs.validate.codes import CODES
from packhorse.packs.validate.config_values import (
    apply_defaults,
    config_resource,
    validate_config,
    validate_config_text,
)
from packhorse.packs.validate.yamldoc import parse_yaml

PATH = "home/configs/demo.yaml"

SCHEMA = """\
api_url:
  type: string
  required: true
  default: "http://127.0.0.1:8080"
api_token:
  type: string
  secret: true
mode:
  type: string
  enum: [fast, safe]
retries:
  type: integer
  minimum: 0
  default: 3
auth:
  type: object
  additionalProperties: false
  properties:
    host: {type: string, default: localhost}
    port: {type: integer}
targets:
  type: array
  items:
    type: object
    properties:
      name: {type: string, required: true}
      port: {type: integer, default: 22}
"""


def schema_of(text: str = SCHEMA) -> dict[str, Any]:
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


@dataclass(frozen=True)
class Case:
    code: str
    config: str | None
    line: int
    field: str
    message: str
    schema: str = SCHEMA


CASES = [
    Case("PH610", "---\n- a\n- b\n", 2, "", "must be a mapping of config key to value"),
    Case("PH611", "---\nretries: many\n", 2, "retries", "must be an integer, not a string"),
    Case(
        "PH611",
        "---\nauth:\n  host: h\n  port: '80'\n",
        4,
        "auth.port",
        "config key auth.port must be an integer",
    ),
    Case("PH612", "---\nmode: turbo\n", 2, "mode", "is 'turbo'; use one of 'fast', 'safe'"),
    Case(
        "PH613",
        "---\ntargets:\n  - name: a\n  - port: 1\n",
        4,
        "targets.1.name",
        "config key targets.1.name is required and has no default",
    ),
    Case(
        "PH613",
        "---\nretries: 1\n",
        2,  # located at the top-level mapping, which starts here
        "token",
        "config key token is required",
        schema="token: {type: string, required: true}\n",
    ),
    Case(
        "PH614",
        "---\nauth:\n  host: h\n  hots: x\n",
        4,
        "auth.hots",
        "unknown config key auth.hots: auth takes no other keys (known: host, port)",
    ),
    Case("PH615", "---\nretries: -1\n", 2, "retries", "retries: -1 is less than the minimum of 0"),
    Case(
        "PH616",
        "---\napi_url: http://x\napi_token: s3cret\n",
        3,
        "api_token",
        "secret but written in clear text; keep it encrypted in the datastore and write "
        '"{{ st2kv.system.demo_api_token }}"',
    ),
    Case(
        "PH617",
        "---\napi_token: '{{ st2kv.system.token | decrypt_kv }}'\n",
        2,
        "api_token",
        "is secret, so it is decrypted already; remove '| decrypt_kv'",
    ),
    Case(
        "PH618",
        "---\nmode: '{{ st2kv.system.mode'\n",
        2,
        "mode",
        "config key mode is not a valid template",
    ),
    Case(
        "PH618",
        "---\nauth:\n  host: '{{ st2kv.system.x | no_such_filter }}'\n",
        3,
        "auth.host",
        "No filter named 'no_such_filter'",
    ),
    Case(
        "PH619",
        None,
        0,
        "",
        "pack 'demo' has no config file, and its schema requires token (no default); write "
        "one with 'packhorse pack config demo'",
        schema="token: {type: string, required: true}\nport: {type: integer, required: true, "
        "default: 1}\n",
    ),
]

CONFIG_CODES = {code for code in CODES if code.startswith("PH61")}


def test_every_config_code_has_a_case() -> None:
    assert {case.code for case in CASES} == CONFIG_CODES


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code}-{c.field}" for c in CASES])
def test_code(case: Case) -> None:
    text = None if case.config is None else case.config.encode()
    _, found = validate_config_text(text, schema_of(case.schema), path=PATH)
    matching = [d for d in found if d.code == case.code and case.message in d.message]
    assert matching, f"{case.code} not reported; got {[d.format() for d in found]}"
    diagnostic = matching[0]
    assert diagnostic.path == PATH
    assert diagnostic.line == case.line, diagnostic.format()
    assert diagnostic.field == case.field
    assert diagnostic.severity is CODES[case.code].severity


def test_a_valid_config_gets_its_defaults_recursively() -> None:
    text = b"---\napi_token: '{{ st2kv.system.t }}'\nauth: {port: 80}\ntargets: [{name: a}]\n"
    values, found = validate_config_text(text, schema_of(), path=PATH)
    assert found == []
    assert values == {
        "api_url": "http://127.0.0.1:8080",
        "api_token": "{{ st2kv.system.t }}",
        "retries": 3,
        "auth": {"host": "localhost", "port": 80},
        "targets": [{"name": "a", "port": 22}],
    }


def test_no_config_file_gives_the_defaults_and_no_problem() -> None:
    values, found = validate_config(None, schema_of(), path=PATH)
    assert found == []
    assert values == {"api_url": "http://127.0.0.1:8080", "retries": 3}


def test_an_empty_file_is_an_empty_config() -> None:
    values, found = validate_config_text(b"# nothing yet\n", schema_of(), path=PATH)
    assert found == [] and values["retries"] == 3


def test_templates_are_not_type_checked() -> None:
    text = b"---\nretries: '{{ st2kv.system.retries }}'\nmode: '{{ st2kv.user.mode }}'\n"
    _, found = validate_config_text(text, schema_of(), path=PATH)
    assert found == []


def test_null_is_allowed_for_optional_keys_and_replaced_by_defaults() -> None:
    values, found = validate_config_text(b"---\nmode:\nretries:\n", schema_of(), path=PATH)
    assert found == []
    assert values["mode"] is None and values["retries"] == 3
    _, found = validate_config_text(
        b"---\ntoken:\n", schema_of("token: {type: string, required: true}\n"), path=PATH
    )
    assert [d.code for d in found] == ["PH611"]


def test_keys_the_schema_does_not_name_are_allowed_at_the_top() -> None:
    values, found = validate_config_text(b"---\nextra: 1\n", schema_of(), path=PATH)
    assert found == [] and values["extra"] == 1


def test_without_a_schema_values_are_kept_as_given() -> None:
    values, found = validate_config_text(b"---\nanything: [1, '{{ x']\n", None, path=PATH)
    assert found == [] and values == {"anything": [1, "{{ x"]}


def test_yaml_that_does_not_parse_is_a_diagnostic() -> None:
    values, found = validate_config_text(b"a: [\n", schema_of(), path=PATH)
    assert [d.code for d in found] == ["PH002"]
    assert found[0].path == PATH and found[0].line == 2
    assert values == {"api_url": "http://127.0.0.1:8080", "retries": 3}


def test_a_bad_default_is_said_to_come_from_the_schema() -> None:
    schema = schema_of("retries: {type: integer, default: many}\n")
    _, found = validate_config_text(b"---\nother: 1\n", schema, path=PATH)
    assert [d.code for d in found] == ["PH611"]
    assert "comes from the schema's default" in found[0].message


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = b"---\nretries: x\nmode: turbo\nauth: {hots: 1}\ntargets: [{port: 1}]\n"
    _, found = validate_config_text(text, schema_of(), path=PATH)
    assert [d.code for d in found] == ["PH611", "PH612", "PH614", "PH613"]
    assert [d.line for d in found] == [2, 3, 4, 5]


def test_secret_references_are_fine() -> None:
    text = b"---\napi_token: '{{ st2kv.system.demo_token }}'\n"
    _, found = validate_config_text(text, schema_of(), path=PATH)
    assert found == []


def test_secrets_under_pattern_and_additional_properties_are_checked() -> None:
    schema = schema_of(
        "profiles:\n  type: object\n  patternProperties:\n    '^env-':\n"
        "      type: object\n      properties: {token: {type: string, secret: true}}\n"
        "  additionalProperties:\n"
        "    type: object\n    properties: {key: {type: string, secret: true}}\n"
    )
    text = b"---\nprofiles:\n  env-a: {token: t}\n  other: {key: k}\n"
    _, found = validate_config_text(text, schema, path=PATH)
    assert [(d.code, d.field) for d in found] == [
        ("PH616", "profiles.env-a.token"),
        ("PH616", "profiles.other.key"),
    ]


def test_apply_defaults_fills_present_objects_and_list_items_only() -> None:
    schema = schema_of(
        "a: {type: object, properties: {b: {type: integer, default: 1}}}\n"
        "c: {type: array, items: {type: object, properties: {d: {default: x}}}}\n"
    )
    assert apply_defaults({}, schema) == {}
    assert apply_defaults({"a": {}, "c": [{}, {"d": "y"}]}, schema) == {
        "a": {"b": 1},
        "c": [{"d": "x"}, {"d": "y"}],
    }


def test_defaults_are_copies() -> None:
    schema = schema_of("l: {type: array, default: [1]}\n")
    first = apply_defaults({}, schema)
    first["l"].append(2)
    assert apply_defaults({}, schema) == {"l": [1]}


def test_config_resource() -> None:
    resource = config_resource("demo", {"a": 1}, "configs/demo.yaml")
    assert resource.kind is Kind.CONFIG and resource.ref == "demo" and resource.pack == "demo"
    assert resource.body == {"pack": "demo", "values": {"a": 1}, "file": "configs/demo.yaml"}
    assert config_resource("demo", {}, None).body["file"] is None


def test_validate_config_takes_a_parsed_document() -> None:
    doc, problems = parse_yaml(b"---\nretries: x\n", PATH)
    assert doc is not None and problems == []
    _, found = validate_config(doc, schema_of(), path=PATH)
    assert [(d.code, d.line, d.col, d.severity) for d in found] == [("PH611", 2, 1, Severity.ERROR)]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(data=st.dictionaries(st.sampled_from(["api_token", "auth", "targets", "x"]), _json))
def test_validation_never_raises(data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data).encode()
    values, found = validate_config_text(text, schema_of(), path=PATH)
    assert isinstance(values, dict)
    assert all(d.path == PATH for d in found)


@pytest.mark.parametrize(
    "schema",
    [
        {"a": {"type": "object", "patternProperties": {"(": {"type": "string"}}}},
        {"a": {"type": "string", "pattern": "("}},
        {"a": "not a schema"},
        {"a": {"type": 5}},
        {"a": {"$ref": "http://example.com/schema"}},
    ],
)
def test_broken_schemas_do_not_raise(schema: dict[str, Any]) -> None:
    for text in (b"a: x\n", b"a: {b: 1, '(': 2}\n", b"a: [1]\n"):
        validate_config_text(text, schema, path=PATH)
