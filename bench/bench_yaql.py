"""Rendering small YAQL expressions: the cost the conductor will pay per expression.

Target (yaql brief): a 1,000-render loop of ``<% $.x %>`` in a few milliseconds. Floor, measured
in the same run: 1,000 evaluations of the already parsed ``$.x`` straight through yaql, which
is where the time goes; the parse row shows what the parse cache saves.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, print_table

from packhorse.expr import render_yaql
from packhorse.expr.yaql import _ENGINE, _context, _parse

LOOPS = 1000
REPEATS = 15


def main() -> None:
    data = {"x": 5, "msg": "disk full", "tags": ["a", "b"]}
    functions = {"ctx": lambda name=None: data if name is None else data[name]}
    parsed, context = _parse("$.x"), _context(data, None)

    def floor_loop() -> None:
        for _ in range(LOOPS):
            parsed.evaluate(context=context)

    def parse_loop() -> None:
        for _ in range(LOOPS):
            _ENGINE("$.x")

    def loop(value: str, extra: dict[str, Any] | None = None) -> None:
        for _ in range(LOOPS):
            render_yaql(value, data, functions=extra)

    floor = median_seconds(floor_loop, REPEATS)
    rows = [
        ("render_yaql <% $.x %>", "<% $.x %>", None),
        ("render_yaql 'x <% $.x %> <% $.msg %>'", "x <% $.x %> <% $.msg %>", None),
        ("render_yaql <% $.tags.select($ + '!') %>", "<% $.tags.select($ + '!') %>", None),
        ("render_yaql <% ctx().x %> (bound ctx)", "<% ctx().x %>", functions),
    ]
    table = [(f"{LOOPS} x parse '$.x' (uncached)", median_seconds(parse_loop, REPEATS), floor, "")]
    for name, value, extra in rows:
        seconds = median_seconds(lambda v=value, e=extra: loop(v, e), REPEATS)
        table.append((f"{LOOPS} x {name}", seconds, floor, "a few ms"))
    print_table(f"YAQL rendering, {LOOPS} renders, median of {REPEATS} runs", table)


if __name__ == "__main__":
    main()
