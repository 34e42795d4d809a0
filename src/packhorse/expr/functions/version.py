"""Semantic version functions (SemVer 2.0.0), with the semantics of the ``semver`` package that
StackStorm uses, implemented here in a few lines instead of adding a dependency.

Versions must be complete (``MAJOR.MINOR.PATCH``, optional ``-prerelease`` and ``+build``); the
build part is ignored when comparing, and a pre-release sorts before its release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Version",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_compare",
    "version_equal",
    "version_less_than",
    "version_match",
    "version_more_than",
    "version_strip_patch",
]

_NUMBER = r"0|[1-9][0-9]*"
_PRERELEASE_PART = r"0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*"
_VERSION = re.compile(
    rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>(?:{_PRERELEASE_PART})(?:\.(?:{_PRERELEASE_PART}))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)

# Operator -> the comparison results it accepts. Two-character operators are tried first.
_OPERATORS: dict[str, tuple[int, ...]] = {
    ">=": (0, 1),
    "<=": (-1, 0),
    "==": (0,),
    "!=": (-1, 1),
    ">": (1,),
    "<": (-1,),
}


def _sign(difference: int) -> int:
    return (difference > 0) - (difference < 0)


def _prerelease_key(identifier: str) -> tuple[int, int | str]:
    # Numeric identifiers sort numerically and before alphanumeric ones.
    if identifier.isdigit():
        return (0, int(identifier))
    return (1, identifier)


@dataclass(frozen=True, slots=True)
class Version:
    """A parsed semantic version."""

    major: int
    minor: int
    patch: int
    prerelease: str | None = None
    build: str | None = None

    @classmethod
    def parse(cls, text: Any) -> Version:
        """Parse ``text``; ValueError if it is not a complete semantic version."""
        if not isinstance(text, str):
            raise TypeError(f"a version must be a string, not {type(text).__name__}")
        found = _VERSION.fullmatch(text)
        if found is None:
            raise ValueError(f"{text} is not a valid semantic version (MAJOR.MINOR.PATCH)")
        return cls(
            int(found["major"]),
            int(found["minor"]),
            int(found["patch"]),
            found["prerelease"],
            found["build"],
        )

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 as ``self`` sorts before, with or after ``other`` (build ignored)."""
        core = _sign(
            (self.major > other.major) - (self.major < other.major)
            or (self.minor > other.minor) - (self.minor < other.minor)
            or (self.patch > other.patch) - (self.patch < other.patch)
        )
        if core or self.prerelease == other.prerelease:
            return core
        if not self.prerelease:
            return 1
        if not other.prerelease:
            return -1
        mine = [_prerelease_key(part) for part in self.prerelease.split(".")]
        theirs = [_prerelease_key(part) for part in other.prerelease.split(".")]
        for left, right in zip(mine, theirs, strict=False):
            if left != right:
                return 1 if left > right else -1
        return _sign(len(mine) - len(theirs))

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text


def _parse(value: Any) -> Version:
    # A datastore lookup (or any object) is read as its string, as the filters receive it.
    return Version.parse(value if isinstance(value, str | Version) else str(value))


def version_compare(value: Any, pattern: Any) -> int:
    """-1, 0 or 1 as ``value`` is lower than, equal to or higher than ``pattern``."""
    return _parse(value).compare(_parse(pattern))


def version_more_than(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == 1


def version_less_than(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == -1


def version_equal(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == 0


def version_match(value: Any, pattern: str) -> bool:
    """Whether ``value`` satisfies ``pattern``: an operator (``<``, ``<=``, ``>``, ``>=``,
    ``==``, ``!=``) and a version; a bare version means ``==``."""
    expression = str(pattern)
    for operator, accepted in _OPERATORS.items():
        if expression.startswith(operator):
            return version_compare(value, expression[len(operator) :]) in accepted
    if expression[:1].isdigit() and expression[:1].isascii():
        return version_compare(value, expression) == 0
    raise ValueError(
        f"version_match expects an operator (one of <, <=, >, >=, ==, !=) followed by a "
        f"version, got {expression!r}"
    )


def version_bump_major(value: Any) -> str:
    """The next major version: ``1.2.3`` -> ``2.0.0`` (pre-release and build dropped)."""
    return str(Version(_parse(value).major + 1, 0, 0))


def version_bump_minor(value: Any) -> str:
    """The next minor version: ``1.2.3`` -> ``1.3.0``."""
    parsed = _parse(value)
    return str(Version(parsed.major, parsed.minor + 1, 0))


def version_bump_patch(value: Any) -> str:
    """The next patch version: ``1.2.3`` -> ``1.2.4`` (also from ``1.2.3-rc.1``, as semver)."""
    parsed = _parse(value)
    return str(Version(parsed.major, parsed.minor, parsed.patch + 1))


def version_strip_patch(value: Any) -> str:
    """``MAJOR.MINOR``: ``1.2.3`` -> ``1.2``."""
    parsed = _parse(value)
    return f"{parsed.major}.{parsed.minor}"
