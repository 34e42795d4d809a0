"""Casting rendered parameter values to their declared type, as StackStorm does.

Templates render to strings, and API callers and rules may pass strings for anything, so after
rendering every value is cast by the ``type`` its schema declares:

==========  ====================================================================================
integer     ``int(value)`` (so ``"7"`` gives 7, ``3.9`` gives 3 and ``"3.9"`` is an error)
number      ``float(value)`` (``"1e3"`` gives 1000.0; an integer becomes a float)
boolean     a string is ``ast.literal_eval(value.capitalize())``: ``"true"``, ``"TRUE"``,
            ``"False"`` work; ``"1"``, ``"yes"`` and ``"on"`` do not. A non-string must be a bool
object      a string is decoded as JSON, else as a Python literal (``"{'a': 1}"``); the result
            must be a dict
array       the same; the result must be a list (a Python tuple literal becomes a list)
string      must already be a string
==========  ====================================================================================

None stays None for every type, and the ``use_none`` magic string becomes None. A value of
the wrong type is a :class:`~packhorse.errors.ParameterError` naming the parameter and the
expected type.

Deliberate differences from StackStorm (docs/compatibility.md): StackStorm returns whatever
``literal_eval`` gives for a boolean (``"1"`` becomes the integer 1, which its API validation
then rejects but its final rendering passes to the action) and whatever a non-string value is;
here the result must have the declared type. StackStorm turns the ``use_none`` magic string into
None only for typed parameters (an untyped one receives the magic string); here always.
Python literals that JSON cannot hold (sets, bytes, complex numbers, non-string keys) are
refused instead of reaching the action.
"""

from __future__ import annotations

import ast
import json
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Final

from packhorse.errors import ParameterError
from packhorse.expr import NONE_MAGIC_VALUE

__all__ = ["EXPECTED", "cast_value"]

#: How each type is named in an error message.
EXPECTED: Final[Mapping[str, str]] = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "an object (a JSON or Python dict)",
    "array": "an array (a JSON or Python list)",
    "string": "a string",
}

_SHOWN_LENGTH: Final = 80


class _Refused(Exception):
    """The value cannot be cast; the caller turns this into a ParameterError."""


def _literal_eval(text: str) -> Any:
    # literal_eval compiles the text: an invalid escape such as "\d" is a compiler warning,
    # which must not escape (warnings are errors in our tests, and noise in production).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as error:
            raise _Refused from error


def _strict_json(text: str) -> Any:
    # StackStorm decodes with orjson, which refuses NaN and Infinity.
    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    return json.loads(text, parse_constant=refuse)


def _json_ready(value: Any) -> Any:
    """``value`` with tuples as lists; anything JSON cannot hold is refused."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise _Refused
        return {key: _json_ready(item) for key, item in value.items()}
    raise _Refused


def _to_integer(value: Any) -> Any:
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError) as error:
        raise _Refused from error


def _to_number(value: Any) -> Any:
    try:
        return float(value)
    except (ValueError, TypeError, OverflowError) as error:
        raise _Refused from error


def _to_boolean(value: Any) -> Any:
    if isinstance(value, str):
        value = _literal_eval(value.capitalize())
    if value is None or isinstance(value, bool):
        return value
    raise _Refused


def _to_structure(expected: type) -> Callable[[Any], Any]:
    def cast(value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = _strict_json(value)
            except (ValueError, RecursionError):
                value = _literal_eval(value)
        if expected is list and isinstance(value, tuple):
            value = list(value)
        if value is None:
            return None
        if not isinstance(value, expected):
            raise _Refused
        return _json_ready(value)

    return cast


def _to_string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    raise _Refused


_CASTS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "object": _to_structure(dict),
    "array": _to_structure(list),
    "string": _to_string,
}


def _shown(value: Any, secret: bool) -> str:
    if secret:
        return f"a {type(value).__name__} (value hidden: the parameter is secret)"
    text = repr(value)
    if len(text) > _SHOWN_LENGTH:
        text = text[: _SHOWN_LENGTH - 3] + "..."
    return f"{text} ({type(value).__name__})"


def cast_value(
    name: str, value: Any, spec: Mapping[str, Any], *, untyped_magic: bool = True
) -> Any:
    """``value`` cast to the type ``spec`` declares for parameter ``name``.

    ``untyped_magic=False`` keeps the ``use_none`` magic string of an untyped parameter (the
    renderer's live pass does, so that the final pass does not render its default again, as
    StackStorm's does not; the final pass then turns it into None).

    Raises :class:`~packhorse.errors.ParameterError` when it cannot be cast; the message names
    the parameter, the expected type and the value (unless the parameter is secret).
    """
    declared = spec.get("type")
    cast = _CASTS.get(declared) if isinstance(declared, str) else None
    if value is None or (
        isinstance(value, str) and value == NONE_MAGIC_VALUE and (cast is not None or untyped_magic)
    ):
        return None
    if cast is None or not isinstance(declared, str):
        return value
    try:
        return cast(value)
    except _Refused:
        pass
    raise ParameterError(
        f'Parameter "{name}" must be {EXPECTED[declared]}; '
        f"got {_shown(value, bool(spec.get('secret')))}",
        parameter=name,
    )
