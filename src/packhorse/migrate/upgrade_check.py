"""``packhorse upgrade check``: run the transforms over pack folders, and with ``fix`` write
what they rewrite.

The shell around the pure :mod:`packhorse.migrate.transforms`: it reads the pack files, and
for a fix writes the rewritten files into a copy of the pack first, validates the copy with
the pack validator, and only then replaces each changed file atomically. A fix that would
add a validation error (a code in a file) is refused and nothing is written.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from packhorse.migrate.transforms import Finding, apply_all, detect
from packhorse.packs.discover import default_context, read_pack
from packhorse.packs.validate import validate_packs

_READ_SUFFIXES = (".yaml", ".yml", ".py")


@dataclass(frozen=True, slots=True)
class FileChange:
    """A file the fix rewrote."""

    path: str
    added: int
    removed: int


@dataclass(slots=True)
class PackCheck:
    """What checking (and fixing) one pack gave."""

    folder: str
    """The pack folder as the user named it."""
    findings: list[Finding] = field(default_factory=list)
    """What remains (after the fix, when fixing)."""
    changes: list[FileChange] = field(default_factory=list)
    refused: str = ""
    """Why a fix was not written (validation of the fixed copy failed)."""

    @property
    def unfixable(self) -> list[Finding]:
        return [f for f in self.findings if not f.fixable]


def read_files(folder: Path) -> dict[str, str]:
    """The YAML and Python files of a pack, relative path -> text (undecodable ones skipped)."""
    source = read_pack(folder)
    files: dict[str, str] = {}
    for relative in source.files:
        if not relative.endswith(_READ_SUFFIXES):
            continue
        try:
            files[relative] = (folder / relative).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return files


def _errors(folder: Path) -> set[tuple[str, str]]:
    """(code, file) of every validation error of the pack in ``folder``."""
    results = validate_packs([read_pack(folder, "")], default_context())
    return {(d.code, d.path) for result in results for d in result.diagnostics if d.is_error}


def _write_atomically(target: Path, text: str) -> None:
    mode = target.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _changes(before: dict[str, str], after: dict[str, str]) -> list[FileChange]:
    changes = []
    for path in sorted(after):
        diff = list(
            difflib.unified_diff(before[path].splitlines(), after[path].splitlines(), lineterm="")
        )
        added = sum(1 for d in diff if d.startswith("+") and not d.startswith("+++"))
        removed = sum(1 for d in diff if d.startswith("-") and not d.startswith("---"))
        changes.append(FileChange(path, added, removed))
    return changes


def check_pack(folder: Path, shown: str, *, fix: bool = False) -> PackCheck:
    """Findings of one pack folder; with ``fix``, the fixable ones written first."""
    files = read_files(folder)
    check = PackCheck(shown, detect(files))
    if not fix or not any(f.fixable for f in check.findings):
        return check
    changed = apply_all(files)
    if not changed:
        return check
    with tempfile.TemporaryDirectory(prefix="packhorse-fix-") as scratch:
        copy = Path(scratch) / folder.resolve().name
        shutil.copytree(folder, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        for path, text in changed.items():
            (copy / path).write_text(text, encoding="utf-8", newline="")
        before, after = _errors(folder), _errors(copy)
    new_errors = sorted(after - before)
    if new_errors:
        shown_errors = ", ".join(f"{code} in {path}" for code, path in new_errors)
        check.refused = (
            f"the fixed pack has validation errors it did not have ({shown_errors}); nothing "
            "written"
        )
        return check
    for path, text in changed.items():
        _write_atomically(folder / path, text)
    check.changes = _changes(files, changed)
    check.findings = detect({**files, **changed})
    return check
