"""``packhorse clone --from SOURCE --to TARGET``: export, ``init`` and import in one step.

The bundle goes through a private temporary file, its secrets sealed under a random
passphrase that lives only in memory (unless one is given). The target folder must be new or
empty; if the import fails, it is removed again (or emptied, when it existed before).
Users are replaced (the clone's admin signs in as the source's) and packs the fresh instance
ships with but the source no longer has are removed: the clone holds what the source holds.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packhorse.engine.instance import init_instance
from packhorse.engine.keyring import Keyring
from packhorse.errors import InstanceError
from packhorse.migrate.export import ExportOptions, ExportReport, export_bundle
from packhorse.migrate.importing import ImportOptions, ImportReport, import_bundle, wire
from packhorse.settings import load_settings

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class CloneReport:
    exported: ExportReport
    imported: ImportReport
    target: Path


def clone_instance(
    source_home: Path,
    target_home: Path,
    *,
    now: dt.datetime,
    random_bytes: Callable[[int], bytes],
    python_version: str,
    passphrase: str | None = None,
    say: Say = lambda _line: None,
    on_secret: Callable[[str], None] = lambda _clear: None,
) -> CloneReport:
    """Clone the instance at ``source_home`` into a new one at ``target_home``."""
    if target_home.exists() and (not target_home.is_dir() or any(target_home.iterdir())):
        raise InstanceError(
            f"{target_home} exists and is not empty",
            hint="clone into a new or empty folder",
        )
    source = load_settings(source_home)
    secret = passphrase or base64.urlsafe_b64encode(random_bytes(32)).decode("ascii")
    created = not target_home.exists()
    with tempfile.TemporaryDirectory(prefix="packhorse-clone-") as folder:
        bundle = Path(folder) / "clone.tgz"
        say(f"exporting {source_home}")
        exported = export_bundle(
            source,
            bundle,
            ExportOptions(passphrase=secret, with_executions=True),
            instance_keys=Keyring(source.keys_dir).keys().readers,
            now=now,
            random_bytes=random_bytes,
            python_version=python_version,
            say=say,
            on_secret=on_secret,
        )
        say(f"creating {target_home}")
        init_instance(target_home)
        try:
            target = load_settings(target_home)
            imported = import_bundle(
                wire(target),
                bundle,
                ImportOptions(passphrase=secret, prune=True, replace_users=True),
                instance_keys=Keyring(target.keys_dir).keys().readers,
                recipient_private=None,
                say=say,
                on_secret=on_secret,
            )
        except BaseException:
            if created:
                shutil.rmtree(target_home, ignore_errors=True)
            else:
                for entry in target_home.iterdir():
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            raise
    return CloneReport(exported, imported, target_home)
