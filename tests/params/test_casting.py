"""Casting by declared type, as StackStorm's util/casts.py does (with its errors made clear)."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from packhorse.errors import ParameterError
from packhorse.expr import NONE_MAGIC_VALUE
from packhorse.params.casting import cast_value

CASTS: list[Any] = [
    # integer: int()
    ("integer", 5, 5),
    ("integer", "5", 5),
    ("integer", " 7 ", 7),
    ("integer", "-3", -3),
    ("integer", 3.9, 3),  # int() truncates, as in StackStorm
    ("integer", True, 1),
    ("integer", "1_000", 1000),  # int() accepts underscores
    # number: float()
    ("number", 1, 1.0),
    ("number", "2.5", 2.5),
    ("number", "1e3", 1000.0),
    ("number", "-0", -0.0),
    ("number", "inf", math.inf),
    # boolean: literal_eval(value.capitalize())
    ("boolean", True, True),
    ("boolean", False, False),
    ("boolean", "true", True),
    ("boolean", "True", True),
    ("boolean", "TRUE", True),
    ("boolean", "false", False),
    ("boolean", "fALSE", False),
    ("boolean", "none", None),  # literal_eval("None")
    # object / array: JSON, else a Python literal
    ("object", {"a": 1}, {"a": 1}),
    ("object", '{"a": 1}', {"a": 1}),
    ("object", "{'a': 1}", {"a": 1}),
    ("object", "{'a': (1, 2)}", {"a": [1, 2]}),
    ("object", "null", None),
    ("array", [1, 2], [1, 2]),
    ("array", "[1,2]", [1, 2]),
    ("array", "['a', 'b']", ["a", "b"]),
    ("array", "(1, 2)", [1, 2]),
    ("array", "1, 2", [1, 2]),  # a Python tuple literal
    ("array", "True,True,1", [True, True, 1]),
    ("array", (1, 2), [1, 2]),
    # string: must already be one
    ("string", "abc", "abc"),
    ("string", "", ""),
    ("string", "5", "5"),
    # no type, "null", or a type with no cast: as given
    (None, 5, 5),
    (None, "{'a': 1}", "{'a': 1}"),
    ("null", "x", "x"),
]


@pytest.mark.parametrize(("declared", "value", "expected"), CASTS)
def test_cast(declared: str | None, value: Any, expected: Any) -> None:
    spec = {"type": declared} if declared else {}
    cast = cast_value("p", value, spec)
    assert cast == expected
    assert type(cast) is type(expected)


@pytest.mark.parametrize(
    "declared", ["integer", "number", "boolean", "object", "array", "string", None]
)
def test_none_and_the_use_none_magic_are_none(declared: str | None) -> None:
    spec = {"type": declared} if declared else {}
    assert cast_value("p", None, spec) is None
    assert cast_value("p", NONE_MAGIC_VALUE, spec) is None


def test_untyped_magic_can_be_kept() -> None:
    assert cast_value("p", NONE_MAGIC_VALUE, {}, untyped_magic=False) == NONE_MAGIC_VALUE
    assert cast_value("p", NONE_MAGIC_VALUE, {"type": "string"}, untyped_magic=False) is None


REFUSED: list[Any] = [
    ("integer", "abc", "an integer", "'abc' (str)"),
    ("integer", "3.9", "an integer", "'3.9' (str)"),
    ("integer", "", "an integer", "'' (str)"),
    ("integer", [1], "an integer", "[1] (list)"),
    ("integer", math.inf, "an integer", "inf (float)"),
    ("integer", "9" * 5000, "an integer", "'99999"),
    ("number", "x1", "a number", "'x1' (str)"),
    ("number", {"a": 1}, "a number", "{'a': 1} (dict)"),
    ("boolean", "1", "a boolean", "'1' (str)"),  # literal_eval gives the integer 1
    ("boolean", "0", "a boolean", "'0' (str)"),
    ("boolean", "yes", "a boolean", "'yes' (str)"),
    ("boolean", "on", "a boolean", "'on' (str)"),
    ("boolean", " true", "a boolean", "' true' (str)"),
    ("boolean", 1, "a boolean", "1 (int)"),
    ("boolean", "[1]", "a boolean", "'[1]' (str)"),
    ("object", "[1, 2]", "an object", "'[1, 2]' (str)"),
    ("object", "not json", "an object", "'not json' (str)"),
    ("object", "{1: 2}", "an object", "'{1: 2}' (str)"),  # keys must be strings
    ("object", "{'a': {1, 2}}", "an object", "(str)"),  # a set is not JSON
    ("object", "{'a': b'x'}", "an object", "(str)"),  # bytes are not JSON
    ("object", "{'a': NaN}", "an object", "(str)"),
    ("object", 5, "an object", "5 (int)"),
    ("array", '{"a": 1}', "an array", "(str)"),
    ("array", "'\\d'", "an array", "(str)"),  # invalid escape: the compiler warning is muted
    ("array", "[" * 5000, "an array", "(str)"),
    ("array", "abc", "an array", "'abc' (str)"),
    ("string", 5, "a string", "5 (int)"),
    ("string", True, "a string", "True (bool)"),
    ("string", ["a"], "a string", "['a'] (list)"),
]


@pytest.mark.parametrize(("declared", "value", "expected", "shown"), REFUSED)
def test_cast_refused(declared: str, value: Any, expected: str, shown: str) -> None:
    with pytest.raises(ParameterError) as caught:
        cast_value("p", value, {"type": declared})
    message = caught.value.message
    assert message.startswith(f'Parameter "p" must be {expected}')
    assert shown in message
    assert caught.value.parameter == "p"
    assert len(message) < 200


def test_secret_values_are_not_shown() -> None:
    with pytest.raises(ParameterError) as caught:
        cast_value("token", "hunter2", {"type": "integer", "secret": True})
    assert "hunter2" not in caught.value.message
    assert re.search(r"value hidden", caught.value.message)
