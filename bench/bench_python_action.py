"""Latency of a python-script action: a cold process against a warm host's forked child.

Target (python runner issue): warm median at most a third of cold. Floor, measured in the same
run: a bare ``python -c pass`` of the same interpreter (what any cold process pays at least).
Each figure is the median over REPEATS executions of an action that returns a constant, timed
from ``runner.run()`` to its result, on one event loop, as the engine runs them.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, print_table

from packhorse.runners.base import NullEvents, RunRequest
from packhorse.runners.python import PythonRunner

REPEATS = 15
ACTION = """\
from st2common.runners.base_action import Action


class ConstantAction(Action):
    def run(self):
        return 1
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
    samples.sort()
    return samples[len(samples) // 2]


async def measure(pack: Path) -> tuple[float, float]:
    cold = PythonRunner(warm=False)
    warm = PythonRunner(warm=True)
    try:
        return await median_latency(cold, pack), await median_latency(warm, pack)
    finally:
        await warm.aclose()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        pack = Path(scratch) / "bench"
        (pack / "actions").mkdir(parents=True)
        (pack / "actions" / "constant.py").write_text(ACTION)
        floor = median_seconds(
            lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), REPEATS
        )
        cold, warm = asyncio.run(measure(pack))
    print_table(
        f"python-script action latency, median of {REPEATS} runs",
        [
            ("cold process (python -m _packhorse_pack.action)", cold, floor, ""),
            ("warm host, forked child", warm, floor, ""),
        ],
    )
    print(f"\nwarm / cold = {warm / cold:.2f} (target: at most 0.33)")
    if warm > cold / 3:
        sys.exit(1)


if __name__ == "__main__":
    main()
