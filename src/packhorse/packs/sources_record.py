"""``pack-sources.json`` in the instance folder: where each installed pack came from (its
kind, the source asked for and the version fetched), which ``pack outdated`` and ``pack
upgrade`` read and ``pack remove`` prunes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packhorse.packs.dependencies import SourceKind

if TYPE_CHECKING:
    from packhorse.packs.install import FetchedPack

SOURCES_FILE = "pack-sources.json"
"""Where each installed pack came from (``pack outdated`` and ``pack upgrade`` read it)."""


def record_sources(home: Path, fetched: Sequence[FetchedPack]) -> None:
    """Record where ``fetched`` came from, beside what the file holds already."""
    sources = read_sources(home)
    for pack in fetched:
        source = pack.spec.source
        if pack.spec.kind in {SourceKind.DIRECTORY, SourceKind.ARCHIVE}:
            source = str(Path(os.path.expanduser(source.removeprefix("file://"))).resolve())
        sources[pack.ref] = {
            "kind": pack.spec.kind.value,
            "source": source,
            "asked": pack.spec.version,
            "version": pack.version,
            "fetched": pack.source,
        }
    _write(home, sources)


def read_sources(home: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((home / SOURCES_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        from packhorse.packs.install import InstallError

        raise InstallError(f"{home / SOURCES_FILE}: cannot read: {error}") from None
    return data if isinstance(data, dict) else {}


def forget_sources(home: Path, refs: Sequence[str]) -> None:
    """Forget the packs ``refs`` (removed)."""
    sources = read_sources(home)
    if any(ref in sources for ref in refs):
        for ref in refs:
            sources.pop(ref, None)
        _write(home, sources)


def _write(home: Path, sources: Mapping[str, Any]) -> None:
    temporary = home / f".{SOURCES_FILE}.tmp"
    temporary.write_text(json.dumps(sources, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, home / SOURCES_FILE)
