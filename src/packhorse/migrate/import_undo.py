"""Undoing an import: what the apply of ``packhorse bundle import`` changes before its
database transaction (packs, configs, ``pack-sources.json``, rule states) is recorded, so that a
failure puts it back at once and a crash is undone by the next import
(:func:`recover_import`)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packhorse.migrate import bundle_format as fmt
from packhorse.migrate.export import pack_files
from packhorse.migrate.import_plan import pack_digest
from packhorse.settings import Settings

STAGING = ".import"
"""Where an import stages its work, under the instance folder."""


@dataclass(frozen=True, slots=True)
class Instance:
    """What applying needs of the instance, passed in by the caller (the CLI wires it)."""

    settings: Settings
    install_environment: Any
    """A :class:`packhorse.packs.install.Environment`."""
    validate: Callable[[Path, Path, list[str]], list[str]]
    """Dry-run registration of ``refs`` found first in a staging folder, with the configs of
    a configs folder: the errors, formatted."""
    remove_packs: Callable[[list[str]], object]
    set_rule_enabled: Callable[[str, bool], object]
    encrypt: Callable[[str], str]
    """Seal a clear secret value under this instance's datastore key."""


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.importing")
    temporary.write_bytes(data)
    os.replace(temporary, path)


JOURNAL = "journal.json"
JOURNAL_APPLYING = "applying"
JOURNAL_DONE = "done"


class Undo:
    """Puts the instance back as it was before the import's writes. What it needs is also
    written to the staging folder's journal, so that an import a crash interrupted is undone
    by the next one (:func:`recover_import`)."""

    def __init__(  # noqa: PLR0917 - what was there before, part by part
        self,
        instance: Instance,
        staging: Path,
        rules: dict[str, bool],
        added: list[str],
        replaced: list[str],
        digests: dict[str, str],
    ) -> None:
        self.instance = instance
        self.staging = staging
        self.rules = rules
        self.added = added
        self.replaced = replaced
        self.digests = digests
        """ref -> digest of the files of each replaced or removed pack before the import."""
        self.saved: dict[Path, bytes | None] = {}

    def files(self, paths: Any) -> None:
        for path in paths:
            self.saved[path] = path.read_bytes() if path.is_file() else None

    def write_journal(self, state: str) -> None:
        saved_dir = self.staging / "saved"
        saved_dir.mkdir(parents=True, exist_ok=True)
        files: dict[str, str | None] = {}
        for number, (path, data) in enumerate(self.saved.items()):
            if data is None:
                files[str(path)] = None
            else:
                copy = saved_dir / str(number)
                if not copy.exists():
                    copy.write_bytes(data)
                files[str(path)] = copy.name
        journal = {
            "state": state,
            "added": self.added,
            "replaced": self.replaced,
            "digests": self.digests,
            "rules": self.rules,
            "files": files,
        }
        temporary = self.staging / f"{JOURNAL}.tmp"
        temporary.write_text(json.dumps(journal, sort_keys=True), encoding="utf-8")
        temporary.replace(self.staging / JOURNAL)

    @classmethod
    def from_journal(cls, instance: Instance, staging: Path) -> Undo | None:
        """The undo of an interrupted import, or None when there is nothing to undo."""
        try:
            journal = json.loads((staging / JOURNAL).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # it crashed before writing anything
        if journal.get("state") != JOURNAL_APPLYING:
            return None
        undo = cls(
            instance,
            staging,
            dict(journal["rules"]),
            list(journal["added"]),
            list(journal["replaced"]),
            dict(journal["digests"]),
        )
        for path, name in dict(journal["files"]).items():
            undo.saved[Path(path)] = (
                None if name is None else (staging / "saved" / name).read_bytes()
            )
        return undo

    def run(self) -> None:
        """Compare what is registered now with what was, and put back the difference: packs
        replaced or removed are installed again from their copies, added ones removed."""
        from packhorse.bootstrap import content_registry
        from packhorse.packs.install import install

        settings = self.instance.settings
        now = {p.ref: p for p in content_registry(settings).list_packs()}
        changed = []
        for ref in self.replaced:
            copy = self.staging / "old" / ref
            registered = now.get(ref)
            if registered is None or digest(settings, ref, registered.path) != self.digests[ref]:
                changed.append(str(copy))
        if changed:
            install(changed, self.instance.install_environment, skip_dependencies=True, force=True)
        gone = [ref for ref in self.added if ref in now]
        if gone:
            self.instance.remove_packs(gone)
        if changed or gone:
            for ref, enabled in self.rules.items():
                self.instance.set_rule_enabled(ref, enabled)
        for path, data in self.saved.items():
            if data is None:
                path.unlink(missing_ok=True)
            else:
                write_file(path, data)


def recover_import(instance: Instance) -> list[str]:
    """Undo the writes of an import a crash interrupted (its journal says ``applying``), then
    clear what imports left behind; what was done, as lines."""
    done: list[str] = []
    root = instance.settings.home / STAGING
    if not root.is_dir():
        return done
    for staging in sorted(root.iterdir()):
        undo = Undo.from_journal(instance, staging)
        if undo is not None:
            undo.run()
            done.append(f"undid an import that was interrupted ({staging.name})")
        shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):
        root.rmdir()
    return done


def digest(settings: Settings, ref: str, path: str) -> str:
    folder = (settings.home / path).resolve()
    files = pack_files(ref, folder) if folder.is_dir() else []
    prefix = f"{fmt.PACKS_DIR}/{ref}/"
    return pack_digest((m.path.removeprefix(prefix), m.sha256, m.mode) for m in files)
