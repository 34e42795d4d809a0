"""The sandboxed Jinja environment and compiled-template caches behind ``packhorse.expr.jinja``.

Internal to ``packhorse.expr``: :func:`environment` and :func:`is_jinja` are re-exported by
``packhorse.expr``; the rest serves the renderings in ``jinja.py``.

* One :class:`SandboxedEnvironment` per setting (strict or lenient undefined, trailing newline
  kept or not), with StackStorm's options, every function of
  :data:`~packhorse.expr.functions.FUNCTIONS` as a filter and a global, and ``decrypt_kv``.
  orquesta's workflow functions (``ctx``, ``result``...) are filters too, as orquesta registers
  them; as globals they are given only to workflow renderings (a name in a template must stay
  undefined elsewhere), which pass them with the context.
* Templates are compiled once per text (LRU caches) and run without ``Template.render``'s
  per-call copy of the globals; a text that is one plain lookup (``{{ trigger.body.x }}``) is
  evaluated without a template context at all.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    ValuesView,
)
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from jinja2 import StrictUndefined, Undefined, nodes, pass_context
from jinja2.environment import Environment, Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from packhorse.errors import ExpressionError
from packhorse.expr.datastore import Datastore, KeyValueLookup, decrypt_lookup
from packhorse.expr.functions import FUNCTIONS
from packhorse.expr.functions.workflow import WORKFLOW_FUNCTIONS

__all__ = [
    "BLOCK",
    "EXPRESSION",
    "NOT_SINGLE",
    "RAW_BLOCK",
    "CompiledTemplate",
    "Path",
    "SingleExpression",
    "compile_single",
    "compile_template",
    "environment",
    "expression_error",
    "is_jinja",
    "native_value",
    "reevaluation",
    "run_single",
    "run_template",
]

# orquesta's detection, except that an expression may span lines (orquesta leaves a multi-line
# expression unevaluated).
EXPRESSION: Final = re.compile(r"{{.*?}}", re.DOTALL)
BLOCK: Final = re.compile(r"{%.*?%}", re.DOTALL)
RAW_BLOCK: Final = re.compile(r"{%-?\s*raw\s*-?%}.*?{%-?\s*endraw\s*-?%}", re.DOTALL)

# Resource guards: the sandbox stops code execution; these stop the cheap ways to exhaust memory
# or CPU from a template, which matter because orquesta evaluates data that is itself a
# template (``9 ** (9 ** 9)``, ``'x' * 10**10``, ``'x'.center(10**10)``, ``'x' | indent(10**10)``).
# Intercepting the operators also keeps Jinja from folding them at compile time. Not covered:
# widths inside format strings (``'{:>999999999}'.format(x)``).
_MAX_POWER_BITS: Final = 100_000
_MAX_REPEAT_ITEMS: Final = 1_000_000
_MAX_SIZE_ARGUMENT: Final = 1_000_000
# Filters whose integer arguments size what they build.
_SIZED_FILTERS: Final = ("center", "indent", "batch", "slice", "format")


def _check_sizes(name: str, arguments: Iterable[Any]) -> None:
    for argument in arguments:
        if type(argument) is int and argument > _MAX_SIZE_ARGUMENT:
            raise OverflowError(f"an argument of {name} is too large ({argument})")


def _bounded(name: str, filter_function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(filter_function)  # keeps Jinja's pass_context/pass_eval_context marks
    def bounded(*arguments: Any, **keywords: Any) -> Any:
        _check_sizes(name, [*arguments, *keywords.values()])
        return filter_function(*arguments, **keywords)

    return bounded


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Fail at once, strict or not: a lenient Undefined would render a refused attribute
        # as an empty string and hide the refusal.
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe."
        )

    def call(self, context: Context, obj: Any, /, *arguments: Any, **keywords: Any) -> Any:
        if isinstance(getattr(obj, "__self__", None), str | bytes | list | tuple):
            # A method of a string or list (center, ljust, zfill, expandtabs...).
            _check_sizes(getattr(obj, "__name__", "a method"), [*arguments, *keywords.values()])
        return super().call(context, obj, *arguments, **keywords)

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and right > 0
                and left.bit_length() * right > _MAX_POWER_BITS
            ):
                raise OverflowError("the result of ** is too large")
            return operator.pow(left, right)
        for sequence, count in ((left, right), (right, left)):
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(count, int)
                and len(sequence) * count > _MAX_REPEAT_ITEMS
            ):
                raise OverflowError("the result of * is too large")
        return operator.mul(left, right)


# Set by render_value while it renders a template: the output hook passes every string result
# that is itself a template to it, to be evaluated again (orquesta's behaviour). Unset for the
# StackStorm renderings, which print such strings as they are.
reevaluation: ContextVar[Callable[[str], Any] | None] = ContextVar("reevaluation", default=None)


@pass_context
def _finalize(_context: Context, value: Any) -> Any:
    # pass_context keeps Jinja from calling this at compile time on constants, which would bake
    # one rendering's results into the cached template.
    return _finalized(value)


@pass_context
def _decrypt_kv(context: Context, value: Any) -> str:
    """``{{ st2kv.system.k | decrypt_kv }}``; a plain string is decrypted with the context's
    datastore key."""
    if isinstance(value, KeyValueLookup):
        return decrypt_lookup(value)
    datastore = context.get("st2kv")
    if not isinstance(datastore, Datastore):
        raise ValueError("decrypt_kv is not available here: no datastore in the context")
    return datastore.decrypt(str(value))


def _contains(item: Any, container: Any) -> bool:
    return item in container


@lru_cache(maxsize=4)
def _environment(strict: bool, keep_trailing_newline: bool) -> _Sandbox:
    env = _Sandbox(
        undefined=StrictUndefined if strict else Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
        finalize=_finalize,
        autoescape=False,
    )
    env.filters.update(FUNCTIONS)
    env.filters.update(WORKFLOW_FUNCTIONS)
    for name in _SIZED_FILTERS:
        env.filters[name] = _bounded(name, env.filters[name])
    env.filters["decrypt_kv"] = _decrypt_kv
    env.globals.update(FUNCTIONS)
    env.globals["decrypt_kv"] = _decrypt_kv
    env.tests["in"] = _contains
    return env


def environment(*, strict: bool = True) -> SandboxedEnvironment:
    """The shared sandboxed environment: StackStorm's settings (``trim_blocks``,
    ``lstrip_blocks``), every function of :data:`~packhorse.expr.functions.FUNCTIONS` as a
    filter and a global, ``decrypt_kv``, and ``StrictUndefined`` unless ``strict`` is false.

    It is shared and cached: do not change it.
    """
    return _environment(strict, False)


def is_jinja(text: Any) -> bool:
    """Whether ``text`` is a string holding a Jinja expression ``{{ }}`` or block ``{% %}``."""
    return isinstance(text, str) and bool(EXPRESSION.search(text) or BLOCK.search(text))


def expression_error(expression: str, error: BaseException) -> ExpressionError:
    return ExpressionError(expression, f"{type(error).__name__}: {error}")


Path = tuple[str, tuple[tuple[bool, Any], ...]]
"""A plain lookup such as ``trigger.body.x`` or ``a['b'][0]``: the root name and its steps,
each ``(is_attribute, key)``."""

_TEXT: Final = 0
_LOOKUP: Final = 1
_CONSTANT: Final = 2


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A compiled template; ``pieces`` is set when it is only text and plain lookups (``echo
    {{ trigger.body.msg }}``, the usual action parameter), which :func:`run_template` then
    joins itself: each lookup printed as Jinja prints it, without a template context."""

    template: Template
    pieces: tuple[tuple[int, Any], ...] | None


@lru_cache(maxsize=4096)
def compile_template(text: str, strict: bool, keep_trailing_newline: bool) -> CompiledTemplate:
    env = _environment(strict, keep_trailing_newline)
    try:
        tree = env.parse(text)
        pieces = _pieces(tree)  # before compiling: the compiler's optimiser rewrites the tree
        return CompiledTemplate(env.from_string(tree), pieces)
    except Exception as error:
        raise expression_error(text, error) from error


def _pieces(tree: nodes.Template) -> tuple[tuple[int, Any], ...] | None:
    if not tree.body:
        return ()
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    pieces: list[tuple[int, Any]] = []
    for child in tree.body[0].nodes:
        if isinstance(child, nodes.TemplateData):
            pieces.append((_TEXT, child.data))
        elif isinstance(child, nodes.Const):
            pieces.append((_CONSTANT, child.value))
        elif (path := _lookup_path(child)) is not None:
            pieces.append((_LOOKUP, path))
        else:
            return None
    return tuple(pieces)


@dataclass(frozen=True, slots=True)
class SingleExpression:
    """A text that is exactly one expression, compiled to assign its value to ``result``.

    ``path`` is set when the expression is a plain lookup (the usual case). Such a lookup is
    evaluated with the environment's own ``getattr`` and ``getitem``, which is what the
    compiled template would call, without building a template context.
    """

    program: Template
    path: Path | None = None


NOT_SINGLE: Final = object()


def _scope(template: Template, context: Mapping[str, Any]) -> Context:
    # Template.render copies the globals out of a ChainMap (twice) on every call, which costs
    # more than rendering a small template; one dict merge of the globals and the context, as
    # the parent scope, gives templates the same names for a fraction of the cost.
    environment = template.environment
    return environment.context_class(
        environment,
        {**environment.globals, **context},
        template.name,
        template.blocks,
    )


def _finalized(value: Any) -> Any:
    reevaluate = reevaluation.get()
    if reevaluate is None or not isinstance(value, str) or not is_jinja(value):
        return value
    return reevaluate(value)


def run_template(compiled: CompiledTemplate, context: Mapping[str, Any]) -> str:
    """Render to a string; Jinja's exceptions propagate."""
    template = compiled.template
    if compiled.pieces is None:
        return template.environment.concat(template.root_render_func(_scope(template, context)))
    # What the compiled code does for an output of text and expressions: the text as it is,
    # each value through finalize and str() (which is where an undefined value fails).
    parts: list[str] = []
    for kind, piece in compiled.pieces:
        if kind == _TEXT:
            parts.append(piece)
        elif kind == _CONSTANT:
            parts.append(str(_finalized(piece)))
        else:
            parts.append(str(_finalized(_lookup(template.environment, piece, context))))
    return "".join(parts)


def _lookup(environment: Environment, path: Path, context: Mapping[str, Any]) -> Any:
    root, steps = path
    if root in context:
        value = context[root]
    elif root in environment.globals:
        value = environment.globals[root]
    else:
        value = environment.undefined(name=root)
    for is_attribute, key in steps:
        # A plain dict key that is not a dict attribute: what getattr would find, minus the
        # AttributeError it raises and catches on the way.
        if type(value) is dict and key in value and key not in _DICT_ATTRIBUTES:
            value = value[key]
        elif is_attribute:
            value = environment.getattr(value, key)
        else:
            value = environment.getitem(value, key)
    return value


def run_single(single: SingleExpression, context: Mapping[str, Any]) -> Any:
    """The value of a one-expression text; Jinja's exceptions propagate."""
    if single.path is not None:
        return _lookup(single.program.environment, single.path, context)
    scope = _scope(single.program, context)
    for _ in single.program.root_render_func(scope):
        pass
    return scope.vars["result"]


@lru_cache(maxsize=4096)
def compile_single(text: str, strict: bool) -> SingleExpression | object:
    """The compiled expression when ``text`` is exactly one ``{{ expression }}``, else
    ``NOT_SINGLE``. Uses Jinja's parser, not a regular expression, so ``{{ {'a': {}} }}`` and
    ``{{- x -}}`` are recognised and ``{{ a }}{{ b }}`` is not."""
    if not (text.startswith("{{") and text.endswith("}}")):
        return NOT_SINGLE
    env = _environment(strict, True)
    try:
        tree = env.parse(text)
    except Exception as error:
        raise expression_error(text, error) from error
    body = tree.body
    if not (
        len(body) == 1
        and isinstance(body[0], nodes.Output)
        and len(body[0].nodes) == 1
        and not isinstance(body[0].nodes[0], nodes.TemplateData)
    ):
        return NOT_SINGLE
    # What Environment.compile_expression builds, from the node we already parsed.
    expression = body[0].nodes[0]
    path = _lookup_path(expression)
    assign = nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)
    program = nodes.Template([assign], lineno=1)
    program.set_environment(env)
    try:
        return SingleExpression(env.from_string(program), path)
    except Exception as error:
        raise expression_error(text, error) from error


_DICT_ATTRIBUTES: Final = frozenset(dir(dict))

# Names Jinja's compiler treats specially; they never take the lookup shortcut.
_SPECIAL_NAMES: Final = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})


def _lookup_path(node: nodes.Node) -> Path | None:
    steps: list[tuple[bool, Any]] = []
    while True:
        if isinstance(node, nodes.Getattr):
            steps.append((True, node.attr))
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            steps.append((False, node.arg.value))
            node = node.node
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            if node.name in _SPECIAL_NAMES:
                return None
            return node.name, tuple(reversed(steps))
        else:
            return None


_PLAIN_TYPES: Final = frozenset({str, int, float, bool, type(None), dict, list, tuple})


def native_value(value: Any, expression: str) -> Any:
    """An expression's value as data: iterators (``map()``, ``reverse``...), ranges and dict
    views become lists, a datastore lookup its string; undefined fails (or is the empty string
    when lenient)."""
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, Undefined):
        try:
            str(value)  # StrictUndefined raises here with Jinja's message
        except Exception as error:
            raise expression_error(expression, error) from error
        return ""
    if isinstance(value, Iterator | range | KeysView | ValuesView | ItemsView):
        try:
            return list(value)  # filters such as map() fail only when the generator runs
        except Exception as error:
            raise expression_error(expression, error) from error
    if isinstance(value, KeyValueLookup):
        return str(value)  # datastore values are strings; the lazy object must not leak out
    return value
