"""Enforcement of a matched rule: its action context and its rendered action parameters (pure).

StackStorm's rule enforcer builds an action context ``{trigger_instance, rule, user, pack}``
and hands the rule's ``action.parameters`` to its live-parameter rendering with the trigger
payload available as ``trigger`` (stackstorm-packs.md §4.1); the values it renders are then
final (never rendered again) and go through the action's defaults and casting.

Two ways to use this module:

* :func:`render_context` gives the :class:`~packhorse.params.RenderContext` for
  :func:`packhorse.params.render_parameters` with the rule's parameters, as they are written,
  as the live values: one rendering, in dependency order with the action's other parameters,
  as StackStorm does;
* :func:`render_action_parameters` renders just the parameters the rule writes, without the
  action's schema: what the rule asks for, for the rule tester, shadow replay and enforcement
  records. A parameter that refers to another action parameter (rare) fails here, since only
  the schema knows it.

Rendered values are final. They may hold payload text verbatim: never render them again (a
payload value ``{{ st2kv.system.password | decrypt_kv }}`` would be evaluated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packhorse.errors import ExpressionError
from packhorse.expr import Datastore, render_param_template
from packhorse.expr.datastore import Decrypt, Lookup
from packhorse.model.content import split_ref
from packhorse.model.rules import Rule, TriggerInstance
from packhorse.params import RenderContext

__all__ = [
    "ParametersFailed",
    "ParametersRendered",
    "action_context",
    "render_action_parameters",
    "render_context",
]


@dataclass(frozen=True, slots=True)
class ParametersRendered:
    parameters: dict[str, Any]
    """The rule's action parameters, rendered (StackStorm's ``use_none`` marker is left for
    the parameter casting to turn into None)."""


@dataclass(frozen=True, slots=True)
class ParametersFailed:
    message: str
    """``Failed to render parameter "name": <error>``, StackStorm's wording."""
    parameter: str


def action_context(rule: Rule, trigger_instance: TriggerInstance, *, user: str) -> dict[str, Any]:
    """The execution context of a rule enforcement: ``trigger_instance``, ``rule``, ``user``
    (the system user) and ``pack`` (the action's pack), which templates read as
    ``action_context``. StackStorm gives ``{id, name}`` for the rule and the trigger instance;
    we add the rule's ``ref`` and ``pack`` and the instance's ``occurrence_time``."""
    return {
        "trigger_instance": {
            "id": trigger_instance.id,
            "name": None,
            "occurrence_time": trigger_instance.occurrence_time,
        },
        "rule": {"id": rule.id, "name": rule.name, "ref": rule.ref, "pack": rule.pack},
        "user": user,
        "pack": split_ref(rule.action_ref)[0],
    }


def render_context(
    payload: Any,
    context: Mapping[str, Any],
    datastore_lookup: Lookup,
    *,
    config: Mapping[str, Any] | None = None,
    decrypt: Decrypt | None = None,
) -> RenderContext:
    """The names a rule's action parameters see: ``trigger`` (the payload), ``action_context``
    (``context``), ``st2kv`` (``st2kv.user`` bound to the context's user) and
    ``config_context`` (the action pack's resolved config)."""
    user = context.get("api_user") or context.get("user")
    return RenderContext(
        datastore=Datastore(
            datastore_lookup, user=None if user is None else str(user), decrypt=decrypt
        ),
        config=config or {},
        action_context=context,
        trigger=payload,
    )


def render_action_parameters(
    rule: Rule,
    payload: Any,
    context: Mapping[str, Any],
    datastore_lookup: Lookup,
    *,
    config: Mapping[str, Any] | None = None,
    decrypt: Decrypt | None = None,
) -> ParametersRendered | ParametersFailed:
    """Render the Jinja in ``rule.action_parameters`` over the trigger ``payload``, the action
    ``context`` (:func:`action_context`), the datastore and the pack ``config``, as StackStorm
    renders live parameters (:func:`packhorse.expr.render_param_template`: strings render to
    strings, ``{{name}}`` items of lists and dicts keep their type). Never raises for a
    rule's content: the first parameter that fails gives :class:`ParametersFailed`."""
    variables = render_context(
        payload, context, datastore_lookup, config=config, decrypt=decrypt
    ).variables()
    rendered: dict[str, Any] = {}
    for name, value in rule.action_parameters.items():
        try:
            rendered[name] = render_param_template(value, variables)
        except ExpressionError as error:
            return ParametersFailed(f'Failed to render parameter "{name}": {error.reason}', name)
    return ParametersRendered(rendered)
