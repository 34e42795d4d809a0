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

from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.packs.discover import default_context, discover_packs
from packhorse.packs.validate import validate_packs

PACKS = 200
ACTIONS = 10
RULES = 5
RUNS = 7

ACTION = """\
---
name: action_{index}
description: Benchmark action {index}.
runner_type: {runner}
entry_point: {entry_point}
enabled: true
parameters:
  message:
    type: string
    description: What to say.
    required: true
    position: 0
  count:
    type: integer
    default: 3
    position: 1
  verbose:
    type: boolean
    default: false
  options:
    type: object
    properties:
      level: {{type: string, enum: [low, high]}}
"""

RULE = """\
---
name: rule_{index}
pack: {pack}
description: Benchmark rule {index}.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: {pack}_{index}
criteria:
  trigger.body.level:
    type: iequals
    pattern: critical
  trigger.body.tags:
    type: contains
    pattern: prod
action:
  ref: {pack}.action_{index}
  parameters:
    message: "{{{{ trigger.body.message }}}}"
"""


def build(root: Path) -> None:
    for number in range(PACKS):
        pack = root / f"bench_pack_{number}"
        (pack / "actions").mkdir(parents=True)
        (pack / "rules").mkdir()
        (pack / "pack.yaml").write_text(
            f"---\nname: bench_pack_{number}\ndescription: Benchmark pack.\n"
            "version: 1.0.0\nauthor: Packhorse\nemail: dev@example.org\n"
        )
        for index in range(ACTIONS):
            script = index % 2 == 0
            entry_point = f"script_{index}.sh" if script else "run.py"
            runner = "local-shell-script" if script else "python-script"
            (pack / "actions" / entry_point).write_text("#!/bin/sh\n")
            (pack / "actions" / f"action_{index}.yaml").write_text(
                ACTION.format(index=index, runner=runner, entry_point=entry_point)
            )
        for index in range(RULES):
            (pack / "rules" / f"rule_{index}.yaml").write_text(
                RULE.format(index=index, pack=f"bench_pack_{number}")
            )


def main() -> int:
    context = default_context()
    assert context.runner_types is RUNNER_TYPES
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        build(root)
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
