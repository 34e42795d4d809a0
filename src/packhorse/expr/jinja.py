"""The ways StackStorm and orquesta render Jinja templates.

Which function to call:

* :func:`render_value`: orquesta's evaluation of workflow ``input``, ``vars``, ``publish``,
  task ``input``... (reference/orquesta.md §1.8). Types survive: a string that is exactly one
  ``{{ expression }}`` gives the expression's value (int, list, dict, None...); other strings
  give strings; dicts (keys too) and lists are walked; a string result that is itself a
  template is evaluated again.
* :func:`render_param_template`: StackStorm's rendering of action parameters and their defaults
  (rule ``action.parameters``, ``default: "{{ ... }}"``; stackstorm-packs.md §3.2, §4.1). A
  string renders to a string, which the caller then casts by the parameter's type.
* :func:`render_criteria_pattern`: StackStorm's rendering of a rule criterion's ``pattern``,
  which keeps the type of a single expression (``to_complex``) and is otherwise a string;
  :func:`prepare_criteria_pattern` compiles one once, for a rule matched many times.
* :func:`render_template`: plain string rendering, for everything else.

:func:`syntax_errors` checks templates without evaluating them, for validation.

Every failure, whether syntax, undefined name, sandbox refusal or an error raised by a filter,
is an :class:`~packhorse.errors.ExpressionError`; no Jinja exception escapes. ``strict=False``
renders undefined names as empty strings, as StackStorm's ``allow_undefined`` environment does
(used by its chatops formatting); everything else in StackStorm is strict.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import TemplateSyntaxError

from packhorse.errors import ExpressionError
from packhorse.expr.functions.data import json_parse_strict, to_complex
from packhorse.expr.sandbox import (
    BLOCK,
    EXPRESSION,
    RAW_BLOCK,
    CompiledTemplate,
    SingleExpression,
    compile_single,
    compile_template,
    environment,
    expression_error,
    is_jinja,
    native_value,
    reevaluation,
    run_single,
    run_template,
)

__all__ = [
    "MAX_REEVALUATION_DEPTH",
    "CriteriaPattern",
    "environment",
    "is_jinja",
    "prepare_criteria_pattern",
    "render_criteria_pattern",
    "render_param_template",
    "render_template",
    "render_value",
    "syntax_errors",
]

MAX_REEVALUATION_DEPTH: Final = 16
"""How many times :func:`render_value` evaluates a result that is itself a template."""

# StackStorm gives a list or dict parameter leaf that is exactly "{{name}}" (no spaces) the type
# of the named value, by rewriting it to "{{name | to_complex}}"; other leaves are strings.
_TYPED_LEAF: Final = re.compile(r"{{([A-z0-9_-]+)}}")


def _locate_failure(text: str, context: Mapping[str, Any], strict: bool) -> ExpressionError | None:
    """The error of the first ``{{ }}`` of ``text`` that fails on its own, so that a message
    names the expression at fault (as orquesta's does) rather than the whole text."""
    for found in EXPRESSION.finditer(text):
        try:
            expression = compile_single(found.group(), strict)
            if isinstance(expression, SingleExpression):
                native_value(run_single(expression, context), found.group())
        except ExpressionError as error:
            return error
        except Exception as error:  # noqa: BLE001 - it becomes the error we report
            return expression_error(found.group(), error)
    return None


def _render(template: CompiledTemplate, text: str, context: Mapping[str, Any], strict: bool) -> str:
    try:
        return run_template(template, context)
    except ExpressionError:
        raise
    except Exception as error:
        located = None if BLOCK.search(text) else _locate_failure(text, context, strict)
        raise (located or expression_error(text, error)) from error


def render_template(
    text: str,
    context: Mapping[str, Any],
    *,
    strict: bool = True,
    keep_trailing_newline: bool = False,
) -> str:
    """Render ``text`` as a Jinja template to a string (Jinja's rules: a single trailing newline
    is dropped, unless ``keep_trailing_newline``). Any failure is an
    :class:`~packhorse.errors.ExpressionError`."""
    template = compile_template(text, strict, keep_trailing_newline)
    return _render(template, text, context, strict)


def _evaluate_string(text: str, context: Mapping[str, Any], strict: bool, depth: int) -> Any:
    if depth > MAX_REEVALUATION_DEPTH:
        raise ExpressionError(
            text,
            f"RecursionError: a value is a template more than {MAX_REEVALUATION_DEPTH} levels deep",
        )
    if not is_jinja(text):
        return text
    expression = compile_single(text, strict)
    if isinstance(expression, SingleExpression):
        try:
            value = run_single(expression, context)
        except ExpressionError:
            raise
        except Exception as error:
            raise expression_error(text, error) from error
        value = native_value(value, text)
        if isinstance(value, str) and is_jinja(value):
            return _evaluate_string(value, context, strict, depth + 1)
        return value
    # Several expressions, text around them, or blocks: a string. orquesta substitutes inline
    # expressions into the text as it is (a trailing newline stays) but renders a text with
    # blocks as a whole template (Jinja drops a trailing newline); raw sections are not blocks.
    has_blocks = BLOCK.search(RAW_BLOCK.sub("", text)) is not None
    template = compile_template(text, strict, not has_blocks)
    token = reevaluation.set(lambda result: _evaluate_string(result, context, strict, depth + 1))
    try:
        return _render(template, text, context, strict)
    finally:
        reevaluation.reset(token)


def render_value(value: Any, context: Mapping[str, Any], *, strict: bool = True) -> Any:
    """Evaluate ``value`` the way orquesta evaluates workflow expressions, keeping types.

    * a string that is exactly one ``{{ expression }}`` gives its value, whatever its type
      (the object from the context itself, not a copy); generators become lists;
    * any other string with ``{{ }}`` or ``{% %}`` gives a string; ``{% raw %}`` sections are
      kept as written;
    * a string result that is itself a template is evaluated again, up to
      :data:`MAX_REEVALUATION_DEPTH` levels (orquesta's behaviour: ``x = "{{ y }}"`` makes
      ``{{ x }}`` give the value of ``y``);
    * dicts (keys and values) and lists are evaluated item by item; other values pass through.

    ``context`` gives the names templates see (the workflow engine puts ``ctx`` and the other
    workflow functions there). Raises :class:`~packhorse.errors.ExpressionError`.
    """
    if isinstance(value, str):
        return _evaluate_string(value, context, strict, 0)
    if isinstance(value, dict):
        rendered: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = render_value(key, context, strict=strict)
            try:
                rendered[new_key] = render_value(item, context, strict=strict)
            except TypeError as error:  # the key evaluated to something unhashable
                raise expression_error(str(key), error) from error
        return rendered
    if isinstance(value, list):
        return [render_value(item, context, strict=strict) for item in value]
    return value


def render_param_template(value: Any, context: Mapping[str, Any], *, strict: bool = True) -> Any:
    """Render an action parameter value or default the way StackStorm does.

    Used for rule ``action.parameters``, action and runner parameter defaults and live
    parameters; the caller casts the result by the parameter's type (``integer``, ``boolean``,
    ``object``...) and turns :data:`~packhorse.expr.functions.NONE_MAGIC_VALUE` into None.

    * a string holding ``{{`` or ``{%`` renders to a string; one that does not parse as Jinja is
      a literal (so ``--format '{{.Names}}'`` survives, as in StackStorm);
    * in a dict or list, a string item that is exactly ``{{name}}`` (no spaces) takes the type of
      the value (StackStorm's ``to_complex`` rewrite); other string items render to strings.
      StackStorm renders the whole structure as JSON text, so a value containing a quote or a
      backslash breaks or corrupts it; we render item by item;
    * anything else is returned as it is.
    """
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        try:
            compile_template(value, strict, False)
        except ExpressionError as error:
            if isinstance(error.__cause__, TemplateSyntaxError):
                return value
            raise
        return render_template(value, context, strict=strict)
    if isinstance(value, dict | list):
        return _render_param_item(value, context, strict)
    return value


def _render_param_item(value: Any, context: Mapping[str, Any], strict: bool) -> Any:
    if isinstance(value, dict):
        return {
            render_param_template(key, context, strict=strict): _render_param_item(
                item, context, strict
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_render_param_item(item, context, strict) for item in value]
    if isinstance(value, str) and _TYPED_LEAF.fullmatch(value):
        return _typed(value, context, strict)
    return render_param_template(value, context, strict=strict)


def _typed(text: str, context: Mapping[str, Any], strict: bool) -> Any:
    """The value of a one-expression ``text`` normalised through JSON, as StackStorm's
    ``to_complex`` and JSON decoding do (tuples become lists, lookups strings)."""
    expression = compile_single(text, strict)
    if not isinstance(expression, SingleExpression):
        raise ExpressionError(text, "ValueError: not a single expression")
    return _typed_value(expression, text, context)


_JSON_SCALARS: Final = frozenset({str, int, bool, type(None)})


def _typed_value(expression: SingleExpression, text: str, context: Mapping[str, Any]) -> Any:
    try:
        value = native_value(run_single(expression, context), text)
        # What the JSON round trip gives back unchanged, without making it (the common case
        # of a rule pattern); NaN and infinities go through it and are refused, as in st2.
        if type(value) in _JSON_SCALARS or (type(value) is float and math.isfinite(value)):
            return value
        return json_parse_strict(to_complex(value))
    except ExpressionError:
        raise
    except Exception as error:
        raise expression_error(text, error) from error


def render_criteria_pattern(
    pattern: Any, context: Mapping[str, Any], *, strict: bool = True
) -> Any:
    """Render a rule criterion's ``pattern`` the way StackStorm's rule filter does.

    A pattern that is one ``{{ expression }}`` (surrounding spaces allowed) keeps the type of its
    value, normalised through JSON as StackStorm's ``to_complex`` does (tuples become lists);
    any other pattern with ``{{ }}`` or ``{% %}`` renders to a string; other values, None
    included, are returned as they are. Fixed: StackStorm fails on ``{{ st2kv.system.k }}``
    here (st2 #4043, #5260) and applies ``to_complex`` only to the last operand of an
    expression such as ``{{ a + 1 }}``.

    To render one pattern many times (a rule's, for each trigger instance), prepare it once
    with :func:`prepare_criteria_pattern`.
    """
    if not isinstance(pattern, str) or ("{{" not in pattern and "{%" not in pattern):
        return pattern
    stripped = pattern.strip()
    if not isinstance(compile_single(stripped, strict), SingleExpression):
        return render_template(pattern, context, strict=strict)
    return _typed(stripped, context, strict)


@dataclass(frozen=True, slots=True)
class CriteriaPattern:
    """A criterion pattern compiled once (:func:`prepare_criteria_pattern`); :meth:`render`
    gives what :func:`render_criteria_pattern` gives for it."""

    text: str
    strict: bool
    single: SingleExpression | None
    """Set when the pattern is one expression (its value keeps its type)."""
    template: CompiledTemplate | None
    """Set otherwise (the pattern renders to a string)."""

    def render(self, context: Mapping[str, Any]) -> Any:
        """Render over ``context``; raises :class:`~packhorse.errors.ExpressionError`."""
        if self.single is not None:
            return _typed_value(self.single, self.text.strip(), context)
        assert self.template is not None
        return _render(self.template, self.text, context, self.strict)


def prepare_criteria_pattern(pattern: str, *, strict: bool = True) -> CriteriaPattern:
    """Compile a string pattern that holds ``{{`` or ``{%`` for :meth:`CriteriaPattern.render`.
    A syntax error (or an unknown filter) raises :class:`~packhorse.errors.ExpressionError`
    here, as rendering would."""
    stripped = pattern.strip()
    single = compile_single(stripped, strict)
    if isinstance(single, SingleExpression):
        return CriteriaPattern(pattern, strict, single, None)
    return CriteriaPattern(pattern, strict, None, compile_template(pattern, strict, False))


def syntax_errors(value: Any) -> list[ExpressionError]:
    """Every Jinja syntax error in ``value``, without evaluating anything.

    Walks strings, dict keys and values and list items, as orquesta's validation does, and
    returns one error per failing ``{{ }}`` (or the whole text when only its blocks fail), so
    that workflow and pack validation can report them all at once. Unknown filters and tests
    are reported too: Jinja resolves them when it compiles.
    """
    if isinstance(value, str):
        return _text_syntax_errors(value)
    errors: list[ExpressionError] = []
    if isinstance(value, dict):
        for key, item in value.items():
            errors.extend(syntax_errors(key))
            errors.extend(syntax_errors(item))
    elif isinstance(value, list):
        for item in value:
            errors.extend(syntax_errors(item))
    return errors


def _text_syntax_errors(text: str) -> list[ExpressionError]:
    if not is_jinja(text):
        return []
    try:
        compile_template(text, True, False)
    except ExpressionError as whole:
        inline: list[ExpressionError] = []
        for found in EXPRESSION.finditer(text):
            try:
                compile_single(found.group(), True)
            except ExpressionError as error:
                inline.append(error)
        return inline or [whole]
    return []
