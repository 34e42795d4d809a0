"""Properties of the whole pipeline over arbitrary input."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packhorse.errors import ExpressionError, ParameterError
from packhorse.expr import NONE_MAGIC_VALUE, Datastore
from packhorse.params import MASK, RenderContext, mask_parameters, render_parameters
from packhorse.params.casting import cast_value

NAMES = ["a", "b", "c", "d", "cmd"]
TYPES = st.sampled_from([None, "string", "integer", "number", "boolean", "object", "array"])

TEMPLATES = st.sampled_from(
    [
        "{{ a }}",
        "{{ b }}-{{ c }}",
        "{{ d | int }}",
        "{{ st2kv.system.k }}",
        "{{ config_context.x }}",
        "{{ action_context.user }}",
        "{{ trigger.body }}",
        "{{ nope }}",
        "{{ a | use_none }}",
        "{% if b %}yes{% endif %}",
        "{{ 1 / 0 }}",
        "{{ a.__class__ }}",
        "{{ '[1, 2]' }}",
        "{{ }}",
        "{{ unclosed",
        "{{.Names}}",
        NONE_MAGIC_VALUE,
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    TEMPLATES,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=5)):
        spec: dict[str, Any] = {}
        declared = draw(TYPES)
        if declared:
            spec["type"] = declared
        if draw(st.booleans()):
            spec["default"] = draw(VALUES)
        for flag in ("required", "immutable", "secret"):
            if draw(st.integers(0, 6)) == 0:
                spec[flag] = True
        if draw(st.integers(0, 5)) == 0:
            spec["enum"] = draw(st.lists(SCALARS, max_size=3))
        if draw(st.integers(0, 5)) == 0:
            spec["position"] = draw(st.integers(0, 3))
        schema[name] = spec
    return schema


@st.composite
def live_values(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """Values for declared parameters, now and then an undeclared one."""
    names = [*schema, "zz"] if draw(st.integers(0, 9)) == 0 else list(schema)
    if not names:
        return {}
    return draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=5))


# No deadline: under a loaded parallel run one slow example must not fail the test.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=schemas().flatmap(lambda schema: st.tuples(st.just(schema), live_values(schema))),
    runner_names=st.frozensets(st.sampled_from(NAMES)),
    strict=st.booleans(),
)
def test_only_parameter_errors_escape(
    case: tuple[dict[str, Any], dict[str, Any]], runner_names: frozenset[str], strict: bool
) -> None:
    schema, live = case
    context = RenderContext(
        datastore=Datastore(lambda scope, name: "7"),
        config={"x": [1]},
        action_context={"user": "stanley"},
        trigger={"body": {"k": "v"}},
        strict=strict,
    )
    try:
        rendered = render_parameters(schema, runner_names, live, context=context)
    except (ParameterError, ExpressionError) as error:
        assert str(error)
        return
    # Every declared parameter is present, in the right half, and never the magic string.
    assert set(rendered.runner) == set(schema) & runner_names
    assert set(rendered.action) == set(schema) - runner_names
    values = {**rendered.runner, **rendered.action}
    assert NONE_MAGIC_VALUE not in [v for v in values.values() if isinstance(v, str)]
    for name, value in values.items():
        declared = schema[name].get("type")
        if value is not None and declared in {"string", "object", "array", "boolean"}:
            expected = {"string": str, "object": dict, "array": list, "boolean": bool}[declared]
            assert isinstance(value, expected)
        if schema[name].get("required"):
            assert value is not None
    masked = mask_parameters(rendered, schema)
    for name, value in masked.items():
        if schema[name].get("secret") and values[name] is not None:
            assert value == MASK


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
CAST_INPUTS = st.one_of(
    JSON_VALUES,
    JSON_VALUES.map(repr),  # Python literals, as rendered templates give them
    st.text(max_size=30),
    st.sampled_from(["true", "FALSE", "None", "1,2", "(1,)", "{'a': {1}}", "[" * 200, "1e999"]),
)


@settings(max_examples=500, deadline=None)
@given(declared=TYPES, value=CAST_INPUTS)
def test_casting_raises_only_parameter_errors_and_is_idempotent(
    declared: str | None, value: Any
) -> None:
    spec = {"type": declared} if declared else {}
    try:
        cast = cast_value("p", value, spec)
    except ParameterError as error:
        assert error.parameter == "p"
        return
    # The final pass casts values the live pass already cast: that must change nothing.
    again = cast_value("p", cast, spec)
    assert repr(again) == repr(cast)
