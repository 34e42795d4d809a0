"""What the steps of ``packhorse upgrade run`` do to instances, wired to the real code:
the :class:`packhorse.migrate.upgrade_steps.Services` of the command (and of the tests)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from packhorse.migrate.export import ExportReport
    from packhorse.migrate.importing import ImportReport
    from packhorse.migrate.instance_archive import ArchiveReport
    from packhorse.migrate.verify_diff import VerifyReport

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class InstanceServices:
    """The steps' side effects on instance folders of this machine."""

    now: Callable[[], dt.datetime]
    random_bytes: Callable[[int], bytes]
    python_version: str
    on_secret: Callable[[str], None] = lambda _clear: None

    def export(self, source: Path, bundle: Path, passphrase: str, say: Say) -> ExportReport:
        from packhorse.engine.keyring import Keyring
        from packhorse.migrate.export import ExportOptions, export_bundle
        from packhorse.settings import load_settings

        settings = load_settings(source)
        return export_bundle(
            settings,
            bundle,
            ExportOptions(passphrase=passphrase, with_executions=True),
            instance_keys=Keyring(settings.keys_dir).keys().readers,
            now=self.now(),
            random_bytes=self.random_bytes,
            python_version=self.python_version,
            say=say,
            on_secret=self.on_secret,
        )

    def init(self, target: Path) -> str:
        from packhorse.engine.instance import init_instance

        return init_instance(target).settings.instance_id

    def import_bundle(self, target: Path, bundle: Path, passphrase: str, say: Say) -> ImportReport:
        from packhorse.engine.keyring import Keyring
        from packhorse.migrate.importing import ImportOptions, import_bundle, wire
        from packhorse.migrate.recipient import load_private_key
        from packhorse.settings import load_settings

        settings = load_settings(target)
        return import_bundle(
            wire(settings),
            bundle,
            ImportOptions(passphrase=passphrase, prune=True, replace_users=True),
            instance_keys=Keyring(settings.keys_dir).keys().readers,
            recipient_private=load_private_key(settings.keys_dir),
            say=say,
            on_secret=self.on_secret,
        )

    def check(self, target: Path, fix: bool, say: Say) -> dict[str, Any]:
        from packhorse import bootstrap
        from packhorse.migrate.upgrade_check import check_pack
        from packhorse.migrate.upgrade_steps import StepFailed
        from packhorse.packs.discover import discover_packs
        from packhorse.settings import load_settings

        settings = load_settings(target)
        found, _ = discover_packs([settings.packs_dir])
        results = [check_pack(Path(p.path), p.display_path, fix=fix) for p in found]
        changed = [f"{r.folder.rstrip('/')}/{c.path}" for r in results for c in r.changes]
        for line in changed:
            say(f"fixed {line}")
        if changed:
            outcome = bootstrap.register_instance_packs(settings, all_packs=True)
            if not outcome.ok:
                raise StepFailed(
                    "the fixed packs did not register: "
                    + "; ".join(d.format() for d in outcome.diagnostics if d.is_error)
                )
        remaining = [f.format(r.folder) for r in results for f in r.unfixable]
        refused = [f"{r.folder}: {r.refused}" for r in results if r.refused]
        if remaining or refused:
            shown = [*refused, *remaining]
            raise StepFailed(
                f"{len(shown)} problems cannot be fixed: " + "; ".join(shown[:5]),
                hint=f"run 'packhorse --home {target} upgrade check' for the list, fix the "
                "packs, and run the plan again",
            )
        findings = sum(len(r.findings) for r in results)
        return {"packs": len(results), "findings": findings, "fixed": changed}

    def verify(
        self, baseline: Path, candidate: Path, options: Mapping[str, Any], say: Say
    ) -> VerifyReport:
        import yaml

        from packhorse.engine.clock import iso
        from packhorse.migrate.upgrade_steps import StepFailed
        from packhorse.migrate.verify_diff import parse_expectations
        from packhorse.migrate.verify_local import verify_folders
        from packhorse.settings import load_settings

        days = options.get("replay_days")
        expect = options.get("expect")
        expectations = []
        if expect is not None:
            try:
                expectations = parse_expectations(
                    yaml.safe_load(Path(expect).read_text(encoding="utf-8"))
                )
            except (OSError, ValueError, yaml.YAMLError) as error:
                raise StepFailed(f"verify.expect {expect}: {error}") from None
        return verify_folders(
            load_settings(baseline),
            load_settings(candidate),
            since=None if days is None else iso(self.now() - dt.timedelta(days=days)),
            limit=options.get("limit", 1000),
            pack_tests=options.get("pack_tests", True),
            expectations=expectations,
            say=say,
        )

    def archive(self, source: Path, output: Path, passphrase: str, say: Say) -> ArchiveReport:
        from packhorse.migrate.instance_archive import Sealing, create_archive
        from packhorse.settings import load_settings

        return create_archive(
            load_settings(source),
            output,
            Sealing(passphrase=passphrase),
            now=self.now(),
            random_bytes=self.random_bytes,
            python_version=self.python_version,
            say=say,
        )
