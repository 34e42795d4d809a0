"""A guard against losing the template cache: the figure itself is in bench/bench_expr.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from packhorse.expr import render_param_template, render_template, render_value

CONTEXT = {"trigger": {"body": {"x": 5, "msg": "hello"}}}

# Typically 2 to 10 ms on a developer machine; compiling each time costs far over the bound.
BOUND_SECONDS = 0.25


@pytest.mark.parametrize(
    ("render", "text"),
    [
        (render_value, "{{ trigger.body.x }}"),
        (render_template, "{{ trigger.body.x }}"),
        (render_param_template, "echo {{ trigger.body.msg }}"),
        (render_value, "x {{ trigger.body.x }} {% if true %}y{% endif %}"),
    ],
)
def test_a_thousand_renders_are_cheap(render: Callable[..., Any], text: str) -> None:
    render(text, CONTEXT)
    best = float("inf")
    for _ in range(3):  # the best of three: a loaded machine only makes runs slower
        started = time.perf_counter()
        for _ in range(1000):
            render(text, CONTEXT)
        best = min(best, time.perf_counter() - started)
    assert best < BOUND_SECONDS
