"""Sandboxed Jinja and YAQL with StackStorm's and orquesta's functions and filters (pure).

Public surface:

* :func:`render_expression_value` and :func:`expression_syntax_errors`, which pick YAQL or
  Jinja per string as orquesta does (``packhorse.expr.unified``);
* :func:`render_yaql`, :func:`yaql_syntax_errors` and :func:`is_yaql` (``packhorse.expr.yaql``);
* :func:`render_value`, :func:`render_param_template`, :func:`render_criteria_pattern`,
  :func:`prepare_criteria_pattern` with :class:`CriteriaPattern`,
  :func:`render_template`, :func:`syntax_errors`, :func:`is_jinja` and :func:`environment`
  (``packhorse.expr.jinja``);
* :class:`Datastore`, the ``st2kv`` object of a render context (``packhorse.expr.datastore``);
* :data:`FUNCTIONS`, the registry of expression functions, and :data:`NONE_MAGIC_VALUE`
  (``packhorse.expr.functions``);
* orquesta's workflow functions (``ctx``, ``result``, ``succeeded``...), bound to the
  evaluation in progress with ``scope_bound`` (``packhorse.expr.functions.workflow``), and
  :class:`~packhorse.expr.yaql.YaqlFunctions` / :class:`~packhorse.expr.yaql.PreparedData`
  for renderings that reuse functions and data (``packhorse.expr.yaql``).

Failures raise :class:`packhorse.errors.ExpressionError`.
"""

from packhorse.errors import ExpressionError
from packhorse.expr.datastore import Datastore, KeyValueLookup
from packhorse.expr.functions import FUNCTIONS, NONE_MAGIC_VALUE
from packhorse.expr.jinja import (
    CriteriaPattern,
    environment,
    is_jinja,
    prepare_criteria_pattern,
    render_criteria_pattern,
    render_param_template,
    render_template,
    render_value,
    syntax_errors,
)
from packhorse.expr.unified import expression_syntax_errors, render_expression_value
from packhorse.expr.yaql import is_yaql, render_yaql, yaql_syntax_errors

__all__ = [
    "FUNCTIONS",
    "NONE_MAGIC_VALUE",
    "CriteriaPattern",
    "Datastore",
    "ExpressionError",
    "KeyValueLookup",
    "environment",
    "expression_syntax_errors",
    "is_jinja",
    "is_yaql",
    "prepare_criteria_pattern",
    "render_criteria_pattern",
    "render_expression_value",
    "render_param_template",
    "render_template",
    "render_value",
    "render_yaql",
    "syntax_errors",
    "yaql_syntax_errors",
]
