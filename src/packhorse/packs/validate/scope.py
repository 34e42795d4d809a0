"""What the validators of one pack share: the pack, the runners, deferred references."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packhorse.model.runner_types import RunnerType
from packhorse.packs.source import PackSource
from packhorse.packs.validate.report import FileReport
from packhorse.packs.validate.yamldoc import Path


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference from one resource to another, checked once the whole batch is known."""

    kind: str
    """``trigger`` or ``action``."""
    ref: str
    report: FileReport
    at: Path
    owner: str
    """What holds the reference, for messages: ``rule``, ``alias``, ``policy``."""
    parameters: Any = None
    """Trigger parameters given by a rule, checked against the type's parameters_schema."""
    parameters_at: Path = ()


@dataclass(slots=True)
class PackScope:
    source: PackSource
    ref: str
    runner_types: Mapping[str, RunnerType]
    files: frozenset[str]
    references: list[Reference] = field(default_factory=list)

    def resolve(self, folder: str, entry_point: str) -> tuple[str | None, str]:
        """Resolve an entry point relative to ``folder`` inside the pack.

        Returns ``(relative path, "")`` or ``(None, why)`` when it leaves the pack.
        """
        root = self.source.path.rstrip("/")
        if entry_point.startswith("/"):
            normal = posixpath.normpath(entry_point)
            if not normal.startswith(root + "/"):
                return None, f"absolute path {entry_point!r} is outside the pack folder"
            return normal[len(root) + 1 :], ""
        normal = posixpath.normpath(posixpath.join(folder, entry_point))
        if normal == ".." or normal.startswith("../") or normal == ".":
            return None, f"{entry_point!r} points outside the pack folder"
        return normal, ""
