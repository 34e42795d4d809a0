"""Sandboxed Jinja with StackStorm's filters, and the three ways StackStorm renders templates.

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
  which keeps the type of a single expression (``to_complex``) and is otherwise a string.
* :func:`render_template`: plain string rendering, for everything else.

Every failure, whether syntax, undefined name, sandbox refusal or an error raised by a filter,
is an :class:`~packhorse.errors.ExpressionError`; no Jinja exception escapes. ``strict=False``
renders undefined names as empty strings, as StackStorm's ``allow_undefined`` environment does
(used by its chatops formatting); everything else in StackStorm is strict.
"""

from __future__ import annotations

import inspect
import operator
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes, pass_context
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from packhorse.errors import ExpressionError
from packhorse.expr.datastore import Datastore, KeyValueLookup
from packhorse.expr.functions import FUNCTIONS
from packhorse.expr.functions.data import json_parse_strict, to_complex

__all__ = [
    "MAX_REEVALUATION_DEPTH",
    "environment",
    "is_jinja",
    "render_criteria_pattern",
    "render_param_template",
    "render_template",
    "render_value",
]

# orquesta's detection, except that an expression may span lines (orquesta leaves a multi-line
# expression unevaluated).
_EXPRESSION: Final = re.compile(r"{{.*?}}", re.DOTALL)
_BLOCK: Final = re.compile(r"{%.*?%}", re.DOTALL)
_RAW_BLOCK: Final = re.compile(r"{%-?\s*raw\s*-?%}.*?{%-?\s*endraw\s*-?%}", re.DOTALL)
# StackStorm gives a list or dict parameter leaf that is exactly "{{name}}" (no spaces) the type
# of the named value, by rewriting it to "{{name | to_complex}}"; other leaves are strings.
_TYPED_LEAF: Final = re.compile(r"{{([A-z0-9_-]+)}}")

MAX_REEVALUATION_DEPTH: Final = 16
"""How many times :func:`render_value` evaluates a result that is itself a template."""

# Resource guards: the sandbox stops code execution, these stop the cheapest ways to exhaust
# memory or CPU from a template (``9**9**9``, ``'x' * 10**10``). They also keep Jinja from
# folding such constants at compile time. Filters such as ``center`` are not limited.
_MAX_POWER_BITS: Final = 100_000
_MAX_REPEAT_ITEMS: Final = 1_000_000


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Fail at once, strict or not: a lenient Undefined would render a refused attribute
        # as an empty string and hide the refusal.
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe."
        )

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


@dataclass(frozen=True, slots=True)
class _Reevaluation:
    context: Mapping[str, Any]
    strict: bool
    depth: int


# Set while render_value renders a template, so that the output hook re-evaluates string results
# that are templates themselves (orquesta's behaviour); unset for the StackStorm renderings.
_REEVALUATION: ContextVar[_Reevaluation | None] = ContextVar("_REEVALUATION", default=None)


@pass_context
def _finalize(_context: Context, value: Any) -> Any:
    # pass_context keeps Jinja from calling this at compile time on constants, which would bake
    # one rendering's results into the cached template.
    state = _REEVALUATION.get()
    if state is None or not isinstance(value, str) or not is_jinja(value):
        return value
    return _evaluate_string(value, state.context, state.strict, state.depth + 1)


@pass_context
def _decrypt_kv(context: Context, value: Any) -> str:
    """``{{ st2kv.system.k | decrypt_kv }}``; a plain string is decrypted with the context's
    datastore key."""
    if isinstance(value, KeyValueLookup):
        return value.decrypted()
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
    return isinstance(text, str) and bool(_EXPRESSION.search(text) or _BLOCK.search(text))


def _fail(expression: str, error: BaseException) -> ExpressionError:
    return ExpressionError(expression, f"{type(error).__name__}: {error}")


@lru_cache(maxsize=4096)
def _template(text: str, strict: bool, keep_trailing_newline: bool) -> Template:
    try:
        return _environment(strict, keep_trailing_newline).from_string(text)
    except Exception as error:
        raise _fail(text, error) from error


@dataclass(frozen=True, slots=True)
class _Single:
    """A text that is exactly one expression, compiled to assign its value to ``result``.

    ``path`` is set when the expression is a plain lookup such as ``trigger.body.x`` or
    ``a['b'][0]`` (the usual case): the root name and its steps, each ``(is_attribute, key)``.
    Such a lookup is evaluated with the environment's own ``getattr`` and ``getitem``, which is
    what the compiled template would call, without building a template context.
    """

    program: Template
    path: tuple[str, tuple[tuple[bool, Any], ...]] | None = None


_NOT_SINGLE: Final = object()


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


def _run(template: Template, context: Mapping[str, Any]) -> str:
    return template.environment.concat(template.root_render_func(_scope(template, context)))


def _run_single(single: _Single, context: Mapping[str, Any]) -> Any:
    if single.path is not None:
        environment = single.program.environment
        root, steps = single.path
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
    scope = _scope(single.program, context)
    for _ in single.program.root_render_func(scope):
        pass
    return scope.vars["result"]


@lru_cache(maxsize=4096)
def _single_expression(text: str, strict: bool) -> _Single | object:
    """The compiled expression when ``text`` is exactly one ``{{ expression }}``, else
    ``_NOT_SINGLE``. Uses Jinja's parser, not a regular expression, so ``{{ {'a': {}} }}`` and
    ``{{- x -}}`` are recognised and ``{{ a }}{{ b }}`` is not."""
    if not (text.startswith("{{") and text.endswith("}}")):
        return _NOT_SINGLE
    env = _environment(strict, True)
    try:
        tree = env.parse(text)
    except Exception as error:
        raise _fail(text, error) from error
    body = tree.body
    if not (
        len(body) == 1
        and isinstance(body[0], nodes.Output)
        and len(body[0].nodes) == 1
        and not isinstance(body[0].nodes[0], nodes.TemplateData)
    ):
        return _NOT_SINGLE
    # What Environment.compile_expression builds, from the node we already parsed.
    expression = body[0].nodes[0]
    path = _lookup_path(expression)
    assign = nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)
    program = nodes.Template([assign], lineno=1)
    program.set_environment(env)
    try:
        return _Single(env.from_string(program), path)
    except Exception as error:
        raise _fail(text, error) from error


_DICT_ATTRIBUTES: Final = frozenset(dir(dict))

# Names Jinja's compiler treats specially; they never take the lookup shortcut.
_SPECIAL_NAMES: Final = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})


def _lookup_path(node: nodes.Node) -> tuple[str, tuple[tuple[bool, Any], ...]] | None:
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


def _native(value: Any, expression: str) -> Any:
    """An expression's value as data: generators and ranges become lists, a datastore lookup
    its string; undefined fails (or is the empty string when lenient)."""
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, Undefined):
        try:
            str(value)  # StrictUndefined raises here with Jinja's message
        except Exception as error:
            raise _fail(expression, error) from error
        return ""
    if inspect.isgenerator(value) or isinstance(value, range):
        return list(value)
    if isinstance(value, KeyValueLookup):
        return str(value)  # datastore values are strings; the lazy object must not leak out
    return value


def _locate_failure(text: str, context: Mapping[str, Any], strict: bool) -> ExpressionError | None:
    """The error of the first ``{{ }}`` of ``text`` that fails on its own, so that a message
    names the expression at fault (as orquesta's does) rather than the whole text."""
    for found in _EXPRESSION.finditer(text):
        try:
            expression = _single_expression(found.group(), strict)
            if isinstance(expression, _Single):
                _native(_run_single(expression, context), found.group())
        except ExpressionError as error:
            return error
        except Exception as error:  # noqa: BLE001 - it becomes the error we report
            return _fail(found.group(), error)
    return None


def _render(template: Template, text: str, context: Mapping[str, Any], strict: bool) -> str:
    try:
        return _run(template, context)
    except ExpressionError:
        raise
    except Exception as error:
        located = None if _BLOCK.search(text) else _locate_failure(text, context, strict)
        raise (located or _fail(text, error)) from error


def render_template(text: str, context: Mapping[str, Any], *, strict: bool = True) -> str:
    """Render ``text`` as a Jinja template to a string (Jinja's rules: a single trailing newline
    is dropped). Any failure is an :class:`~packhorse.errors.ExpressionError`."""
    if text.startswith("{{") and text.endswith("}}"):
        single = _single_expression(text, strict)
        if isinstance(single, _Single) and single.path is not None:
            # A plain lookup: its string is what the template would print.
            try:
                return str(_native(_run_single(single, context), text))
            except ExpressionError:
                raise
            except Exception as error:
                raise _fail(text, error) from error
    return _render(_template(text, strict, False), text, context, strict)


def _evaluate_string(text: str, context: Mapping[str, Any], strict: bool, depth: int) -> Any:
    if depth > MAX_REEVALUATION_DEPTH:
        raise ExpressionError(
            text,
            f"RecursionError: a value is a template more than {MAX_REEVALUATION_DEPTH} levels deep",
        )
    if not is_jinja(text):
        return text
    expression = _single_expression(text, strict)
    if isinstance(expression, _Single):
        try:
            value = _run_single(expression, context)
        except ExpressionError:
            raise
        except Exception as error:
            raise _fail(text, error) from error
        value = _native(value, text)
        if isinstance(value, str) and is_jinja(value):
            return _evaluate_string(value, context, strict, depth + 1)
        return value
    # Several expressions, text around them, or blocks: a string. orquesta substitutes inline
    # expressions into the text as it is (a trailing newline stays) but renders a text with
    # blocks as a whole template (Jinja drops a trailing newline); raw sections are not blocks.
    has_blocks = _BLOCK.search(_RAW_BLOCK.sub("", text)) is not None
    template = _template(text, strict, not has_blocks)
    token = _REEVALUATION.set(_Reevaluation(context, strict, depth))
    try:
        return _render(template, text, context, strict)
    finally:
        _REEVALUATION.reset(token)


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
                raise _fail(str(key), error) from error
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
            _template(value, strict, False)
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
    expression = _single_expression(text, strict)
    if not isinstance(expression, _Single):
        raise ExpressionError(text, "ValueError: not a single expression")
    try:
        return json_parse_strict(to_complex(_native(_run_single(expression, context), text)))
    except ExpressionError:
        raise
    except Exception as error:
        raise _fail(text, error) from error


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
    """
    if not isinstance(pattern, str) or ("{{" not in pattern and "{%" not in pattern):
        return pattern
    stripped = pattern.strip()
    if not isinstance(_single_expression(stripped, strict), _Single):
        return render_template(pattern, context, strict=strict)
    return _typed(stripped, context, strict)
