"""How the action-chain runner renders vars, node parameters and publish.

StackStorm renders all three with ``st2common.util.jinja.render_values``; the template context
differs per use (:func:`vars_scope`, :func:`parameters_scope`, :func:`publish_scope`, copied
from ``ChainHolder._get_rendered_vars``, ``ActionChainRunner._resolve_params`` and
``_render_publish_vars``). ``render_values`` renders each top-level value on its own:

* a string renders to a string, always through Jinja: ``trim_blocks`` and ``lstrip_blocks``,
  one trailing newline dropped even from a string without any template, ``StrictUndefined``;
* a list or dict is written as JSON text, rendered as one template and decoded back, so every
  string inside (keys too) renders to a string, keeping its trailing newline; we render those
  strings one by one instead, which gives the same values without StackStorm's breakage when a
  value holds a double quote or a backslash (docs/compatibility.md);
* anything else (numbers, booleans, null) is kept as it is.

Every template also sees ``__context``, the whole context as one mapping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from packhorse.errors import ExpressionError
from packhorse.expr import Datastore, render_template

RESULTS_KEY: Final = "__results"
"""Results of the nodes run so far, by node name (also reachable by bare node name)."""


class RenderFailure(Exception):
    """One value of a mapping failed to render (StackStorm attaches ``key`` and ``value``)."""

    def __init__(self, key: str, template: str, error: ExpressionError) -> None:
        name, _, message = error.reason.partition(": ")
        super().__init__(message or name)
        self.key = key
        self.template = template
        """The failing value as StackStorm shows it (a list or dict as JSON text)."""
        self.error_name = name if message else type(error).__name__
        """The class of the underlying Jinja error, e.g. ``UndefinedError``."""
        self.message = message or name
        """The underlying error's own message, e.g. ``'x' is undefined``."""


def render_values(mapping: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Render every value of ``mapping`` over ``context``; raises :class:`RenderFailure` for
    the first value that fails."""
    scope = {"__context": context, **context}
    rendered: dict[str, Any] = {}
    for key, value in mapping.items():
        try:
            rendered[key] = _render_top(value, scope)
        except ExpressionError as error:
            raise RenderFailure(key, _shown(value), error) from error
    return rendered


def _render_top(value: Any, scope: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render_template(value, scope)
    if isinstance(value, dict | list):
        return _render_nested(value, scope)
    return value


def _render_nested(value: Any, scope: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render_template(value, scope, keep_trailing_newline=True)
    if isinstance(value, dict):
        return {
            _render_nested(key, scope): _render_nested(item, scope) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_render_nested(item, scope) for item in value]
    return value


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def _datastore_names(functions: Mapping[str, Any]) -> dict[str, Any]:
    """The host functions, plus ``system`` (StackStorm's older name for ``st2kv.system``) when
    the host gives ``st2kv`` but no ``system``."""
    names = dict(functions)
    datastore = names.get("st2kv")
    if "system" not in names and isinstance(datastore, Datastore):
        names["system"] = datastore.system
    return names


def vars_scope(parameters: Mapping[str, Any], functions: Mapping[str, Any]) -> dict[str, Any]:
    """What ``vars`` see: ``st2kv`` (the host functions) and the chain's parameters, which win
    over a function of the same name. Vars do not see each other."""
    return {**functions, **parameters}


def parameters_scope(
    parameters: Mapping[str, Any],
    *,
    results: Mapping[str, Any],
    variables: Mapping[str, Any],
    functions: Mapping[str, Any],
    action_context: Mapping[str, Any],
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """What node parameters see, later names winning: the chain's parameters, earlier results
    by node name, vars and published names, ``__results``, ``system`` and ``st2kv``,
    ``action_context`` (``{"parent": ...}``) and ``config_context``. A host that keeps the
    pack config out of the stored state (it holds decrypted secrets) passes it as the
    ``config_context`` function instead."""
    return {
        **parameters,
        **results,
        **variables,
        RESULTS_KEY: results,
        **_datastore_names(functions),
        "action_context": action_context,
        "config_context": functions.get("config_context", config),
    }


def publish_scope(
    parameters: Mapping[str, Any],
    *,
    node: str,
    result: Any,
    results: Mapping[str, Any],
    variables: Mapping[str, Any],
    functions: Mapping[str, Any],
) -> dict[str, Any]:
    """What ``publish`` sees: as parameters do, the node's own result under its name, but
    neither ``action_context`` nor ``config_context`` (StackStorm leaves them out)."""
    return {
        **parameters,
        node: result,
        **results,
        **variables,
        RESULTS_KEY: results,
        **_datastore_names(functions),
    }
