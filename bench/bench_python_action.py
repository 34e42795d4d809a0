"""Latency of a python-script action that returns a constant: a cold process against a warm
host's forked child, in the runner alone and end to end through the service layer.

Targets: in the runner, warm median at most a third of cold (python runner issue); end to end
(request, queue, claim, run, record, on SQLite in WAL mode), warm median under 10 ms (issue 4),
with the cold figure printed beside it. Floor, measured in the same run: a bare
``python -c pass`` of the same interpreter (what any cold process pays at least).
Each figure is the median over REPEATS executions, on one event loop, as the engine runs them.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, print_table

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import build_runtime
from packhorse.runners.base import NullEvents, RunRequest
from packhorse.runners.python import PythonRunner
from packhorse.settings import Settings

REPEATS = 15
END_TO_END_REPEATS = 40
END_TO_END_TARGET = 0.010
ACTION = """\
from st2common.runners.base_action import Action


class ConstantAction(Action):
    def run(self):
        return 1
"""
METADATA = """\
---
name: constant
runner_type: python-script
entry_point: constant.py
"""
PACK = """\
---
ref: bench
name: bench
description: The benchmark's pack.
version: 1.0.0
author: bench
"""


def request(pack: Path) -> RunRequest:
    return RunRequest(
        execution_id="bench",
        action_ref="bench.constant",
        pack="bench",
        runner_type="python-script",
        pack_path=str(pack),
        entry_point=str(pack / "actions" / "constant.py"),
        runner_parameters={},
        action_parameters={},
        parameter_schema={},
        timeout=60,
    )


async def median_latency(runner: PythonRunner, pack: Path) -> float:
    await runner.run(request(pack), NullEvents())  # a warm host starts on first use
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        outcome = await runner.run(request(pack), NullEvents())
        samples.append(time.perf_counter() - started)
        assert outcome.result["result"] == 1, outcome.result
    return statistics.median(samples)


async def measure_runner(pack: Path) -> tuple[float, float]:
    cold = PythonRunner(warm=False)
    warm = PythonRunner(warm=True)
    try:
        return await median_latency(cold, pack), await median_latency(warm, pack)
    finally:
        await warm.aclose()


def bench_instance(scratch: Path) -> Settings:
    """An initialised instance with the ``bench`` pack (one constant action) registered."""
    settings = init_instance(scratch / "home").settings
    pack = settings.home / "packs" / "bench"
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text(PACK)
    (pack / "actions" / "constant.py").write_text(ACTION)
    (pack / "actions" / "constant.yaml").write_text(METADATA)
    outcome = bootstrap.register_instance_packs(settings, refs=["bench"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    return settings


async def end_to_end(settings: Settings, *, warm: bool, repeats: int) -> float:
    """Median from ``request()`` to the recorded result, through the service layer."""
    runtime = build_runtime(settings, slots=8, warm_python=warm)
    service = runtime.executions

    async def one() -> float:
        started = time.perf_counter()
        execution = service.request("bench.constant", {}, user="bench")
        done = await runtime.run_one(execution.id)
        assert done.status.value == "succeeded", done.result
        assert done.result is not None and done.result["result"] == 1, done.result
        return time.perf_counter() - started

    try:
        for _ in range(3):  # the warm host starts; caches fill
            await one()
        return statistics.median([await one() for _ in range(repeats)])
    finally:
        await runtime.aclose()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        pack = Path(scratch) / "bench"
        (pack / "actions").mkdir(parents=True)
        (pack / "actions" / "constant.py").write_text(ACTION)
        floor = median_seconds(
            lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), REPEATS
        )
        cold, warm = asyncio.run(measure_runner(pack))
        settings = bench_instance(Path(scratch))
        cold_e2e = asyncio.run(end_to_end(settings, warm=False, repeats=REPEATS))
        warm_e2e = asyncio.run(end_to_end(settings, warm=True, repeats=END_TO_END_REPEATS))
    print_table(
        f"python-script action latency, median of {REPEATS} runs ({END_TO_END_REPEATS} warm "
        "end to end)",
        [
            ("runner: cold process (python -m ...action)", cold, floor, ""),
            ("runner: warm host, forked child", warm, floor, ""),
            ("end to end: cold process", cold_e2e, floor, ""),
            ("end to end: warm host", warm_e2e, floor, "< 10 ms"),
            ("floor: python -c pass", floor, None, ""),
        ],
    )
    print(f"\nrunner warm / cold = {warm / cold:.2f} (target: at most 0.33)")
    print(f"end to end warm = {warm_e2e * 1000:.1f} ms (target: under 10 ms)")
    if warm > cold / 3 or warm_e2e >= END_TO_END_TARGET:
        sys.exit(1)


if __name__ == "__main__":
    main()
