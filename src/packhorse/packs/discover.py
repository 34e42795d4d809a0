"""Discovery: find pack folders and read them into :class:`PackSource` objects.

The only part of validation that touches the filesystem. Walks with ``os.scandir``, never
follows a symlinked folder, and reads a symlinked file only when it resolves inside the pack.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from packhorse.model.diagnostics import Diagnostic
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.packs.source import YAML_SUFFIXES, PackSource
from packhorse.packs.validate import validate_packs
from packhorse.packs.validate.codes import severity_of
from packhorse.packs.validate.context import ValidationContext, context_from_packs
from packhorse.packs.validate.pipeline import with_loose_trigger_types

#: Folders never listed as pack files.
SKIPPED_DIRS = frozenset({".git", "__pycache__"})
SKIPPED_SUFFIXES = (".pyc",)
MANIFEST = "pack.yaml"


def is_pack_dir(path: Path) -> bool:
    """Whether ``path`` is a folder holding a ``pack.yaml``."""
    return (path / MANIFEST).is_file()


def _inside(target: str, root: str) -> bool:
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def _walk(root: str) -> list[str]:
    """Relative POSIX paths of every file under ``root``, sorted; links leaving it left out."""
    files: list[str] = []
    real_root = os.path.realpath(root)
    stack: list[tuple[str, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            relative = prefix + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIPPED_DIRS:
                        stack.append((entry.path, relative + "/"))
                    continue
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not _inside(target, real_root):
                        continue
                    if not stat.S_ISREG(os.stat(target).st_mode):
                        continue  # a link to a folder: not followed
                elif not entry.is_file(follow_symlinks=False):
                    continue  # sockets, fifos, devices
            except OSError:
                continue
            if entry.name.endswith(SKIPPED_SUFFIXES):
                continue
            files.append(relative)
    files.sort()
    return files


def read_pack(path: Path, display_path: str | None = None) -> PackSource:
    """Read one pack folder: its file list and the bytes of every YAML file in it.

    Unreadable files are left out of ``texts``; validation then reports them as missing or
    unreadable. Symlinks that point outside the pack are neither listed nor read.
    """
    absolute = os.path.abspath(path)
    files = _walk(absolute)
    texts: dict[str, bytes] = {}
    for relative in files:
        if relative.endswith(YAML_SUFFIXES):
            try:
                with open(os.path.join(absolute, relative), "rb") as handle:
                    texts[relative] = handle.read()
            except OSError:
                continue
    shown = str(path) if display_path is None else display_path
    return PackSource(
        dir_name=os.path.basename(absolute.rstrip(os.sep)),
        path=absolute,
        display_path=shown,
        files=tuple(files),
        texts=texts,
    )


def discover_packs(search_paths: Sequence[Path]) -> tuple[list[PackSource], list[Diagnostic]]:
    """Every pack (a subfolder holding ``pack.yaml``) in the search paths, in order.

    When two search paths hold a pack folder of the same name the first one wins, as in
    StackStorm, and the other gets a warning.
    """
    sources: list[PackSource] = []
    diagnostics: list[Diagnostic] = []
    seen: dict[str, str] = {}
    for base in search_paths:
        try:
            entries = sorted(os.scandir(base), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir() or not os.path.isfile(os.path.join(entry.path, MANIFEST)):
                    continue
            except OSError:
                continue
            shown = os.path.join(str(base), entry.name)
            if entry.name in seen:
                diagnostics.append(
                    Diagnostic(
                        code="PH007",
                        severity=severity_of("PH007"),
                        message=(
                            f"pack folder {entry.name!r} is ignored: {seen[entry.name]} comes "
                            "first in the search path; remove or rename one of them"
                        ),
                        path=f"{shown}/{MANIFEST}",
                    )
                )
                continue
            seen[entry.name] = shown
            sources.append(read_pack(Path(entry.path), shown))
    return sources, diagnostics


def bundled_packs_dir() -> Path:
    """The folder of the packs that ship with Packhorse (``core``)."""
    return Path(__file__).resolve().parent.parent / "bundled_packs"


@cache
def default_context() -> ValidationContext:
    """What a standalone ``pack validate`` may rely on: the runners and the bundled packs.

    The bundled ``core`` pack is validated like any other. When it has no ``pack.yaml`` (a
    partial checkout) or does not validate, its trigger types are still loaded, so
    ``core.st2.webhook`` and the other system triggers are always known.
    """
    base = bundled_packs_dir()
    empty = ValidationContext(runner_types=RUNNER_TYPES)
    sources = [
        read_pack(base / name, name) for name in sorted(os.listdir(base)) if (base / name).is_dir()
    ]
    with_manifest = [source for source in sources if MANIFEST in source.texts]
    results = validate_packs(with_manifest, empty)
    packs = [result.pack for result in results if result.pack is not None]
    context = context_from_packs(packs, RUNNER_TYPES)
    # A bundled pack without pack.yaml, or one that failed to validate, still lends its
    # trigger types: a rule on core.st2.webhook must not fail because of the core actions.
    loose = [source for source in sources if MANIFEST not in source.texts]
    loose += [result.source for result in results if result.pack is None]
    return with_loose_trigger_types(context, loose)
