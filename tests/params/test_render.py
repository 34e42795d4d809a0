"""The parameter pipeline, table-driven: render_cases.yaml holds one case per behaviour."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from packhorse.errors import ParameterError
from packhorse.expr import Datastore
from packhorse.params.render import RenderContext, RenderedParameters, render_parameters
from packhorse.params.schema import effective_schema

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "render_cases.yaml").read_text(encoding="utf-8")
)


def context_of(case: dict[str, Any]) -> RenderContext:
    datastore = None
    if "datastore" in case:
        table = case["datastore"]
        datastore = Datastore(
            lambda scope, name: table.get(scope, {}).get(name), user=case.get("datastore_user")
        )
    return RenderContext(
        datastore=datastore,
        config=case.get("config", {}),
        action_context=case.get("action_context", {}),
        trigger=case.get("trigger"),
        strict=case.get("strict", True),
    )


def render_case(case: dict[str, Any]) -> RenderedParameters:
    runner = case.get("runner", {})
    schema = effective_schema(runner, case.get("action", {}))
    return render_parameters(
        schema, frozenset(runner), case.get("live", {}), context=context_of(case)
    )


def test_every_case_has_one_outcome() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names))
    for case in CASES:
        assert ("expect" in case) != ("error" in case), case["name"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_render_case(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ParameterError) as caught:
            render_case(case)
        assert re.search(case["error"], caught.value.message), caught.value.message
        if "error_parameters" in case:
            assert list(caught.value.parameters) == case["error_parameters"]
        return
    rendered = render_case(case)
    assert rendered.runner == case["expect"]["runner"]
    assert rendered.action == case["expect"]["action"]
    # Types survive exactly (True is not 1, 2 is not 2.0).
    for got, want in (
        (rendered.runner, case["expect"]["runner"]),
        (rendered.action, case["expect"]["action"]),
    ):
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in want.items()}


def test_datastore_is_read_once_per_key() -> None:
    calls: list[tuple[str, str]] = []

    def lookup(scope: str, name: str) -> str | None:
        calls.append((scope, name))
        return "v"

    schema = {
        "a": {"type": "string", "default": "{{ st2kv.system.k }}"},
        "b": {"type": "string", "default": "{{ a }}-{{ st2kv.system.k }}"},
    }
    rendered = render_parameters(
        schema, frozenset(), {}, context=RenderContext(datastore=Datastore(lookup))
    )
    assert rendered.action == {"a": "v", "b": "v-v"}
    assert calls == [("system", "k")]


def test_single_error_names_its_parameter() -> None:
    with pytest.raises(ParameterError) as caught:
        render_parameters(
            {"n": {"type": "integer"}}, frozenset(), {"n": "x"}, context=RenderContext()
        )
    assert caught.value.parameter == "n"
    assert caught.value.parameters == ("n",)


def test_error_about_several_parameters_names_none() -> None:
    with pytest.raises(ParameterError) as caught:
        render_parameters(
            {"a": {"required": True}, "b": {"required": True}},
            frozenset(),
            {},
            context=RenderContext(),
        )
    assert caught.value.parameter is None
    assert caught.value.parameters == ("a", "b")


def test_inputs_are_not_changed() -> None:
    schema = {"o": {"type": "object", "default": {"k": "{{ x }}"}}, "x": {"default": "v"}}
    live = {"x": "{{ 'w' }}"}
    before = (repr(schema), repr(live))
    render_parameters(schema, frozenset(), live, context=RenderContext())
    assert (repr(schema), repr(live)) == before


def test_results_share_nothing_with_the_schema() -> None:
    # One schema serves every render of an action (cached): a result must not alias it.
    schema = {"env": {"type": "object", "default": {"A": "1"}}, "l": {"default": [1]}}
    first = render_parameters(schema, frozenset({"env"}), {}, context=RenderContext())
    first.runner["env"]["B"] = "2"
    first.action["l"].append(2)
    second = render_parameters(schema, frozenset({"env"}), {}, context=RenderContext())
    assert second.runner == {"env": {"A": "1"}} and second.action == {"l": [1]}
    assert schema["env"]["default"] == {"A": "1"} and schema["l"]["default"] == [1]
