"""One entry point over both expression languages, as orquesta's ``expressions.base`` has.

Each string is YAQL when it holds ``<% %>`` and Jinja when it holds ``{{ }}`` or ``{% %}``; a
string holding both is an error (orquesta: "Expression with multiple types is not
supported."). Dicts (keys too) and lists are walked; a string is handed whole to its language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from packhorse.errors import ExpressionError
from packhorse.expr.jinja import is_jinja, render_value, syntax_errors
from packhorse.expr.yaql import is_yaql, render_yaql, yaql_syntax_errors

__all__ = ["MIXED_TYPES", "expression_syntax_errors", "render_expression_value"]

MIXED_TYPES: Final = "Expression with multiple types is not supported."


def _mixed(text: str) -> ExpressionError:
    return ExpressionError(
        text, MIXED_TYPES, kind="ExpressionEvaluationException", summary=MIXED_TYPES
    )


def render_expression_value(
    value: Any,
    context: Mapping[str, Any],
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    """Evaluate ``value`` as orquesta evaluates workflow expressions, keeping types.

    A YAQL string is evaluated by :func:`~packhorse.expr.yaql.render_yaql` with ``context`` as
    ``$`` and ``functions`` as YAQL functions; a Jinja string by
    :func:`~packhorse.expr.jinja.render_value` with the names of ``context`` and ``functions``
    (functions win on a clash); other strings and values pass through. Raises
    :class:`~packhorse.errors.ExpressionError`, for a mixed string too.
    """
    if isinstance(value, str):
        yaql_text, jinja_text = is_yaql(value), is_jinja(value)
        if yaql_text and jinja_text:
            raise _mixed(value)
        if yaql_text:
            return render_yaql(value, context, functions=functions)
        if jinja_text:
            names = {**context, **functions} if functions else context
            return render_value(value, names)
        return value
    if isinstance(value, dict):
        rendered: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = render_expression_value(key, context, functions=functions)
            try:
                rendered[new_key] = render_expression_value(item, context, functions=functions)
            except TypeError as error:  # the key evaluated to something unhashable
                raise ExpressionError(str(key), f"TypeError: {error}") from error
        return rendered
    if isinstance(value, list):
        return [render_expression_value(item, context, functions=functions) for item in value]
    return value


def expression_syntax_errors(value: Any) -> list[ExpressionError]:
    """Every syntax error of either language in ``value`` (strings, dict keys and values, list
    items), and every string mixing the two, without evaluating anything."""
    if isinstance(value, str):
        yaql_text, jinja_text = is_yaql(value), is_jinja(value)
        if yaql_text and jinja_text:
            return [_mixed(value)]
        if yaql_text:
            return yaql_syntax_errors(value)
        return syntax_errors(value) if jinja_text else []
    errors: list[ExpressionError] = []
    if isinstance(value, dict):
        for key, item in value.items():
            errors.extend(expression_syntax_errors(key))
            errors.extend(expression_syntax_errors(item))
    elif isinstance(value, list):
        for item in value:
            errors.extend(expression_syntax_errors(item))
    return errors
