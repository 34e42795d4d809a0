"""What a transform is: an id, the StackStorm change it follows, ``detect`` and ``apply``.

Transforms are pure. ``detect`` reads a pack's files (relative path -> text, handed in by the
caller) and returns findings located by file, line and column; ``apply`` rewrites the text of
one file and returns it, changing nothing outside what it fixes (edits are made by position
in the text, never by dumping YAML again, so comments, quoting and key order stay).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: A pack's files: relative POSIX path -> text (YAML and Python files).
PackFiles = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a transform found in a pack."""

    transform: str
    """Id of the transform that found it, e.g. ``pack-version-semver``."""
    path: str
    """The file, relative to the pack folder."""
    line: int
    """1-based line; 0 when the finding is about the file as a whole."""
    col: int
    """1-based column; 0 when unknown."""
    message: str
    fixable: bool
    """``apply`` of the same transform rewrites it."""

    def format(self, prefix: str = "") -> str:
        """``path:line:col: TRANSFORM: message [fixable]``; ``prefix`` is the pack folder."""
        where = f"{prefix.rstrip('/')}/{self.path}" if prefix else self.path
        tail = " [fixable]" if self.fixable else ""
        return f"{where}:{self.line}:{self.col}: {self.transform}: {self.message}{tail}"

    def to_dict(self) -> dict[str, object]:
        return {
            "transform": self.transform,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
            "fixable": self.fixable,
        }


def _no_change(path: str, text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Transform:
    """One versioned rewrite (or check, when nothing can be rewritten)."""

    id: str
    description: str
    since: str
    """The StackStorm version that made the change: packs written for older ones need it."""
    detect: Callable[[PackFiles], list[Finding]]
    apply: Callable[[str, str], str] = _no_change
    """``apply(relative path, text) -> new text``; the text unchanged when nothing applies."""
    apply_pack: Callable[[PackFiles], dict[str, str]] | None = None
    """For rewrites that span files: the files it changes (path -> new text)."""


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``text[start:end]`` with ``replacement``."""

    start: int
    end: int
    replacement: str


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (any order) to ``text``."""
    out = text
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        out = out[: edit.start] + edit.replacement + out[edit.end :]
    return out
