"""Orquesta workflows end to end on SQLite: every task a real ``core.noop`` child execution,
queued, claimed by a worker, run, recorded, and its end applied to the workflow's stored
state by the workflow shell (each step one transaction).

Targets (issue 5): a 1,000-task sequential workflow and a 1,000-branch fan-out into
``join: all`` under 3 s each; linear growth (10,000 tasks within 12 times the 1,000-task
time, with ``--large``); a 10,000-item with-items task under 20 s.
Floor measured in the same run: one bare SQLite commit (WAL, synchronous=NORMAL) per task.

    .venv/bin/python bench/bench_workflow.py [--large] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import print_table

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import build_runtime
from packhorse.settings import load_settings


def sequential(n: int) -> str:
    lines = ["version: 1.0", "tasks:"]
    for index in range(1, n + 1):
        lines += [f"  t{index}:", "    action: core.noop"]
        if index < n:
            lines += ["    next:", "      - when: <% succeeded() %>", f"        do: t{index + 1}"]
    return "\n".join(lines) + "\n"


def fan_join(n: int) -> str:
    branches = [f"b{index}" for index in range(1, n + 1)]
    lines = ["version: 1.0", "tasks:", "  start:", "    action: core.noop", "    next:"]
    lines += ["      - do:"] + [f"          - {name}" for name in branches]
    for name in branches:
        lines += [f"  {name}:", "    action: core.noop", "    next:", "      - do: join"]
    lines += ["  join:", "    join: all", "    action: core.noop"]
    return "\n".join(lines) + "\n"


def with_items(n: int) -> str:
    return (
        "version: 1.0\n"
        "input:\n  - n\n"
        "tasks:\n"
        "  each:\n"
        "    with:\n"
        "      items: <% range(0, ctx(n)) %>\n"
        "      concurrency: 100\n"
        "    action: core.noop\n"
    )


def write_pack(home: Path, workflows: dict[str, str]) -> None:
    pack = home / "packs" / "wfbench"
    (pack / "actions" / "workflows").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "name: wfbench\nref: wfbench\ndescription: benchmark workflows\nversion: 0.1.0\n"
        "author: packhorse\n"
    )
    for name, text in workflows.items():
        (pack / "actions" / "workflows" / f"{name}.yaml").write_text(text)
        (pack / "actions" / f"{name}.yaml").write_text(
            f"name: {name}\nrunner_type: orquesta\nentry_point: workflows/{name}.yaml\n"
            "enabled: true\nparameters:\n  n:\n    type: integer\n"
        )


async def run_workflow(home: Path, ref: str, parameters: dict[str, int]) -> float:
    runtime = build_runtime(load_settings(home), slots=8)
    started = time.perf_counter()
    execution = runtime.executions.request(ref, parameters, user="bench")
    done = await runtime.run_workflow(execution.id, poll_seconds=0.01)
    elapsed = time.perf_counter() - started
    assert done.status.value == "succeeded", done.result
    await runtime.aclose()
    return elapsed


def bare_commits(folder: Path, count: int) -> float:
    connection = sqlite3.connect(folder / "bare.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
    started = time.perf_counter()
    for index in range(count):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT OR REPLACE INTO t VALUES (?, ?)", (index, "x" * 200))
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also 10,000 tasks (slow)")
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    sizes = [1000, 10_000] if options.large else [1000]
    cases: list[tuple[str, str, int, str]] = []
    workflows: dict[str, str] = {}
    for n in sizes:
        workflows[f"seq_{n}"] = sequential(n)
        workflows[f"fan_{n}"] = fan_join(n)
        cases.append(
            (f"sequential, {n:,} tasks", f"wfbench.seq_{n}", n, "< 3 s" if n == 1000 else "")
        )
        cases.append(
            (
                f"fan-out + join: all, {n:,} branches",
                f"wfbench.fan_{n}",
                n + 2,
                "< 3 s" if n == 1000 else "",
            )
        )
    workflows["items"] = with_items(0)
    items = 10_000 if options.large else 1000
    cases.append(
        (
            f"with-items, {items:,} items (concurrency 100)",
            "wfbench.items",
            items,
            "< 20 s at 10,000",
        )
    )
    rows = []
    for label, ref, tasks, target in cases:
        parameters = {"n": tasks} if ref.endswith("items") else {}
        samples = []
        for _ in range(options.repeats):
            # A fresh instance per run: no run pays for the tables and WAL another one grew.
            with tempfile.TemporaryDirectory() as scratch:
                home = Path(scratch) / "home"
                init_instance(home)
                write_pack(home, {ref.split(".")[1]: workflows[ref.split(".")[1]]})
                outcome = bootstrap.register_instance_packs(load_settings(home), refs=["wfbench"])
                assert outcome.ok, outcome.diagnostics
                samples.append(asyncio.run(run_workflow(home, ref, parameters)))
                floor = bare_commits(Path(scratch), tasks)
        rows.append((label, statistics.median(samples), floor, target))
    print_table(
        f"Orquesta workflows end to end (core.noop tasks, SQLite), median of {options.repeats}; "
        "floor: one bare commit per task",
        rows,
    )


if __name__ == "__main__":
    main()
