"""StackStorm's parameter pipeline: live values and defaults in, typed runner and action
parameters out (stackstorm-packs.md §3.2, §4.1).

One call, :func:`render_parameters`, does what StackStorm spreads over its API controller
(``render_live_params``), its request service (validation, the immutable check) and its action
runner container (``render_final_params``):

1. refuse live values for parameters the action does not declare, and for immutable ones;
2. *live pass*: every live value and every default that is a Jinja template is rendered, in
   dependency order, over the other parameters and the context (``st2kv``, ``action_context``,
   ``config_context``, ``trigger``); a live value of None takes the default. The live values,
   and the template defaults of mutable parameters, are then cast by type;
3. *final pass*: those values are fixed (never rendered twice); the remaining defaults are
   rendered again over them (this is when an immutable default such as ``cmd: "echo
   {{ message }}"`` sees typed values), and everything is cast;
4. ``required`` parameters must have a value and ``enum`` ones an allowed value;
5. the result is split into runner parameters and action parameters, with every declared
   parameter present (None when it has no value).

The two passes are kept because they are visible to packs: a template sees other parameters as
rendered (strings) in the live pass and as cast values in the final pass.

Every failure is a :class:`~packhorse.errors.ParameterError`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packhorse.errors import ExpressionError, ParameterError
from packhorse.expr import Datastore, render_param_template
from packhorse.params.casting import cast_value
from packhorse.params.graph import Node, node, render_order

__all__ = ["RenderContext", "RenderedParameters", "render_parameters"]


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What parameter templates can read besides the other parameters."""

    datastore: Datastore | None = None
    """``st2kv`` (absent when None). StackStorm binds ``st2kv.user`` to the context's
    ``api_user``, else its ``user``, else the system user: build the Datastore with that user."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """``config_context``: the pack's resolved config."""
    action_context: Mapping[str, Any] = field(default_factory=dict)
    """``action_context``: user, api_user, pack, source_channel, parent, rule..."""
    trigger: Mapping[str, Any] | None = None
    """``trigger``: the trigger payload, when a rule enforcement renders the parameters."""
    strict: bool = True
    """An undefined name is an error (StackStorm's behaviour); when false it renders as ""."""

    def variables(self) -> dict[str, Any]:
        """The context names templates see, by name."""
        variables: dict[str, Any] = {
            "action_context": self.action_context,
            "config_context": self.config,
        }
        if self.datastore is not None:
            variables["st2kv"] = self.datastore
        if self.trigger is not None:
            variables["trigger"] = self.trigger
        return variables


@dataclass(frozen=True, slots=True)
class RenderedParameters:
    """The parameters an execution runs with, typed and complete."""

    runner: dict[str, Any]
    """Parameters the runner declares (``cmd``, ``timeout``, ``sudo``...)."""
    action: dict[str, Any]
    """Every other declared parameter, None when it has no value."""


def _refuse_undeclared_and_immutable(schema: Mapping[str, Any], live: Mapping[str, Any]) -> None:
    undeclared = [name for name in live if name not in schema]
    if undeclared:
        names = ", ".join(repr(name) for name in undeclared)
        verb = "was" if len(undeclared) == 1 else "were"
        raise ParameterError(
            f"Additional properties are not allowed ({names} {verb} unexpected)",
            parameters=undeclared,
            hint="the action declares no parameter of that name",
        )
    immutable = [name for name in live if _spec(schema, name).get("immutable")]
    if immutable:
        raise ParameterError(
            f"Override of immutable parameter(s) {immutable} is unsupported.",
            parameters=immutable,
            hint="an immutable parameter always takes its default; do not pass it",
        )


def _spec(schema: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    spec = schema.get(name)
    return spec if isinstance(spec, Mapping) else {}


def _graph(schema: Mapping[str, Any], fixed: Mapping[str, Any], rendered: bool) -> dict[str, Node]:
    """Nodes for the ``fixed`` values (templates only when ``rendered``) and for the defaults
    of parameters without a value, or immutable."""
    nodes = {
        name: node(name, value) if rendered else Node(name, value, False, frozenset())
        for name, value in fixed.items()
    }
    for name in schema:
        spec = _spec(schema, name)
        present = name in nodes and nodes[name].value is not None
        if not present or spec.get("immutable"):
            nodes[name] = node(name, _own(spec.get("default")))
    return nodes


def _own(default: Any) -> Any:
    """A default the result may own: containers are copied, so that a schema shared between
    renders (cached per action) never ends up inside, and changed through, a result."""
    return copy.deepcopy(default) if isinstance(default, Mapping | list) else default


def _resolve(nodes: Mapping[str, Node], context: RenderContext) -> dict[str, Any]:
    variables = context.variables()
    order = render_order(nodes, variables.keys(), strict=context.strict)
    scope = dict(variables)
    resolved: dict[str, Any] = {}
    for name in order:
        item = nodes[name]
        value = item.value
        if item.template:
            try:
                value = render_param_template(value, scope, strict=context.strict)
            except ExpressionError as error:
                raise ParameterError(
                    f'Failed to render parameter "{name}": {error.reason}', parameter=name
                ) from error
        resolved[name] = scope[name] = value
    return resolved


def _cast_all(
    schema: Mapping[str, Any],
    values: Mapping[str, Any],
    errors: list[ParameterError],
    *,
    final: bool,
) -> dict[str, Any]:
    cast: dict[str, Any] = {}
    for name, value in values.items():
        try:
            cast[name] = cast_value(name, value, _spec(schema, name), untyped_magic=final)
        except ParameterError as error:
            errors.append(error)
    return cast


def _raise_all(errors: list[ParameterError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        names = [name for error in errors for name in error.parameters]
        raise ParameterError("; ".join(error.message for error in errors), parameters=names)


def _live_pass(
    schema: Mapping[str, Any], live: Mapping[str, Any], context: RenderContext
) -> dict[str, Any]:
    graph = _graph(schema, live, rendered=True)
    rendered = _resolve(graph, context)
    # Kept besides the live values: defaults that are templates (of mutable parameters) and
    # rendered to something else than themselves, as StackStorm's render_live_params keeps.
    chosen = [*live]
    for name in schema:
        spec = _spec(schema, name)
        if (
            name not in live
            and not spec.get("immutable")
            and graph[name].template
            and rendered[name] != spec.get("default")
        ):
            chosen.append(name)
    errors: list[ParameterError] = []
    values = _cast_all(schema, {name: rendered[name] for name in chosen}, errors, final=False)
    _raise_all(errors)
    return values


def _check(schema: Mapping[str, Any], values: Mapping[str, Any]) -> list[ParameterError]:
    errors: list[ParameterError] = []
    missing = [
        name
        for name in schema
        if _spec(schema, name).get("required") is True and values.get(name) is None
    ]
    if missing:
        errors.append(
            ParameterError(
                f"Required parameter(s) {', '.join(repr(n) for n in missing)} "
                "have no value: pass them or give them a default",
                parameters=missing,
            )
        )
    for name in schema:
        spec = _spec(schema, name)
        allowed = spec.get("enum")
        value = values.get(name)
        if value is None or not isinstance(allowed, list | tuple):
            continue
        if not any(_same(value, choice) for choice in allowed):
            shown = "the given value" if spec.get("secret") else repr(value)
            errors.append(
                ParameterError(
                    f'Parameter "{name}": {shown} is not one of {list(allowed)!r}',
                    parameter=name,
                )
            )
    return errors


def _same(value: Any, choice: Any) -> bool:
    """JSON Schema equality: ``True`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(value, bool) or isinstance(choice, bool):
        return isinstance(value, bool) and isinstance(choice, bool) and value is choice
    if isinstance(value, list | tuple) and isinstance(choice, list | tuple):
        return len(value) == len(choice) and all(map(_same, value, choice))
    if isinstance(value, Mapping) and isinstance(choice, Mapping):
        return value.keys() == choice.keys() and all(_same(value[k], choice[k]) for k in value)
    try:
        return bool(value == choice)
    except Exception:  # noqa: BLE001 - an odd type that cannot compare is not equal
        return False


def render_parameters(
    schema: Mapping[str, Any],
    runner_names: frozenset[str],
    live: Mapping[str, Any],
    *,
    context: RenderContext,
) -> RenderedParameters:
    """Render, cast and check the parameters of one execution.

    ``schema`` is the effective schema (:func:`packhorse.params.schema.effective_schema`),
    ``runner_names`` the names its runner declares, ``live`` what the caller passed (CLI, API,
    a rule's ``action.parameters``, a workflow task's input). ``schema`` is only read, and
    nothing of it is shared with the result, so one schema may serve many renders. Raises
    :class:`~packhorse.errors.ParameterError`.
    """
    _refuse_undeclared_and_immutable(schema, live)
    fixed = _live_pass(schema, live, context)
    rendered = _resolve(_graph(schema, fixed, rendered=False), context)
    errors: list[ParameterError] = []
    values = _cast_all(schema, {name: rendered.get(name) for name in schema}, errors, final=True)
    if not errors:
        errors = _check(schema, values)
    _raise_all(errors)
    return RenderedParameters(
        runner={name: values[name] for name in schema if name in runner_names},
        action={name: values[name] for name in schema if name not in runner_names},
    )
