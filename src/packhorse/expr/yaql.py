"""orquesta's YAQL evaluation (reference/orquesta.md §1.8), with a cached engine.

:func:`render_yaql` evaluates a value the way orquesta's YAQL evaluator does:

* a string that is exactly one ``<% expression %>`` gives the expression's value as plain
  Python (yaql's frozen dicts and tuples come back as dicts and lists);
* any other string has each ``<% %>`` replaced by ``str()`` of its value (``None``, ``True``,
  ``{'a': 1}``, as orquesta writes them);
* a string result that itself holds ``<% %>`` is evaluated again, up to
  :data:`MAX_REEVALUATION_DEPTH` levels;
* dicts (keys too) and lists are walked; anything else passes through.

The data given is yaql's ``$`` (and ``__vars``, where orquesta's ``ctx()`` reads it), converted
once per call with yaql's ``convert_input_data``. Every entry of
:data:`~packhorse.expr.functions.FUNCTIONS` is a YAQL function, and ``functions`` adds more per
call (the workflow engine binds ``ctx``, ``result``, ``item``... per task). Functions receive
plain Python arguments, and keyword arguments through yaql's ``name => value``.

Parsed expressions are cached by text. A plain data path (``$``, ``$.a.b``) on mappings is
looked up directly, giving what yaql gives some ten times faster; anything else, and a path
through a list, goes through yaql's evaluator.

Every failure is an :class:`~packhorse.errors.ExpressionError` of kind
``YaqlEvaluationException``; no yaql exception escapes.
"""

from __future__ import annotations

# yaql 3.2 uses collections.abc after a bare ``import collections``; import it first.
import collections.abc  # noqa: F401
import inspect
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final

import yaql
from yaql.language import exceptions as yaql_exceptions
from yaql.language import expressions as yaql_expressions
from yaql.language import utils as yaql_utils

from packhorse.errors import ExpressionError
from packhorse.expr.functions import FUNCTIONS

__all__ = [
    "KIND",
    "MAX_REEVALUATION_DEPTH",
    "YAQL_EXPRESSION",
    "is_yaql",
    "render_yaql",
    "yaql_syntax_errors",
]

KIND: Final = "YaqlEvaluationException"

MAX_REEVALUATION_DEPTH: Final = 16
"""How many times :func:`render_yaql` evaluates a result that is itself an expression."""

# orquesta's pattern, without DOTALL: an expression does not span lines.
YAQL_EXPRESSION: Final = re.compile(r"<%.*?%>")

_ENGINE: Final = yaql.YaqlFactory().create()


def is_yaql(text: Any) -> bool:
    """Whether ``text`` is a string holding a YAQL expression ``<% %>``."""
    return isinstance(text, str) and YAQL_EXPRESSION.search(text) is not None


def _strip_delimiters(expression: str) -> str:
    # orquesta strips the characters '<', '%' and '>' from both ends, then spaces.
    return expression.strip("<%>").strip()


@lru_cache(maxsize=4096)
def _parse(source: str) -> Any:
    """The parsed expression (about 25 us a parse; cached by text)."""
    return _ENGINE(source)


@lru_cache(maxsize=4096)
def _data_path(source: str) -> tuple[str, ...] | None:
    """The keys of an expression that is ``$`` or ``$.a.b...``, else None.

    yaql spends some 0.3 ms resolving the overloads of ``.`` for ``$.x``; on a mapping the
    overload it picks is ``d[key]``, which :func:`_evaluate` then does itself.
    """
    keys: list[str] = []
    node = _parse(source).expression
    while isinstance(node, yaql_expressions.BinaryOperator) and node.operator == ".":
        receiver, key = node.args
        if type(key) is not yaql_expressions.KeywordConstant:
            return None
        keys.append(key.value)
        node = receiver
    if type(node) is yaql_expressions.GetContextValue and node.path.value == "$":
        return tuple(reversed(keys))
    return None


def _walk_path(keys: tuple[str, ...], context: Any) -> Any:
    """The value at ``keys`` from ``$``, or :data:`_NOT_A_PATH` when a step is not a mapping
    (yaql then maps ``.`` over a list, and so on)."""
    value = context["$"]
    for key in keys:
        if not isinstance(value, Mapping):
            return _NOT_A_PATH
        value = value[key]
    return value


_NOT_A_PATH: Final = object()


def _plain(value: Any) -> Any:
    return yaql_utils.convert_output_data(value, lambda items: items, _ENGINE)


def _as_yaql_function(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` taking plain Python arguments and giving yaql data back (hashable, so that
    ``distinct()`` and friends work on its result), with its signature kept for yaql, which
    reads it to match positional and ``=>`` arguments."""

    def call(*args: Any, **kwargs: Any) -> Any:
        result = function(*map(_plain, args), **{k: _plain(v) for k, v in kwargs.items()})
        return yaql_utils.convert_input_data(result)

    call.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
    return call


def _register(context: Any, functions: Mapping[str, Callable[..., Any]]) -> None:
    for name, function in functions.items():
        context.register_function(_as_yaql_function(function), name=name)


_ROOT_CONTEXT: Final = yaql.create_context()
_register(_ROOT_CONTEXT, FUNCTIONS)


def _context(data: Any, functions: Mapping[str, Callable[..., Any]] | None) -> Any:
    context = _ROOT_CONTEXT.create_child_context()
    if functions:
        _register(context, functions)
    converted = yaql_utils.convert_input_data(data if data is not None else {})
    context["$"] = converted
    context["__vars"] = converted
    return context


def _error(expression: str, error: Exception) -> ExpressionError:
    """orquesta's message for ``error`` raised by ``expression``."""
    name = type(error).__name__
    if isinstance(error, KeyError):
        key = str(error).strip("'")
        return ExpressionError(
            expression,
            f"{name}: {key}",
            kind=KIND,
            summary=f"Unable to resolve key '{key}' in expression '{expression}' from context.",
        )
    message = str(error)
    if isinstance(error, yaql_exceptions.YaqlException | ValueError | TypeError):
        message = message.strip("'")
    return ExpressionError(expression, f"{name}: {message}", kind=KIND)


def _evaluate(expression: str, context: Any) -> Any:
    source = _strip_delimiters(expression)
    try:
        keys = _data_path(source)
        if keys is not None:
            value = _walk_path(keys, context)
            if value is not _NOT_A_PATH:
                return _plain(value)
        return _plain(_parse(source).evaluate(context=context))
    except ExpressionError:
        raise
    except Exception as error:
        raise _error(expression, error) from error


def _evaluate_string(text: str, context: Any, depth: int) -> Any:
    if depth > MAX_REEVALUATION_DEPTH:
        raise ExpressionError(
            text,
            f"RecursionError: a value is an expression more than {MAX_REEVALUATION_DEPTH} "
            "levels deep",
            kind=KIND,
        )
    expressions = YAQL_EXPRESSION.findall(text)
    if not expressions:
        return text
    if len(expressions) == 1 and expressions[0] == text:
        return _result(_evaluate(text, context), context, depth)

    def substitute(found: re.Match[str]) -> str:
        return str(_result(_evaluate(found.group(), context), context, depth))

    return YAQL_EXPRESSION.sub(substitute, text)


def _result(value: Any, context: Any, depth: int) -> Any:
    if isinstance(value, str) and is_yaql(value):
        return _evaluate_string(value, context, depth + 1)
    return value


def _walk(value: Any, context: Any) -> Any:
    if isinstance(value, str):
        return _evaluate_string(value, context, 0)
    if isinstance(value, dict):
        rendered: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = _walk(key, context)
            try:
                rendered[new_key] = _walk(item, context)
            except TypeError as error:  # the key evaluated to something unhashable
                raise _error(str(key), error) from error
        return rendered
    if isinstance(value, list):
        return [_walk(item, context) for item in value]
    return value


def render_yaql(
    value: Any,
    data: Any,
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    """Evaluate the YAQL expressions in ``value`` as orquesta does, keeping types (see the
    module docstring). ``data`` is yaql's ``$``; ``functions`` maps names to Python callables
    added to :data:`~packhorse.expr.functions.FUNCTIONS` for this call only. Raises
    :class:`~packhorse.errors.ExpressionError`.
    """
    if not isinstance(value, str | dict | list):
        return value
    try:
        context = _context(data, functions)
    except Exception as error:  # a function yaql cannot register, unconvertible data
        text = value if isinstance(value, str) else ""
        raise ExpressionError(text, f"{type(error).__name__}: {error}", kind=KIND) from error
    return _walk(value, context)


def yaql_syntax_errors(text: str) -> list[ExpressionError]:
    """One error per ``<% %>`` of ``text`` that does not parse, without evaluating anything."""
    errors: list[ExpressionError] = []
    for expression in YAQL_EXPRESSION.findall(text):
        try:
            _parse(_strip_delimiters(expression))
        except Exception as error:  # noqa: BLE001 - it becomes the error we report
            errors.append(_error(expression, error))
    return errors
