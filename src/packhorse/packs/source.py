"""A pack as read from disk: its file list and the text of its YAML files.

This is the hand-off between discovery (which reads folders) and validation (which is pure):
validation never touches the filesystem, it looks files up here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: File name suffixes whose contents discovery reads into :attr:`PackSource.texts`.
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class PackSource:
    """The raw content of one pack folder."""

    dir_name: str
    """Name of the pack folder (the pack ref, by StackStorm convention)."""
    path: str
    """Absolute path of the pack folder."""
    display_path: str
    """Prefix of the paths shown in diagnostics: the folder as the user named it."""
    files: tuple[str, ...]
    """Every file of the pack, relative POSIX paths, sorted (no .git/, __pycache__/, *.pyc)."""
    texts: Mapping[str, bytes] = field(default_factory=dict)
    """Contents of every ``*.yaml`` / ``*.yml`` file in the pack, by relative path."""

    def shown(self, relative: str) -> str:
        """The path of a pack file as diagnostics show it."""
        if not self.display_path:
            return relative
        return f"{self.display_path.rstrip('/')}/{relative}"
