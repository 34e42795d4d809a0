"""What pack installation decides without touching anything: what a pack spec names, which
version of a dependency a run needs and when two needs conflict, and whether a pack's
``stackstorm_version`` and ``python_versions`` admit this Packhorse.

The rules are StackStorm's (``st2 pack install``, see the reference, section 8.2): pins are
exact (no ranges, no solver); a pin that differs from an installed version, or two different
specs for a pack the run installs, is a conflict; a conflict names the chain of packs that
asked for each version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

STACKSTORM_VERSION = "3.9.0"
"""The StackStorm release whose pack format and behaviour Packhorse implements: a pack's
``stackstorm_version`` is checked against it."""

PYTHON_MAJOR = "3"


class SourceKind(StrEnum):
    DIRECTORY = "directory"
    """A local folder (a git work tree installs its committed HEAD)."""
    GIT = "git"
    """A git URL: https, ssh (``git@host:...``) or ``file://``."""
    ARCHIVE = "archive"
    """A ``.tar.gz`` / ``.tgz`` file."""
    INDEX = "index"
    """A bare name looked up in the pack index."""


@dataclass(frozen=True, slots=True)
class PackSpec:
    """One ``SOURCE[=VERSION]`` as given to ``pack install`` or in ``dependencies``."""

    text: str
    source: str
    version: str | None
    kind: SourceKind

    @property
    def name(self) -> str:
        """The pack name this spec installs, as StackStorm guesses it before downloading:
        the last path part without ``.git``, ``.tar.gz`` or a ``stackstorm-`` prefix."""
        if self.kind is SourceKind.INDEX:
            return self.source
        tail = self.source.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]
        for suffix in (".git", ".tar.gz", ".tgz"):
            tail = tail.removesuffix(suffix)
        return tail.removeprefix("stackstorm-")


_GIT_PREFIXES = ("https://", "http://", "git@", "gitlab@", "ssh://", "git://", "file://")
_OWNER_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def parse_spec(text: str, *, is_directory: bool = False) -> PackSpec:
    """``SOURCE[=VERSION]``. ``is_directory``: whether ``SOURCE`` is a local folder (the
    caller looks; this function does not touch the disk)."""
    text = text.strip()
    if not text:
        raise ValueError("an empty pack spec")
    source, version = text, None
    head, sep, tail = text.rpartition("=")
    if sep and head and "/" not in tail:
        source, version = head, tail or None
    if source.endswith((".tar.gz", ".tgz")) and not source.startswith(_GIT_PREFIXES[:-1]):
        kind = SourceKind.ARCHIVE
    elif is_directory or source.startswith(("/", "./", "../", "~")):
        kind = SourceKind.DIRECTORY
    elif source.startswith(_GIT_PREFIXES):
        kind = SourceKind.GIT
    elif _OWNER_REPO.match(source):
        source, kind = f"https://github.com/{source}", SourceKind.GIT
    elif re.fullmatch(r"[a-z0-9_]+", source):
        kind = SourceKind.INDEX
    else:
        raise ValueError(
            f"{text!r} is neither a folder, a git URL, a .tar.gz nor a pack name "
            "(lower-case letters, digits and _)"
        )
    return PackSpec(text=text, source=source, version=version, kind=kind)


def git_ref_candidates(version: str) -> list[str]:
    """What a version may be called in a repository: itself, then ``v<version>`` (the
    Exchange tags ``v1.2.3``)."""
    return [version] if version.startswith("v") else [version, f"v{version}"]


@dataclass(frozen=True, slots=True)
class Need:
    """One pack asked for: by whom (the chain from the command line) and at what version."""

    name: str
    version: str | None
    chain: tuple[str, ...]
    """``("command line", "a", "b")``: the packs whose dependencies led here."""

    def describe(self) -> str:
        wanted = f"{self.name}={self.version}" if self.version else f"{self.name} (any version)"
        return f"{wanted}, asked by {' -> '.join(self.chain)}"


class DependencyConflict(ValueError):
    """Two needs that cannot both be met; the message names both chains."""


def check_need(need: Need, *, installed: dict[str, str], planned: dict[str, Need]) -> bool:
    """Whether ``need`` still has to be fetched (False: it is met already). Raises
    DependencyConflict as StackStorm would refuse it.

    ``installed``: version of each pack registered now and not part of this run;
    ``planned``: what this run installs so far."""
    if need.name in planned:
        earlier = planned[need.name]
        if earlier.version != need.version:
            raise DependencyConflict(
                f"pack {need.name} is asked for twice: {earlier.describe()}; and {need.describe()}"
            )
        return False
    if need.name in installed:
        have = installed[need.name]
        if need.version is not None and not _same_version(need.version, have):
            raise DependencyConflict(f"pack {need.name} {have} is installed, but {need.describe()}")
        return False
    return True


def _same_version(pinned: str, installed: str) -> bool:
    # StackStorm compares the two as strings with a "v" put in front of both.
    return f"v{pinned.removeprefix('v')}" == f"v{installed.removeprefix('v')}"


_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)")
_CONSTRAINT = re.compile(r"^\s*(>=|<=|==|>>|<<|>|<|=)?\s*(\d+\.\d+(?:\.\d+)?\S*)\s*$")


def _version_tuple(text: str) -> tuple[int, int, int]:
    # "3.10dev" compares as 3.10.0, as StackStorm does.
    parts = re.findall(r"\d+", text)[:3]
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0], numbers[1], numbers[2]


def stackstorm_version_problem(constraint: str, version: str = STACKSTORM_VERSION) -> str | None:
    """Why ``version`` does not satisfy a pack's ``stackstorm_version`` (None: it does).

    Parts separated by commas are all required; each is an operator and a version."""
    have = _version_tuple(version)
    for part in (p for p in constraint.split(",") if p.strip()):
        found = _CONSTRAINT.match(part)
        if not found:
            return f"stackstorm_version {constraint!r}: cannot read {part.strip()!r}"
        operator, wanted = found.group(1) or "==", _version_tuple(found.group(2))
        ok = {
            ">=": have >= wanted,
            "<=": have <= wanted,
            ">": have > wanted,
            ">>": have > wanted,
            "<": have < wanted,
            "<<": have < wanted,
            "==": have == wanted,
            "=": have == wanted,
        }[operator]
        if not ok:
            return (
                f"it needs StackStorm {constraint.strip()}; Packhorse runs packs of StackStorm "
                f"{version}"
            )
    return None


def python_versions_problem(versions: object) -> str | None:
    """Why a pack's ``python_versions`` exclude Python 3 (None: they do not)."""
    if versions in (None, [], ()):
        return None
    if not isinstance(versions, list | tuple):
        return f"python_versions must be a list, not {versions!r}"
    if PYTHON_MAJOR not in [str(v) for v in versions]:
        return f"it supports Python {', '.join(str(v) for v in versions)} only, not Python 3"
    return None
