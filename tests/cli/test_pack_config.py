"""``packhorse pack config``: the prompts (with a scripted console) and the command."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from packhorse.cli.pack_config import (
    Console,
    apply_assignments,
    ask_config,
    cast_value,
    render_config,
)
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

SCHEMA: dict[str, Any] = yaml.safe_load(
    """\
url:
  type: string
  description: Where the service lives
  required: true
token:
  type: string
  secret: true
retries:
  type: integer
  default: 3
mode:
  type: string
  enum: [fast, safe]
verbose:
  type: boolean
tags:
  type: array
auth:
  type: object
  description: How to sign in
  properties:
    user: {type: string, required: true}
    port: {type: integer, default: 22}
"""
)


class Script:
    """A console that answers from a list and records what it was asked and told."""

    def __init__(self, answers: list[str], hidden: list[str] | None = None) -> None:
        self.answers: Iterator[str] = iter(answers)
        self.hidden: Iterator[str] = iter(hidden or [])
        self.prompts: list[str] = []
        self.said: list[str] = []

    def console(self) -> Console:
        def ask(text: str) -> str:
            self.prompts.append(text)
            return next(self.answers)

        def ask_hidden(text: str) -> str:
            self.prompts.append(text)
            return next(self.hidden)

        return Console(ask=ask, ask_hidden=ask_hidden, say=self.said.append)


def test_every_key_is_asked_with_its_description_and_default() -> None:
    script = Script(["http://x", "", "safe", "yes", '["a"]', "joe", ""], hidden=["t0k", "t0k"])
    values = ask_config(SCHEMA, {}, script.console())
    assert values == {
        "url": "http://x",
        "token": "t0k",
        "mode": "safe",
        "verbose": True,
        "tags": ["a"],
        "auth": {"user": "joe"},
    }  # retries and auth.port keep their defaults by staying out of the file
    assert script.prompts == [
        "Where the service lives (url) (required): ",
        "token: ",
        "Repeat for confirmation: ",
        "retries [3]: ",
        "mode: ",
        "verbose: ",
        "tags: ",
        "auth.user (required): ",
        "auth.port [22]: ",
    ]
    assert "mode: one of fast, safe" in script.said
    assert "auth: How to sign in" in script.said


def test_current_values_are_offered_and_kept_on_enter_secrets_masked() -> None:
    current = {"url": "http://old", "token": "old-secret", "auth": {"user": "ann"}}
    script = Script(["", "", "", "", "", "", ""], hidden=[""])
    values = ask_config(SCHEMA, current, script.console())
    assert values == current
    assert "Where the service lives (url) [http://old]: " in script.prompts
    assert "token [********]: " in script.prompts
    assert not any("old-secret" in prompt for prompt in script.prompts)


def test_invalid_answers_are_asked_again() -> None:
    schema = {
        "url": SCHEMA["url"],
        "retries": SCHEMA["retries"],
        "mode": SCHEMA["mode"],
        "token": SCHEMA["token"],
    }
    script = Script(["", "http://x", "many", "4", "turbo", "fast"], hidden=["a", "b", "c", "c"])
    values = ask_config(schema, {}, script.console())
    assert values == {"url": "http://x", "retries": 4, "mode": "fast", "token": "c"}
    assert script.said.count("error: url is required") == 1
    assert "error: 'many' is not an integer" in script.said
    assert any(line.startswith("error: 'turbo' is not allowed") for line in script.said)
    assert "error: the two entries do not match" in script.said


def test_long_descriptions_are_printed_above_the_prompt() -> None:
    long = "A description far too long to be the prompt itself, so it goes on its own line."
    script = Script(["x"])
    assert ask_config({"k": {"description": long}}, {}, script.console()) == {"k": "x"}
    assert script.said == [f"k: {long}"]
    assert script.prompts == ["k: "]


def test_too_many_invalid_answers_end_the_command() -> None:
    script = Script(["x"] * 5)
    with pytest.raises(click.ClickException, match="no valid value for retries"):
        ask_config({"retries": SCHEMA["retries"]}, {}, script.console())


def test_keys_given_with_set_are_not_asked() -> None:
    script = Script(["http://x"])
    values = ask_config(
        {"url": SCHEMA["url"], "retries": {}}, {"retries": 9}, script.console(), skip={"retries"}
    )
    assert values == {"url": "http://x", "retries": 9}
    assert len(script.prompts) == 1


@pytest.mark.parametrize(
    ("text", "item", "expected"),
    [
        ("5", {"type": "integer"}, 5),
        ("2.5", {"type": "number"}, 2.5),
        ("2", {"type": "number"}, 2),
        ("No", {"type": "boolean"}, False),
        ('{"a": 1}', {"type": "object"}, {"a": 1}),
        ("[1]", {"type": "array"}, [1]),
        ("007", {"type": "string"}, "007"),
        ("{{ st2kv.system.n }}", {"type": "integer"}, "{{ st2kv.system.n }}"),
        ("a", {"enum": ["a", "b"]}, "a"),
    ],
)
def test_cast_value(text: str, item: dict[str, Any], expected: Any) -> None:
    assert cast_value(text, item) == expected


@pytest.mark.parametrize(
    ("text", "item", "reason"),
    [
        ("x", {"type": "integer"}, "not an integer"),
        ("x", {"type": "number"}, "not a number"),
        ("maybe", {"type": "boolean"}, "not a boolean"),
        ("[1]", {"type": "object"}, "expected a JSON object"),
        ("{", {"type": "array"}, "written as JSON"),
        ("c", {"enum": ["a", "b"]}, "use one of a, b"),
    ],
)
def test_cast_value_refuses(text: str, item: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        cast_value(text, item)


def test_apply_assignments_casts_and_nests() -> None:
    values, keys = apply_assignments(
        {"url": "u", "auth": {"user": "a"}}, ["retries=4", "auth.port=2200", "x.y=z"], SCHEMA
    )
    assert values == {
        "url": "u",
        "auth": {"user": "a", "port": 2200},
        "retries": 4,
        "x": {"y": "z"},
    }
    assert keys == {"retries", "auth.port", "x.y"}
    with pytest.raises(click.BadParameter, match="KEY=VALUE"):
        apply_assignments({}, ["novalue"], SCHEMA)


# -- the command --------------------------------------------------------------------------


def config_file(home: Path) -> Path:
    return home / "configs" / "examples.yaml"


def test_set_writes_validates_and_registers(instance_home: Path, cli: Cli) -> None:
    result = cli(
        "--home", instance_home, "pack", "config", "examples", "--no-input",
        "--set", "greeting=Hi", "--set", "max_names=7",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "Registered the config of pack examples." in result.out
    written = config_file(instance_home)
    assert yaml.safe_load(written.read_text()) == {"greeting": "Hi", "max_names": 7}
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    shown = cli("--home", instance_home, "pack", "config", "examples", "--show", "--json")
    assert json.loads(shown.out) == {
        "pack": "examples",
        "file": "configs/examples.yaml",
        "values": {"greeting": "Hi", "max_names": 7},
    }
    # Later runs keep what is there and change only what is set.
    again = cli(
        "--home", instance_home, "pack", "config", "examples", "--no-input", "--set", "greeting=Yo"
    )
    assert again.code == 0, again.err
    assert yaml.safe_load(written.read_text()) == {"greeting": "Yo", "max_names": 7}


def test_a_secret_answer_goes_encrypted_into_the_datastore(instance_home: Path, cli: Cli) -> None:
    result = cli(
        "--home",
        instance_home,
        "pack",
        "config",
        "examples",
        "--no-input",
        "--set",
        "api_token=s3cret-token",
    )
    assert result.code == 0, result.err
    assert "PH616" not in result.err
    assert "Stored api_token encrypted in the datastore as examples_api_token" in result.out
    text = config_file(instance_home).read_text()
    assert "s3cret-token" not in text
    assert "{{ st2kv.system.examples_api_token }}" in text
    stored = cli("--home", instance_home, "key", "get", "examples_api_token", "--decrypt", "--json")
    assert json.loads(stored.out)["value"] == "s3cret-token"
    shown = cli("--home", instance_home, "pack", "config", "examples", "--show")
    assert shown.code == 0
    assert "s3cret-token" not in shown.out
    assert "api_token: '********'" in shown.out
    database = b"".join(p.read_bytes() for p in instance_home.glob("state.db*"))
    assert b"s3cret-token" not in database


def test_invalid_values_write_nothing(instance_home: Path, cli: Cli) -> None:
    config_file(instance_home).write_text("greeting: Hey\n")
    result = cli(
        "--home", instance_home, "pack", "config", "examples", "--no-input",
        "--set", "max_names=[1]",
    )  # fmt: skip
    assert result.code == 2 and "not an integer" in result.err
    result = cli(
        "--home", instance_home, "pack", "config", "examples", "--no-input",
        "--set", "greeting={{ st2kv.system.greeting",
    )  # fmt: skip
    assert result.code == 1
    assert "PH618: config key greeting is not a valid template" in result.err
    assert "Nothing written" in result.err
    assert config_file(instance_home).read_text() == "greeting: Hey\n"


def test_show_without_a_file_shows_the_defaults(instance_home: Path, cli: Cli) -> None:
    shown = cli("--home", instance_home, "pack", "config", "examples", "--show")
    assert shown.code == 0
    assert shown.out.splitlines() == [
        "# pack examples (no config file: the schema's defaults)",
        "greeting: Hello",
        "max_names: 5",
    ]
    core = cli("--home", instance_home, "pack", "config", "core", "--show", "--json")
    assert json.loads(core.out) == {"pack": "core", "file": None, "values": {}}


def test_unknown_packs_and_bad_combinations(instance_home: Path, cli: Cli) -> None:
    missing = cli("--home", instance_home, "pack", "config", "ghost", "--show")
    assert missing.code == 2 and "pack 'ghost' not found" in missing.err
    missing = cli("--home", instance_home, "pack", "config", "ghost", "--no-input")
    assert missing.code == 2 and "pack 'ghost' not found" in missing.err
    both = cli("--home", instance_home, "pack", "config", "examples", "--show", "--set", "a=b")
    assert both.code == 2
    nothing_to_ask = cli("--home", instance_home, "pack", "config", "core")
    assert nothing_to_ask.code == 2 and "no config schema" in nothing_to_ask.err


def test_a_pack_without_schema_takes_values_as_given(instance_home: Path, cli: Cli) -> None:
    result = cli("--home", instance_home, "pack", "config", "core", "--no-input", "--set", "a.b=c")
    assert result.code == 0, result.err
    assert yaml.safe_load((instance_home / "configs" / "core.yaml").read_text()) == {
        "a": {"b": "c"}
    }


def test_render_config_round_trips() -> None:
    values = {"url": "http://x", "nested": {"l": [1, "two"]}, "unicode": "héllo"}
    text = render_config("demo", values)
    assert text.startswith("# Config of pack 'demo'")
    assert yaml.safe_load(text) == values
    assert render_config("demo", {}).endswith("---\n{}\n")
