"""Diagnostics: what validation returns instead of raising.

Every problem found in a pack is one :class:`Diagnostic`, located by file, line and column,
and identified by a stable code documented in ``docs/diagnostics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in content."""

    code: str
    """Stable identifier, e.g. ``PH201``; see docs/diagnostics.md."""
    severity: Severity
    message: str
    """What is wrong, and where possible what to do about it."""
    path: str
    """The file, as the user named it (or relative to the folder being validated)."""
    line: int = 0
    """1-based line; 0 when the problem is about the file as a whole."""
    col: int = 0
    """1-based column; 0 when unknown."""
    field: str = ""
    """Dotted path of the offending field inside the file, e.g. ``parameters.cmd.type``."""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self) -> str:
        """``path:line:col: CODE: message`` as compilers print it."""
        where = f"{self.path}:{self.line}:{self.col}" if self.line else f"{self.path}:0:0"
        return f"{where}: {self.code}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "field": self.field,
        }


def has_errors(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> bool:
    return any(d.is_error for d in diagnostics)
