"""What the steps of ``packhorse upgrade run`` do to instances, wired to the real code:
the :class:`packhorse.migrate.upgrade_steps.Services` of the command (and of the tests)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packhorse.errors import ConfigurationError

if TYPE_CHECKING:
    from packhorse.client.http import ApiClient
    from packhorse.migrate.cutover_wiring import FrontPort, Side
    from packhorse.migrate.export import ExportReport
    from packhorse.migrate.importing import ImportReport
    from packhorse.migrate.instance_archive import ArchiveReport
    from packhorse.migrate.verify_diff import VerifyReport

Say = Callable[[str], None]


def upgrade_recipient(passphrase: str, bundle: Path) -> bytes:
    """The X25519 private key a bundle exported over the API is sealed for: derived from the
    plan's passphrase (scrypt, salted with the bundle's path), so that no key file is left
    beside the bundle and a resumed run finds the same key."""
    import hashlib

    from packhorse.crypto.transport import ScryptParameters, derive_key

    salt = hashlib.sha256(b"packhorse upgrade recipient\0" + str(bundle).encode()).digest()
    return derive_key(passphrase, salt[:16], ScryptParameters()).cipher_key


@dataclass(frozen=True, slots=True)
class InstanceServices:
    """The steps' side effects on instance folders of this machine, and on the old instance
    over its API when the plan's ``from`` is a URL (``connect`` opens it)."""

    now: Callable[[], dt.datetime]
    random_bytes: Callable[[int], bytes]
    python_version: str
    on_secret: Callable[[str], None] = lambda _clear: None
    connect: Callable[[str], ApiClient] | None = None

    def _api(self, url: str) -> ApiClient:
        if self.connect is None:
            raise ConfigurationError(f"{url}: instances reached over their API are not wired")
        return self.connect(url)

    def export(self, source: Path | str, bundle: Path, passphrase: str, say: Say) -> ExportReport:
        from packhorse.engine.keyring import Keyring
        from packhorse.migrate.export import ExportOptions, export_bundle
        from packhorse.settings import load_settings

        if isinstance(source, str):
            return self._export_remote(source, bundle, passphrase, say)
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

    def _export_remote(self, url: str, bundle: Path, passphrase: str, say: Say) -> ExportReport:
        from packhorse.client import bundles
        from packhorse.crypto.transport import format_recipient, recipient_public_key
        from packhorse.migrate.export import ExportReport
        from packhorse.migrate.importing import read_manifest

        recipient = format_recipient(recipient_public_key(upgrade_recipient(passphrase, bundle)))
        say(f"exporting {url} over its API (secrets sealed for this upgrade's key)")
        bundles.export_bundle(
            self._api(url), bundle, recipient=recipient, no_secrets=False, with_executions=True
        )
        manifest = read_manifest(bundle)
        return ExportReport(bundle, bundle.stat().st_size, manifest)

    def init(self, target: Path, listen: str | None) -> str:
        from packhorse.engine.instance import init_instance

        return init_instance(target, listen=listen, standby=True).settings.instance_id

    def import_bundle(self, target: Path, bundle: Path, passphrase: str, say: Say) -> ImportReport:
        from packhorse.engine.keyring import Keyring
        from packhorse.migrate.importing import ImportOptions, import_bundle, read_manifest, wire
        from packhorse.migrate.recipient import load_private_key
        from packhorse.settings import load_settings

        settings = load_settings(target)
        sealed = read_manifest(bundle).secrets.mode
        # Exported over the API, the bundle is sealed for this upgrade's key, not the new
        # instance's own (which did not exist yet).
        recipient = (
            upgrade_recipient(passphrase, bundle)
            if sealed == "recipient"
            else load_private_key(settings.keys_dir)
        )
        return import_bundle(
            wire(settings),
            bundle,
            ImportOptions(passphrase=passphrase, prune=True, replace_users=True),
            instance_keys=Keyring(settings.keys_dir).keys().readers,
            recipient_private=recipient,
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
        self, baseline: Path | str, candidate: Path, options: Mapping[str, Any], say: Say
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
        since = None if days is None else iso(self.now() - dt.timedelta(days=days))
        if isinstance(baseline, str):
            return self._verify_remote(
                baseline, candidate, options, since=since, expectations=expectations, say=say
            )
        return verify_folders(
            load_settings(baseline),
            load_settings(candidate),
            since=since,
            limit=options.get("limit", 1000),
            pack_tests=options.get("pack_tests", True),
            expectations=expectations,
            say=say,
        )

    def _verify_remote(
        self,
        url: str,
        candidate: Path,
        options: Mapping[str, Any],
        *,
        since: str | None,
        expectations: list[Any],
        say: Say,
    ) -> VerifyReport:
        from packhorse.client.remote import RemoteEvents
        from packhorse.client.shadow import RemoteShadow
        from packhorse.migrate.verify import recorded_traffic, verify
        from packhorse.migrate.verify_local import local_pack_tests, local_shadow
        from packhorse.settings import load_settings

        api = self._api(url)
        settings = load_settings(candidate)
        limit = options.get("limit", 1000)
        pack_tests = options.get("pack_tests", True)
        return verify(
            recorded_traffic(RemoteEvents(api), since=since, limit=limit),
            RemoteShadow(api),
            local_shadow(settings),
            names=(url, str(candidate)),
            pack_tests=local_pack_tests(settings, say) if pack_tests else [],
            pack_tests_skipped=None if pack_tests else "pack_tests: false in the plan",
            expectations=expectations,
        )

    def cut_over(
        self, source: Path | str, target: Path, options: Mapping[str, Any], say: Say
    ) -> dict[str, Any]:
        import time

        from packhorse.migrate import cutover as steps
        from packhorse.migrate.cutover_wiring import FrontPort, HealthGate, Side, cut_over
        from packhorse.migrate.instances import LocalInstance, RemoteInstance
        from packhorse.migrate.upgrade_steps import StepFailed
        from packhorse.settings import load_settings

        timeout = float(options.get("health_timeout", 60))
        gate = HealthGate(
            options.get("health_gate"), dict(options.get("health_params") or {}), timeout
        )
        old = Side(
            RemoteInstance(self._api(source))
            if isinstance(source, str)
            else LocalInstance(load_settings(source)),
            gate=gate,
        )
        new = Side(LocalInstance(load_settings(target)), gate=gate)
        started = None
        if options.get("start") and new.ready() is not None:
            started = start_instance(target, new, timeout=timeout, say=say)
        front_state = options.get("front_state")
        front = FrontPort(
            Path(front_state) if front_state else target / "front.json",
            hook=options.get("hook"),
            by="packhorse upgrade run",
            ca_file="",
            public_url=options.get("front_url"),
        )
        if _cut_over_already(front, old, new):
            say("cutover: recorded already (the front sends to the new instance); handing over")
            moved = steps.hand_over(old, new)
            return {"resumed": True, "handed_over": moved.fields()}

        def progress(step: steps.Step) -> None:
            say(f"cutover {step.name}: {step.seconds:.3f} s {step.detail}")

        report = cut_over(
            old,
            new,
            front,
            timeout=float(options.get("drain_timeout", 60)),
            clocks=steps.Clocks(time.monotonic, time.sleep),
            progress=progress,
        )
        if not report.ok:
            raise StepFailed(
                report.reason or "the cutover did not complete",
                hint=f"{source} is the active instance again; fix what is said, then run the "
                "plan again",
            )
        return {**report.fields(), "started_pid": started}

    def archive(self, source: Path | str, output: Path, passphrase: str, say: Say) -> ArchiveReport:
        from packhorse.migrate.instance_archive import Sealing, create_archive
        from packhorse.settings import load_settings

        if isinstance(source, str):  # the plan refuses it: archive: {skip: true}
            raise ConfigurationError(f"{source}: archive the old instance on its machine")

        return create_archive(
            load_settings(source),
            output,
            Sealing(passphrase=passphrase),
            now=self.now(),
            random_bytes=self.random_bytes,
            python_version=self.python_version,
            say=say,
        )


def _cut_over_already(front: FrontPort, old: Side, new: Side) -> bool:
    """A cutover from ``old`` to ``new`` is recorded beside the front's state file and the
    front still sends to ``new``: an earlier attempt of the step got that far."""
    import json

    from packhorse.front.control import current_state
    from packhorse.migrate.cutover_wiring import record_file

    try:
        record = json.loads(record_file(front.state_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("state") != "cut-over":
        return False
    if (record.get("from"), record.get("to")) != (old.name, new.name):
        return False
    if front.hook:
        return True
    state, _ = current_state(front.state_file)
    return state.active == new.url


def start_instance(home: Path, instance: Side, *, timeout: float, say: Say) -> int:
    """Start ``packhorse up`` for the instance folder ``home`` in the background (its own
    session, so it outlives this command; output appended to ``logs/up.log``) and wait until
    it is ready; its process id."""
    import subprocess
    import sys
    import time

    from packhorse.migrate.upgrade_steps import StepFailed

    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    say(f"starting {home} (packhorse up, output in {logs / 'up.log'})")
    with open(logs / "up.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "packhorse", "--home", str(home), "up"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while (problem := instance.ready()) is not None:
        if process.poll() is not None:
            raise StepFailed(
                f"the new instance stopped at start (exit status {process.returncode})",
                hint=f"see {logs / 'up.log'}",
            )
        if time.monotonic() > deadline:
            raise StepFailed(
                f"the new instance is not ready after {timeout:g} s: {problem}",
                hint=f"see {logs / 'up.log'}",
            )
        time.sleep(0.2)
    say(f"{home} is up (pid {process.pid})")
    return process.pid
