"""Rendering small templates: the cost the rule engine and the conductor pay per expression.

Target (expr brief): a 1,000-render loop of ``{{ trigger.body.x }}`` in a few milliseconds.
Floor, measured in the same run: 1,000 plain dictionary walks ``trigger["body"]["x"]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, print_table

from packhorse.expr import (
    Datastore,
    render_criteria_pattern,
    render_param_template,
    render_template,
    render_value,
)

LOOPS = 1000
REPEATS = 15


def main() -> None:
    context = {"trigger": {"body": {"x": 5, "msg": "disk full", "tags": ["a", "b"]}}}
    with_datastore = {**context, "st2kv": Datastore(lambda scope, name: "v")}

    def loop(render, value, ctx=context) -> None:  # type: ignore[no-untyped-def]
        for _ in range(LOOPS):
            render(value, ctx)

    def floor_loop() -> None:
        for _ in range(LOOPS):
            _ = context["trigger"]["body"]["x"]

    floor = median_seconds(floor_loop, REPEATS)
    rows = [
        ("render_value {{ trigger.body.x }}", "{{ trigger.body.x }}", render_value, context),
        ("render_template {{ trigger.body.x }}", "{{ trigger.body.x }}", render_template, context),
        (
            "render_param_template 'echo {{ msg }}'",
            "echo {{ trigger.body.msg }}",
            render_param_template,
            context,
        ),
        (
            "render_criteria_pattern {{ trigger.body.x }}",
            "{{ trigger.body.x }}",
            render_criteria_pattern,
            context,
        ),
        (
            "render_value 'x {{ a }} {{ b }}'",
            "x {{ trigger.body.x }} {{ trigger.body.msg }}",
            render_value,
            context,
        ),
        (
            "render_value {% for %} block",
            "{% for t in trigger.body.tags %}{{ t }}{% endfor %}",
            render_value,
            context,
        ),
        (
            "render_template {{ st2kv.system.k }}",
            "{{ st2kv.system.k }}",
            render_template,
            with_datastore,
        ),
    ]
    table = []
    for name, value, render, ctx in rows:
        seconds = median_seconds(lambda r=render, v=value, c=ctx: loop(r, v, c), REPEATS)
        table.append((f"{LOOPS} x {name}", seconds, floor, "a few ms"))
    print_table(f"Expression rendering, {LOOPS} renders, median of {REPEATS} runs", table)


if __name__ == "__main__":
    main()
