"""``stackstorm-version``: a pack whose ``stackstorm_version`` excludes the StackStorm version
Packhorse implements. Reported only: the pack's authors chose the range."""

from __future__ import annotations

import yaml

from packhorse.migrate.transforms.base import Finding, PackFiles, Transform
from packhorse.migrate.transforms.yamltext import compose, get, where
from packhorse.packs.dependencies import STACKSTORM_VERSION, stackstorm_version_problem

ID = "stackstorm-version"


def detect(files: PackFiles) -> list[Finding]:
    text = files.get("pack.yaml")
    pair = get(compose(text), "stackstorm_version") if text is not None else None
    if pair is None or not isinstance(pair[1], yaml.ScalarNode):
        return []
    problem = stackstorm_version_problem(str(pair[1].value))
    if problem is None:
        return []
    line, col = where(pair[1])
    return [Finding(ID, "pack.yaml", line, col, problem, fixable=False)]


TRANSFORM = Transform(
    id=ID,
    description=f"stackstorm_version that excludes StackStorm {STACKSTORM_VERSION} (reported)",
    since=STACKSTORM_VERSION,
    detect=detect,
)
