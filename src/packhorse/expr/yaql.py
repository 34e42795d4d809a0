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

For renderings that share functions (a workflow evaluates thousands of expressions with the
same ones), :class:`YaqlFunctions` registers them once, and :class:`PreparedData` converts the
data once. A function a :class:`YaqlFunctions` names as *direct* (pure, plain Python in and
out) is called without yaql when the expression is just that call with literal arguments,
followed by mapping keys (``ctx(x)``, ``succeeded()``, ``ctx().a.b``): yaql spends some 0.1 ms
dispatching a call. Whenever a shortcut cannot give yaql's answer (a key that is missing, a
value that is not a mapping, a function that raises), yaql evaluates the expression itself,
so values and messages stay yaql's.

Every failure is an :class:`~packhorse.errors.ExpressionError` of kind
``YaqlEvaluationException``; no yaql exception escapes.
"""

from __future__ import annotations

# yaql 3.2 uses collections.abc after a bare ``import collections``; import it first.
import collections.abc  # noqa: F401
import inspect
import re
from collections.abc import Callable, Collection, Mapping
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
    "PreparedData",
    "YaqlFunctions",
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
    chain = _key_chain(_parse(source).expression)
    if chain is None:
        return None
    node, keys = chain
    if type(node) is yaql_expressions.GetContextValue and node.path.value == "$":
        return keys
    return None


def _key_chain(node: Any) -> tuple[Any, tuple[str, ...]] | None:
    """``(receiver, keys)`` of ``receiver.k1.k2``: the node the keys are read from and the keys
    in order; None when a key is not a plain name."""
    keys: list[str] = []
    while isinstance(node, yaql_expressions.BinaryOperator) and node.operator == ".":
        receiver, key = node.args
        if type(key) is not yaql_expressions.KeywordConstant:
            return None
        keys.append(key.value)
        node = receiver
    return node, tuple(reversed(keys))


@lru_cache(maxsize=4096)
def _direct_call(source: str) -> tuple[str, tuple[Any, ...], tuple[str, ...]] | None:
    """``(name, arguments, keys)`` of an expression that is a call with literal arguments
    followed by keys (``f(a, 'b').k1.k2``), else None."""
    chain = _key_chain(_parse(source).expression)
    if chain is None:
        return None
    node, keys = chain
    if type(node) is not yaql_expressions.Function:
        return None
    arguments = []
    for argument in node.args:
        if type(argument) not in (yaql_expressions.Constant, yaql_expressions.KeywordConstant):
            return None
        arguments.append(argument.value)
    return node.name, tuple(arguments), keys


_NOT_A_PATH: Final = object()


def _walk_keys(value: Any, keys: tuple[str, ...]) -> Any:
    """The value at ``keys`` below ``value``, or :data:`_NOT_A_PATH` when a step is not a
    mapping holding the key (yaql then maps ``.`` over a list, raises, and so on)."""
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return _NOT_A_PATH
        value = value[key]
    return value


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


class YaqlFunctions:
    """Functions registered on a yaql context once, for many renderings.

    ``direct`` names the functions that may be called without yaql (see the module docstring):
    they must be pure and take and give plain Python values. ``parent`` adds these functions
    to another set (a name registered again here hides the parent's, direct or not).
    """

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]],
        *,
        direct: Collection[str] = (),
        parent: YaqlFunctions | None = None,
    ) -> None:
        base = parent.root if parent is not None else _ROOT_CONTEXT
        self.root: Any = base.create_child_context()
        _register(self.root, functions)
        inherited = parent.direct if parent is not None else {}
        self.direct: dict[str, Callable[..., Any]] = {
            name: function for name, function in inherited.items() if name not in functions
        }
        self.direct.update((name, functions[name]) for name in direct)


class PreparedData:
    """Data for yaql's ``$``, converted to yaql's form once however often it is used."""

    __slots__ = ("_converted", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self._converted: Any = _NOT_A_PATH

    def converted(self) -> Any:
        if self._converted is _NOT_A_PATH:
            self._converted = yaql_utils.convert_input_data(
                self.value if self.value is not None else {}
            )
        return self._converted


class _Evaluation:
    """One rendering: the data, the functions, and the yaql context, built when first needed
    (the shortcuts need none)."""

    __slots__ = ("_context", "data", "functions", "registered")

    def __init__(
        self,
        data: PreparedData,
        registered: YaqlFunctions | None,
        functions: Mapping[str, Callable[..., Any]] | None,
    ) -> None:
        self.data = data
        self.registered = registered
        self.functions = functions
        self._context: Any = None

    def context(self) -> Any:
        if self._context is None:
            base = self.registered.root if self.registered is not None else _ROOT_CONTEXT
            context = base.create_child_context()
            if self.functions:
                _register(context, self.functions)
            converted = self.data.converted()
            context["$"] = converted
            context["__vars"] = converted
            self._context = context
        return self._context

    def shortcut(self, source: str) -> Any:
        """The value of ``source`` without yaql, or :data:`_NOT_A_PATH`."""
        keys = _data_path(source)
        if keys is not None:
            value = _walk_keys(self.data.value if self.data.value is not None else {}, keys)
            return value if value is _NOT_A_PATH else _plain(value)
        if self.registered is None or not self.registered.direct:
            return _NOT_A_PATH
        call = _direct_call(source)
        if call is None:
            return _NOT_A_PATH
        name, arguments, keys = call
        function = self.registered.direct.get(name)
        if function is None or (self.functions and name in self.functions):
            return _NOT_A_PATH
        try:
            value = function(*arguments)
        except Exception:  # noqa: BLE001 - yaql evaluates it again and words the error
            return _NOT_A_PATH
        return _walk_keys(value, keys)


def _context(data: Any, functions: Mapping[str, Callable[..., Any]] | None) -> Any:
    """A yaql context holding ``data`` as ``$`` and the shared and given functions."""
    return _Evaluation(PreparedData(data), None, functions).context()


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


def _evaluate(expression: str, evaluation: _Evaluation) -> Any:
    source = _strip_delimiters(expression)
    try:
        value = evaluation.shortcut(source)
        if value is not _NOT_A_PATH:
            return value
        return _plain(_parse(source).evaluate(context=evaluation.context()))
    except ExpressionError:
        raise
    except Exception as error:
        raise _error(expression, error) from error


def _evaluate_string(text: str, evaluation: _Evaluation, depth: int) -> Any:
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
        return _result(_evaluate(text, evaluation), evaluation, depth)

    def substitute(found: re.Match[str]) -> str:
        return str(_result(_evaluate(found.group(), evaluation), evaluation, depth))

    return YAQL_EXPRESSION.sub(substitute, text)


def _result(value: Any, evaluation: _Evaluation, depth: int) -> Any:
    if isinstance(value, str) and is_yaql(value):
        return _evaluate_string(value, evaluation, depth + 1)
    return value


def _walk(value: Any, evaluation: _Evaluation) -> Any:
    if isinstance(value, str):
        return _evaluate_string(value, evaluation, 0)
    if isinstance(value, dict):
        rendered: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = _walk(key, evaluation)
            try:
                rendered[new_key] = _walk(item, evaluation)
            except TypeError as error:  # the key evaluated to something unhashable
                raise _error(str(key), error) from error
        return rendered
    if isinstance(value, list):
        return [_walk(item, evaluation) for item in value]
    return value


def render_yaql(
    value: Any,
    data: Any,
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    registered: YaqlFunctions | None = None,
) -> Any:
    """Evaluate the YAQL expressions in ``value`` as orquesta does, keeping types (see the
    module docstring). ``data`` is yaql's ``$`` (or a :class:`PreparedData`); ``registered``
    adds a set of functions registered once, and ``functions`` maps names to Python callables
    added to :data:`~packhorse.expr.functions.FUNCTIONS` for this call only. Raises
    :class:`~packhorse.errors.ExpressionError`.
    """
    if not isinstance(value, str | dict | list):
        return value
    prepared = data if isinstance(data, PreparedData) else PreparedData(data)
    evaluation = _Evaluation(prepared, registered, functions)
    if functions:
        try:
            evaluation.context()
        except Exception as error:  # a function yaql cannot register, unconvertible data
            text = value if isinstance(value, str) else ""
            raise ExpressionError(text, f"{type(error).__name__}: {error}", kind=KIND) from error
    return _walk(value, evaluation)


def yaql_grammar_problems(text: str) -> list[tuple[str, str]]:
    """``(expression, message)`` for each ``<% %>`` of ``text`` that does not parse, worded as
    orquesta's inspection words it: the parser's message as it is (``Parse error: unexpected
    '<' at position 0 of expression '<% x'``)."""
    problems: list[tuple[str, str]] = []
    for expression in YAQL_EXPRESSION.findall(text):
        try:
            _parse(_strip_delimiters(expression))
        except Exception as error:  # noqa: BLE001 - it becomes the problem we report
            problems.append((expression, str(getattr(error, "message", error))))
    return problems


def yaql_syntax_errors(text: str) -> list[ExpressionError]:
    """One error per ``<% %>`` of ``text`` that does not parse, without evaluating anything."""
    errors: list[ExpressionError] = []
    for expression in YAQL_EXPRESSION.findall(text):
        try:
            _parse(_strip_delimiters(expression))
        except Exception as error:  # noqa: BLE001 - it becomes the error we report
            errors.append(_error(expression, error))
    return errors
