"""Shell-script command lines and sudo wrapping, as StackStorm builds them (§3.5)."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packhorse.params.render import RenderedParameters
from packhorse.params.shell import script_command, serialize_positional, wrap_command

SCRIPT = "/opt/packs/demo/actions/run.sh"

# (schema, action parameters, runner parameters, argv after the script, command after the script)
COMMANDS: list[Any] = [
    pytest.param({"name": {}}, {"name": "value"}, {}, ["--name=value"], "--name=value", id="named"),
    pytest.param(
        {"msg": {}},
        {"msg": "hello world"},
        {},
        ["--msg=hello world"],
        "--msg='hello world'",
        id="spaces quoted",
    ),
    pytest.param(
        {"msg": {}},
        {"msg": "it's"},
        {},
        ["--msg=it's"],
        "--msg='it'\"'\"'s'",
        id="single quote quoted",
    ),
    pytest.param(
        {"msg": {}},
        {"msg": 'say "$HOME" `id`'},
        {},
        ['--msg=say "$HOME" `id`'],
        "--msg='say \"$HOME\" `id`'",
        id="dollar, double quotes and backticks quoted",
    ),
    pytest.param(
        {"a": {}, "b": {}, "c": {}, "d": {}},
        {"a": True, "b": False, "c": None, "d": ""},
        {},
        ["--a"],
        "--a",
        id="true is a bare flag; false, None and empty are left out",
    ),
    pytest.param(
        {"n": {"type": "integer"}, "x": {"type": "number"}},
        {"n": 0, "x": 1.5},
        {},
        ["--n=0", "--x=1.5"],
        "--n=0 --x=1.5",
        id="numbers, zero included",
    ),
    pytest.param(
        {"items": {"type": "array"}, "o": {"type": "object"}},
        {"items": ["a", "b"], "o": {"k": 1}},
        {},
        ["--items=['a', 'b']", "--o={'k': 1}"],
        f"--items={shlex.quote(str(['a', 'b']))} --o={shlex.quote(str({'k': 1}))}",
        id="named arrays and objects are str()-ed as in StackStorm",
    ),
    pytest.param(
        {"name": {}},
        {"name": "v"},
        {"kwarg_op": "-"},
        ["-name=v"],
        "-name=v",
        id="kwarg_op",
    ),
    pytest.param(
        {"first": {"position": 0}, "second": {"position": 1}, "opt": {}},
        {"second": "b c", "first": "a", "opt": "o"},
        {},
        ["--opt=o", "a", "b c"],
        "--opt=o a 'b c'",
        id="positions 0-based, named first",
    ),
    pytest.param(
        {"only": {"position": 1, "type": "string"}},
        {"only": "x"},
        {},
        ["x"],
        "x",
        id="position 1 alone is the first argument",
    ),
    pytest.param(
        {
            "s": {"position": 1, "type": "string"},
            "t": {"position": 2, "type": "boolean"},
            "f": {"position": 3, "type": "boolean"},
            "nb": {"position": 4, "type": "boolean"},
            "arr": {"position": 5, "type": "array"},
            "empty": {"position": 6, "type": "array"},
            "obj": {"position": 7, "type": "object"},
            "num": {"position": 8, "type": "number"},
            "zero": {"position": 9, "type": "integer"},
        },
        {
            "s": None,
            "t": True,
            "f": False,
            "nb": None,
            "arr": ["a", 1],
            "empty": [],
            "obj": {"k": "v", "n": [1]},
            "num": 2.0,
            "zero": 0,
        },
        {},
        ["", "1", "0", "", "a,1", "", '{"k":"v","n":[1]}', "2.0", "0"],
        "'' 1 0 '' a,1 '' '{\"k\":\"v\",\"n\":[1]}' 2.0 0",
        id="positional serialisation by type; None keeps its slot",
    ),
    pytest.param(
        {"p": {"position": 0}, "q": {"position": 1}},
        {"q": "x"},
        {},
        ["", "x"],
        "'' x",
        id="a positioned parameter missing from the values keeps its slot",
    ),
    pytest.param(
        {"cmd": {"type": "string"}, "timeout": {"type": "integer"}, "a": {}},
        {"a": "1"},
        {"cmd": "ls", "timeout": 60, "sudo": True},
        ["--a=1"],
        "--a=1",
        id="runner parameters are never arguments",
    ),
]


@pytest.mark.parametrize(("schema", "action", "runner", "argv", "command"), COMMANDS)
def test_script_command(
    schema: dict[str, Any],
    action: dict[str, Any],
    runner: dict[str, Any],
    argv: list[str],
    command: str,
) -> None:
    built = script_command(SCRIPT, RenderedParameters(runner=runner, action=action), schema)
    assert built.argv == [SCRIPT, *argv]
    assert built.command == f"{SCRIPT} {command}".rstrip()
    assert shlex.split(built.command) == built.argv


def test_script_without_arguments_and_path_with_spaces() -> None:
    built = script_command("/packs/my pack/a.sh", RenderedParameters(runner={}, action={}), {})
    assert built.argv == ["/packs/my pack/a.sh"]
    assert built.command == "'/packs/my pack/a.sh'"


POSITIONAL: list[Any] = [
    ("string", "a b", "a b"),
    ("string", None, ""),
    ("number", 3, "3"),
    ("integer", 0, "0"),  # StackStorm gives "" (integers fall to its "other" branch)
    ("boolean", True, "1"),
    ("boolean", False, "0"),
    ("boolean", None, ""),
    ("array", ["a", "b", "c"], "a,b,c"),
    ("array", None, ""),
    ("object", {"a": "é"}, '{"a":"é"}'),
    ("object", {}, ""),
    ("null", "x", ""),
    (None, "x", "x"),
    (None, 0, ""),  # untyped values: str(value) if value else "", as in StackStorm
    (None, True, "True"),
]


@pytest.mark.parametrize(("declared", "value", "expected"), POSITIONAL)
def test_serialize_positional(declared: str | None, value: Any, expected: str) -> None:
    assert serialize_positional(declared, value) == expected


WRAPS: list[Any] = [
    pytest.param({"sudo": True, "run_as": None}, "sudo -E -- bash -c 'ls -l'", id="sudo"),
    pytest.param(
        {"sudo": False, "run_as": "stanley"},
        "sudo -E -H -u stanley -- bash -c 'ls -l'",
        id="another user",
    ),
    pytest.param({"sudo": True, "run_as": "stanley"}, "sudo -E -- bash -c 'ls -l'", id="sudo wins"),
    pytest.param({"sudo": False, "run_as": None}, "ls -l", id="neither"),
    pytest.param(
        {"sudo": True, "run_as": None, "sudo_password": True},
        "sudo -S -E -- bash -c 'ls -l'",
        id="password on stdin",
    ),
    pytest.param(
        {"sudo": False, "run_as": "a b", "sudo_password": True},
        "sudo -S -E -H -u 'a b' -- bash -c 'ls -l'",
        id="odd user name quoted",
    ),
]


@pytest.mark.parametrize(("options", "expected"), WRAPS)
def test_wrap_command(options: dict[str, Any], expected: str) -> None:
    assert wrap_command("ls -l", **options) == expected


def test_wrapped_command_survives_quoting() -> None:
    inner = "echo 'it'\"'\"'s' \"$HOME\""
    wrapped = wrap_command(inner, sudo=True, run_as=None)
    assert shlex.split(wrapped)[-1] == inner


TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=30)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    TEXT,
    st.lists(TEXT, max_size=3),
)


@settings(deadline=None)
@given(
    named=st.dictionaries(st.from_regex(r"[a-z_]\w{0,8}", fullmatch=True), VALUES, max_size=5),
    positional=st.lists(VALUES, max_size=4),
)
def test_command_splits_back_into_argv(named: dict[str, Any], positional: list[Any]) -> None:
    schema: dict[str, Any] = {name: {} for name in named}
    action = dict(named)
    for index, value in enumerate(positional):
        schema[f"pos{index}"] = {"position": index}
        action[f"pos{index}"] = value
    built = script_command(SCRIPT, RenderedParameters(runner={}, action=action), schema)
    assert shlex.split(built.command) == built.argv
