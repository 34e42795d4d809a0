"""Generate synthetic packs for benchmarks: N packs of A actions and R rules each."""

from __future__ import annotations

from pathlib import Path

ACTION = """---
name: action_{index}
description: Synthetic action {index} of pack {pack}.
runner_type: local-shell-script
entry_point: scripts/run.sh
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
  timeout:
    default: 30
"""

RULE = """---
name: rule_{index}
pack: {pack}
description: Synthetic rule {index}.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: {pack}_{index}
criteria:
  trigger.body.level:
    type: equals
    pattern: critical
  trigger.body.host:
    type: regex
    pattern: "^web-[0-9]+$"
action:
  ref: {pack}.action_{index}
  parameters:
    message: "{{{{ trigger.body.message }}}}"
"""


def generate(root: Path, packs: int, actions: int, rules: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    folders = []
    for p in range(packs):
        name = f"bench_{p:04d}"
        folder = root / name
        (folder / "actions" / "scripts").mkdir(parents=True)
        (folder / "rules").mkdir()
        (folder / "pack.yaml").write_text(
            f"---\nref: {name}\nname: {name}\ndescription: Benchmark pack {p}.\n"
            "version: 1.0.0\nauthor: bench\nemail: bench@example.org\n"
        )
        (folder / "actions" / "scripts" / "run.sh").write_text('#!/bin/sh\necho "$@"\n')
        for a in range(actions):
            (folder / "actions" / f"action_{a}.yaml").write_text(ACTION.format(index=a, pack=name))
        for r in range(rules):
            (folder / "rules" / f"rule_{r}.yaml").write_text(RULE.format(index=r, pack=name))
        folders.append(folder)
    return folders
