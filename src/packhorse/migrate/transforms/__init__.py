"""Versioned transforms (codemods) that bring packs written for older StackStorm releases to
what this Packhorse runs. Pure: files come in as text, findings and new text go out.

:data:`REGISTRY` lists every transform in the order ``apply`` runs them; :func:`detect` and
:func:`apply_all` run them over a pack.
"""

from __future__ import annotations

from packhorse.migrate.transforms import (
    continue_task,
    mistral,
    output_schema,
    pack_version,
    python2,
    stackstorm_version,
    yaql_format,
)
from packhorse.migrate.transforms.base import Finding, PackFiles, Transform

REGISTRY: tuple[Transform, ...] = (
    stackstorm_version.TRANSFORM,
    pack_version.TRANSFORM,
    python2.TRANSFORM,
    continue_task.TRANSFORM,
    yaql_format.TRANSFORM,
    output_schema.TRANSFORM,
    mistral.TRANSFORM,
)
BY_ID = {transform.id: transform for transform in REGISTRY}

__all__ = ["BY_ID", "REGISTRY", "Finding", "PackFiles", "Transform", "apply_all", "detect"]


def detect(files: PackFiles) -> list[Finding]:
    """Every finding of every transform, sorted by place."""
    findings = [finding for transform in REGISTRY for finding in transform.detect(files)]
    return sorted(findings, key=lambda f: (f.path, f.line, f.col, f.transform))


def apply_all(files: PackFiles) -> dict[str, str]:
    """The files every fixable transform changes, with their new text (unchanged ones left
    out). Running it on its own output changes nothing."""
    current = dict(files)
    for path in files:
        for transform in REGISTRY:
            current[path] = transform.apply(path, current[path])
    for transform in REGISTRY:
        if transform.apply_pack is not None:
            current.update(transform.apply_pack(current))
    return {path: text for path, text in current.items() if text != files.get(path)}
