"""Benchmark: discover and validate 200 packs of 10 actions and 5 rules each.

Prints the median of several runs for reading the packs from disk and for validating them
in process. The target is well under 2 s for validation.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from packgen import generate

from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.packs.discover import default_context, discover_packs
from packhorse.packs.validate import validate_packs

PACKS = 200
ACTIONS = 10
RULES = 5
RUNS = 7


def main() -> int:
    context = default_context()
    assert context.runner_types is RUNNER_TYPES
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generate(root, PACKS, ACTIONS, RULES)
        reads: list[float] = []
        checks: list[float] = []
        cpu: list[float] = []
        for _ in range(RUNS):
            started = time.perf_counter()
            sources, _ = discover_packs([root])
            reads.append(time.perf_counter() - started)
            started, started_cpu = time.perf_counter(), time.process_time()
            results = validate_packs(sources, context)
            checks.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        bad = [d.format() for r in results for d in r.diagnostics]
        if bad:
            print("\n".join(bad[:10]))
            return 1
    files = PACKS * (ACTIONS + RULES + 1)
    print(f"{PACKS} packs, {files} metadata files, median of {RUNS} runs")
    print(f"  discover + read : {statistics.median(reads) * 1000:8.1f} ms")
    print(f"  validate        : {statistics.median(checks) * 1000:8.1f} ms")
    print(f"  validate (CPU)  : {statistics.median(cpu) * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
