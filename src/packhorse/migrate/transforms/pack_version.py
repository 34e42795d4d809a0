"""``pack-version-semver``: a pack ``version`` that is not semantic versioning.

StackStorm wants ``MAJOR.MINOR.PATCH``; older packs say ``1.0`` or ``v1.2.3``. Those two shapes
are completed or stripped; anything else (``latest``, ``1.0-beta``) is reported.
"""

from __future__ import annotations

import re

import yaml

from packhorse.migrate.transforms.base import Edit, Finding, PackFiles, Transform, apply_edits
from packhorse.migrate.transforms.yamltext import compose, get, scalar_text, where

ID = "pack-version-semver"
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_SHORT = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")


def semver_of(version: str) -> str | None:
    """The semantic version ``version`` stands for, when that is mechanical (else None)."""
    found = _SHORT.match(version.strip())
    if not found:
        return None
    major, minor, patch = found.groups()
    return f"{int(major)}.{int(minor or 0)}.{int(patch or 0)}"


def _version_node(text: str) -> yaml.ScalarNode | None:
    pair = get(compose(text), "version")
    if pair and isinstance(pair[1], yaml.ScalarNode):
        return pair[1]
    return None


def detect(files: PackFiles) -> list[Finding]:
    text = files.get("pack.yaml")
    node = _version_node(text) if text is not None else None
    if node is None or _SEMVER.match(node.value):
        return []
    line, col = where(node)
    fixed = semver_of(node.value)
    if fixed is None:
        message = f"version {node.value!r} is not MAJOR.MINOR.PATCH; choose one by hand"
    else:
        message = f"version {node.value!r} is not MAJOR.MINOR.PATCH: {fixed!r}"
    return [Finding(ID, "pack.yaml", line, col, message, fixable=fixed is not None)]


def apply(path: str, text: str) -> str:
    if path != "pack.yaml":
        return text
    node = _version_node(text)
    if node is None or _SEMVER.match(node.value):
        return text
    fixed = semver_of(node.value)
    if fixed is None:
        return text
    edit = Edit(node.start_mark.index, node.end_mark.index, scalar_text(node, fixed))
    return apply_edits(text, [edit])


TRANSFORM = Transform(
    id=ID,
    description="pack version not MAJOR.MINOR.PATCH: '1.0' -> '1.0.0', 'v1.2.3' -> '1.2.3'",
    since="2.1.0",
    detect=detect,
    apply=apply,
)
