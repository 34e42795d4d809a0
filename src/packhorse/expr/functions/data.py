"""Data functions: JSON, YAML, JSONPath, ``to_complex``, ``use_none``, orquesta's ``json``, ``zip``.

Every function takes the value first, so each one works as a Jinja filter
(``{{ x | to_json_string }}``) and as a function (``{{ to_json_string(x) }}``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from itertools import zip_longest
from typing import Any, Final

import yaml

from packhorse.expr.datastore import KeyValueLookup, plain

__all__ = [
    "NONE_MAGIC_VALUE",
    "from_json_string",
    "from_yaml_string",
    "json_escape",
    "json_parse_strict",
    "jsonpath_query",
    "orquesta_json",
    "orquesta_zip",
    "to_complex",
    "to_json_string",
    "to_yaml_string",
    "use_none",
]

NONE_MAGIC_VALUE: Final = "%*****__%NONE%__*****%"
"""What ``use_none`` turns None into, so that None survives string rendering; parameter casting
turns this exact string back into None. The value is StackStorm's, so rendered parameters
recorded by StackStorm compare equal."""

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_parse_strict(text: str) -> Any:
    """Parse JSON as StackStorm's orjson does: ``NaN`` and ``Infinity`` are refused."""
    return json.loads(text, parse_constant=_reject_constant)


def from_json_string(value: Any) -> Any:
    """Parse a JSON string (a datastore lookup is read as its string)."""
    return json_parse_strict(str(value))


def from_yaml_string(value: Any) -> Any:
    """Parse a YAML string with the safe loader."""
    return yaml.load(str(value), Loader=_YAML_LOADER)  # noqa: S506 - the safe loader


def to_json_string(
    value: Any,
    indent: int | None = None,
    sort_keys: bool = False,
    separators: tuple[str, str] | list[str] | None = (",", ": "),
) -> str:
    """Serialise to JSON; keys keep their order unless ``sort_keys``."""
    options: dict[str, Any] = {"sort_keys": bool(sort_keys)}
    if indent is not None:
        options["indent"] = indent
    if separators is not None:
        options["separators"] = tuple(separators)
    return json.dumps(plain(value), **options)


def to_yaml_string(value: Any, indent: int | None = None, allow_unicode: bool = True) -> str:
    """Serialise to block-style YAML with the safe dumper."""
    options: dict[str, Any] = {"default_flow_style": False}
    if indent is not None:
        options["indent"] = indent
    if allow_unicode is not None:
        options["allow_unicode"] = allow_unicode
    return str(yaml.dump(plain(value), Dumper=_YAML_DUMPER, **options))


def json_escape(value: Any) -> str:
    """Escape a value for embedding inside a JSON string literal (without the quotes).

    StackStorm strips every leading and trailing ``"``, which eats the escaped quote of a string
    that ends with one (``'say "hi"'`` gives ``say \\"hi\\``); we drop exactly the two quotes
    ``json.dumps`` adds.
    """
    value = plain(value)
    encoded = json.dumps(value)
    if isinstance(value, str):
        return encoded[1:-1]
    return encoded.strip('"')


@lru_cache(maxsize=256)
def _compile_jsonpath(query: str) -> Any:
    # jsonpath-ng is the maintained fork of jsonpath-rw, which StackStorm uses, with the same
    # grammar. Imported late: only templates that query pay for it.
    from jsonpath_ng.parser import parse

    return parse(query)


def jsonpath_query(value: Any, query: str) -> list[Any] | None:
    """The values matching a JSONPath ``query`` in ``value``, or None when nothing matches."""
    matches = [match.value for match in _compile_jsonpath(str(query)).find(value)]
    return matches or None


def to_complex(value: Any) -> str:
    """JSON text of a value: StackStorm's way of carrying a type through string rendering."""
    return json.dumps(plain(value))


def use_none(value: Any) -> Any:
    """None becomes :data:`NONE_MAGIC_VALUE`, which parameter casting turns back into None."""
    return NONE_MAGIC_VALUE if value is None else value


def orquesta_json(value: Any) -> Any:
    """Orquesta's ``json(s)``: parse a JSON string; a dict is returned as it is."""
    if isinstance(value, dict):
        return value
    if isinstance(value, KeyValueLookup):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"json() expects a string, got {type(value).__name__}")
    return json.loads(value)


def orquesta_zip(*lists: Any, pad: Any = None) -> Any:
    """Orquesta's ``zip(*lists, pad=None)``: zip to the longest list, padding with ``pad``.

    None counts as an empty list; a single argument is returned as it is.
    """
    arguments = [[] if item is None else item for item in lists]
    if len(arguments) == 1:
        return arguments[0]
    return list(zip_longest(*arguments, fillvalue=pad))
