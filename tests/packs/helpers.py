"""Helpers for pack validation tests: write a pack into a temporary folder and validate it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from packhorse.model.diagnostics import Diagnostic
from packhorse.packs.discover import default_context, read_pack
from packhorse.packs.validate import PackResult, validate_packs

PACK_YAML = """\
---
name: demo
description: A pack for tests.
version: 1.0.0
author: Packhorse tests
email: tests@example.org
"""


def write_pack(folder: Path, files: Mapping[str, str | bytes], *, manifest: bool = True) -> Path:
    """Write ``files`` (relative path -> text or bytes) into ``folder``, with a pack.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    if manifest and "pack.yaml" not in files:
        (folder / "pack.yaml").write_text(PACK_YAML)
    for relative, content in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return folder


def validate_folder(folder: Path, display: str | None = None) -> PackResult:
    source = read_pack(folder, display if display is not None else folder.name)
    return validate_packs([source], default_context())[0]


def diagnostics_of(
    tmp_path: Path, files: Mapping[str, str | bytes], dir_name: str = "demo"
) -> list[Diagnostic]:
    return list(validate_folder(write_pack(tmp_path / dir_name, files)).diagnostics)
