"""``packhorse import-st2``: carry a StackStorm install's content into this instance.

A StackStorm install is read as if it were a bundle, then imported by the bundle import's own
plan and apply (:mod:`packhorse.migrate.importing`), so it is all or nothing in the same way
and a crash in the middle is undone by the next import:

1. **Packs** (``/opt/stackstorm/packs``): each pack folder is copied to a scratch folder (the
   original is never written) and run through the upgrade transforms
   (:func:`packhorse.migrate.upgrade_check.check_pack` with ``fix``); the fixed copy is
   validated with the pack validator. A pack with validation errors refuses the import
   (nothing written), naming each ``file:line``. Packs Packhorse ships itself (``core``) are
   left out.
2. **Configs** (``/opt/stackstorm/configs/<pack>.yaml``): those of packs imported or already
   here; the installer validates every pack against its ``config.schema.yaml`` with them.
3. **Datastore** (``st2 key list -j [--decrypt]``): both scopes, expiry carried; values
   StackStorm encrypted are opened with its key file (``--st2-key-file``) and sealed again
   under this instance's key in the import's database transaction. Without the key file they
   are listed as not carried.
4. **Rule states** (``st2 rule list -j``): the live enabled state of each rule, set after
   the packs are registered.

What cannot be carried is listed in the report, not hidden: findings the transforms cannot
fix, secrets without a key file, configs of packs that are not there, rule states of rules no
pack defines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from packhorse.crypto.stackstorm import parse_st2_key_file, st2_decrypt
from packhorse.errors import BundleError, ConfigurationError, DecryptionError, ValidationFailed
from packhorse.migrate import bundle_format as fmt
from packhorse.migrate.export import pack_members
from packhorse.migrate.import_plan import (
    BundleContents,
    BundlePack,
    ImportPlan,
    KeyId,
    KeyState,
    pack_digest,
    plan_import,
)
from packhorse.migrate.import_undo import Instance, recover_import
from packhorse.migrate.importing import apply_plan, read_target
from packhorse.migrate.st2_key_dump import ISO_FORMAT, DumpItem, parse_key_dump
from packhorse.migrate.transforms import Finding, detect
from packhorse.migrate.upgrade_check import FileChange, check_pack, read_files
from packhorse.model.diagnostics import Diagnostic
from packhorse.packs.content_lock import content_lock
from packhorse.packs.discover import default_context, read_pack
from packhorse.packs.install import SYSTEM_PACKS
from packhorse.packs.validate import validate_packs

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class St2Install:
    """Where the StackStorm install's content is (copied off the StackStorm machine)."""

    packs_dir: Path
    """``/opt/stackstorm/packs``: one folder per pack."""
    configs_dir: Path | None = None
    """``/opt/stackstorm/configs``."""
    key_dump: Path | None = None
    """``st2 key list -j`` (or ``-j --decrypt``) output."""
    st2_key_file: Path | None = None
    """``/etc/st2/keys/datastore_key.json``: opens the dump's encrypted values."""
    rules_state: Path | None = None
    """``st2 rule list -j`` output: the live enabled state of each rule."""


@dataclass(frozen=True, slots=True)
class PackImport:
    """One StackStorm pack, as it is imported."""

    ref: str
    version: str
    source: str
    """The pack folder in the StackStorm install."""
    transforms: tuple[str, ...]
    """Ids of the transforms that rewrote it."""
    changes: tuple[FileChange, ...]
    remaining: tuple[Finding, ...]
    """What the transforms found and could not fix (the pack still imports)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "version": self.version,
            "source": self.source,
            "transforms": list(self.transforms),
            "changed_files": [
                {"path": c.path, "added": c.added, "removed": c.removed} for c in self.changes
            ],
            "not_fixed": [f.format(self.source) for f in self.remaining],
        }


@dataclass(slots=True)
class St2ImportReport:
    """What the import did (or, with ``dry_run``, would do)."""

    plan: ImportPlan
    applied: bool
    packs: list[PackImport]
    configs: list[str]
    keys: dict[str, int]
    """Items imported, by scope."""
    rules: dict[str, bool]
    cannot_carry: list[str] = field(default_factory=list)
    """What stays behind, one line each, saying why."""
    skipped_packs: list[str] = field(default_factory=list)
    """Packs Packhorse ships itself."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "packs": [p.to_dict() for p in self.packs],
            "skipped_packs": self.skipped_packs,
            "configs": self.configs,
            "keys": self.keys,
            "rules": self.rules,
            "cannot_carry": self.cannot_carry,
            "plan": self.plan.to_dict(),
        }


def import_st2(
    instance: Instance,
    install: St2Install,
    *,
    dry_run: bool,
    instance_keys: Mapping[str, Any],
    now: dt.datetime,
    say: Say = lambda _line: None,
    on_secret: Callable[[str], None] = lambda _clear: None,
) -> St2ImportReport:
    """Import ``install`` into ``instance``; see the module docstring. Raises before writing
    anything when the input is wrong (a pack does not validate, the dump does not parse, an
    encrypted value does not open); a failure while writing puts the instance back."""
    lock = (
        contextlib.nullcontext()
        if dry_run
        else content_lock(instance.settings.home, what="a StackStorm import")
    )
    with lock:
        return _import_st2(
            instance,
            install,
            dry_run=dry_run,
            instance_keys=instance_keys,
            now=now,
            say=say,
            on_secret=on_secret,
        )


def _import_st2(
    instance: Instance,
    install: St2Install,
    *,
    dry_run: bool,
    instance_keys: Mapping[str, Any],
    now: dt.datetime,
    say: Say,
    on_secret: Callable[[str], None],
) -> St2ImportReport:
    cannot: list[str] = []
    packs_dir = install.packs_dir
    if not packs_dir.is_dir():
        raise ConfigurationError(f"{packs_dir}: no such folder (StackStorm's packs folder)")
    say(f"reading and transforming the packs of {packs_dir}")
    packs, reports, skipped = _read_packs(packs_dir, say)
    for pack in reports:
        cannot += [
            f"pack {pack.ref}: {f.format(pack.source)} (imported as it is)" for f in pack.remaining
        ]

    say("comparing with this instance")
    settings = instance.settings
    if not dry_run:
        for line in recover_import(instance):
            say(line)
    target = read_target(settings, instance_keys=instance_keys)

    configs: dict[str, bytes] = {}
    if install.configs_dir is not None:
        say(f"reading the configs of {install.configs_dir}")
        configs = _read_configs(install.configs_dir, set(packs) | set(target.packs), cannot)
        for name, data in configs.items():
            schema = packs.get(name.removesuffix(".yaml"))
            if schema is not None:
                cannot += _clear_secrets(name, data, schema)

    keys: dict[KeyId, tuple[KeyState | None, Mapping[str, Any]]] = {}
    if install.key_dump is not None:
        say(f"reading the datastore dump {install.key_dump.name}")
        keys = _read_keys(install, now, cannot, on_secret)

    rules = {} if install.rules_state is None else _read_rules(install.rules_state)
    known_rules = set(target.rules) | {
        r for ref, pack in packs.items() for r in _rules_of(ref, pack)
    }
    for ref in sorted(set(rules) - known_rules):
        cannot.append(f"rule {ref}: enabled state not carried: no pack imported or here has it")
        del rules[ref]

    contents = BundleContents(
        packs=packs,
        configs=configs,
        keys=keys,
        rules=rules,
        users={},
        api_keys={},
        trigger_instances={},
        rule_enforcements={},
        executions={},
        pack_sources={},
    )
    plan = plan_import(contents, target)
    by_scope: dict[str, int] = {}
    for scope, _user, _name in keys:
        by_scope[scope] = by_scope.get(scope, 0) + 1
    report = St2ImportReport(
        plan=plan,
        applied=False,
        packs=reports,
        configs=sorted(configs),
        keys=by_scope,
        rules=dict(sorted(rules.items())),
        cannot_carry=cannot,
        skipped_packs=skipped,
    )
    if dry_run or not plan.writes:
        return report
    try:
        warnings = apply_plan(instance, contents, target, plan, say)
    except BundleError as error:  # the bundle import's words; the advice differs here
        raise ConfigurationError(
            error.message.replace("the bundle's configs", "the StackStorm configs"),
            hint="fix them in the --configs folder and run import-st2 again",
        ) from error
    report.cannot_carry += warnings
    report.applied = True
    return report


# -- packs -------------------------------------------------------------------------------------


def _read_packs(
    packs_dir: Path, say: Say
) -> tuple[dict[str, BundlePack], list[PackImport], list[str]]:
    packs: dict[str, BundlePack] = {}
    reports: list[PackImport] = []
    skipped: list[str] = []
    errors: list[Diagnostic] = []
    not_fixed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="packhorse-import-st2-") as scratch:
        for folder in sorted(p for p in packs_dir.iterdir() if (p / "pack.yaml").is_file()):
            ref, _version = _identity(folder)
            if ref in SYSTEM_PACKS:
                skipped.append(ref)
                continue
            if ref in packs:
                raise ConfigurationError(f"{folder}: a second pack named {ref}")
            staged = Path(scratch) / ref
            shutil.copytree(
                folder,
                staged,
                symlinks=True,
                ignore=shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "virtualenv*"),
            )
            fixable = sorted({f.transform for f in detect(read_files(staged)) if f.fixable})
            check = check_pack(staged, str(folder), fix=True)
            if check.refused:
                raise ConfigurationError(f"pack {ref} ({folder}): {check.refused}")
            say(f"{ref}: " + (f"transformed ({', '.join(fixable)})" if fixable else "as it is"))
            pack_errors = _validation_errors(staged, str(folder))
            errors += pack_errors
            if pack_errors:
                not_fixed += [f.format(str(folder)) for f in check.unfixable]
            files = {
                m.path.removeprefix(f"{fmt.PACKS_DIR}/{ref}/"): (m.data, m.mode)
                for m in pack_members(ref, staged)
            }
            _ref, version = _identity(staged)
            packs[ref] = BundlePack(
                version, pack_digest((p, fmt.sha256(d), m) for p, (d, m) in files.items()), files
            )
            reports.append(
                PackImport(
                    ref=ref,
                    version=version,
                    source=str(folder),
                    transforms=tuple(fixable) if check.changes else (),
                    changes=tuple(check.changes),
                    remaining=tuple(check.unfixable),
                )
            )
    if errors:
        why = "\nwhat the transforms could not fix in them:\n  " + "\n  ".join(not_fixed)
        raise ValidationFailed(
            "nothing imported: these StackStorm packs do not validate, even transformed:\n  "
            + "\n  ".join(d.format() for d in errors)
            + (why if not_fixed else ""),
            errors,
        )
    return packs, reports, skipped


def _identity(folder: Path) -> tuple[str, str]:
    """(ref, version) as ``pack.yaml`` says: ``ref``, else ``name``, else the folder name."""
    try:
        document = yaml.safe_load((folder / "pack.yaml").read_bytes())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{folder / 'pack.yaml'}: cannot read: {error}") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{folder / 'pack.yaml'}: not a mapping")
    ref = str(document.get("ref") or document.get("name") or folder.name)
    return ref, str(document.get("version", ""))


def _validation_errors(staged: Path, shown: str) -> list[Diagnostic]:
    results = validate_packs([read_pack(staged, shown)], default_context())
    return [d for result in results for d in result.diagnostics if d.is_error]


def _rules_of(ref: str, pack: BundlePack) -> list[str]:
    refs = []
    for path, (data, _mode) in pack.files.items():
        if not path.startswith("rules/") or not path.endswith((".yaml", ".yml")):
            continue
        try:
            document = yaml.safe_load(data)
        except yaml.YAMLError:
            continue
        if isinstance(document, dict) and document.get("name"):
            refs.append(f"{document.get('pack') or ref}.{document['name']}")
    return refs


# -- configs, keys, rules ----------------------------------------------------------------------


def _read_configs(configs_dir: Path, packs: set[str], cannot: list[str]) -> dict[str, bytes]:
    if not configs_dir.is_dir():
        raise ConfigurationError(f"{configs_dir}: no such folder (StackStorm's configs folder)")
    configs = {}
    for path in sorted(configs_dir.iterdir()):
        if not path.is_file() or path.suffix not in {".yaml", ".yml"}:
            continue
        ref = path.stem
        if ref in SYSTEM_PACKS:
            cannot.append(f"config {path.name}: {ref} ships with Packhorse; its config is not read")
        elif ref not in packs:
            cannot.append(f"config {path.name}: no pack {ref} imported or here")
        else:
            configs[f"{ref}.yaml"] = path.read_bytes()
    return configs


def _clear_secrets(name: str, data: bytes, pack: BundlePack) -> list[str]:
    """A line for each value a config holds in clear that its pack's schema marks secret."""
    schema_file = pack.files.get("config.schema.yaml")
    try:
        schema = yaml.safe_load(schema_file[0]) if schema_file else None
        values = yaml.safe_load(data)
    except yaml.YAMLError:
        return []  # the installer's validation names the problem
    if not isinstance(schema, dict) or not isinstance(values, dict):
        return []
    return [
        f"config {name}: secret {key!r} is in clear in the file (imported as it is; keep it in "
        "the datastore, encrypted, and refer to it with {{ st2kv.system.NAME }})"
        for key, item in schema.items()
        if isinstance(item, dict)
        and item.get("secret")
        and isinstance(values.get(key), str)
        and "{{" not in values[key]
    ]


def _read_keys(
    install: St2Install,
    now: dt.datetime,
    cannot: list[str],
    on_secret: Callable[[str], None],
) -> dict[KeyId, tuple[KeyState | None, Mapping[str, Any]]]:
    assert install.key_dump is not None
    path = install.key_dump
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{path}: cannot read: {error}") from None
    items, problems = parse_key_dump(text, str(path), now=now)
    if problems:
        raise ConfigurationError(
            "nothing imported: the datastore dump is not what 'st2 key list -j' prints:\n  "
            + "\n  ".join(problems)
        )
    st2_key = None
    if install.st2_key_file is not None and any(item.encrypted for item in items):
        try:
            key_text = install.st2_key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"{install.st2_key_file}: cannot read: {error}") from None
        st2_key = parse_st2_key_file(key_text, str(install.st2_key_file))
    keys: dict[KeyId, tuple[KeyState | None, Mapping[str, Any]]] = {}
    failed: list[str] = []
    expired_before = now.astimezone(dt.UTC).strftime(ISO_FORMAT)
    for item in items:
        if item.expires_at is not None and item.expires_at <= expired_before:
            cannot.append(f"key {item.shown}: expired on StackStorm ({item.expires_at})")
            continue
        value = item.value
        if item.encrypted:
            if st2_key is None:
                cannot.append(
                    f"key {item.shown}: encrypted by StackStorm and no --st2-key-file given"
                )
                continue
            try:
                value = st2_decrypt(st2_key, item.value)
            except DecryptionError as error:
                failed.append(f"{item.shown}: {error.message}")
                continue
        if item.secret:
            on_secret(value)
        keys[(item.scope.value, item.user, item.name)] = (_state(item, value), _row(item, now))
    if failed:
        raise DecryptionError(
            "nothing imported: these values do not open with the StackStorm key file:\n  "
            + "\n  ".join(failed),
            hint="give the key file named by [keyvalue] encryption_key_path of the StackStorm "
            "install the dump came from",
        )
    return keys


def _state(item: DumpItem, value: str) -> KeyState:
    return KeyState(item.secret, value, item.description, item.expires_at)


def _row(item: DumpItem, now: dt.datetime) -> dict[str, Any]:
    updated_at = now.astimezone(dt.UTC).strftime(ISO_FORMAT)
    return {
        "scope": item.scope.value,
        "user": item.user,
        "name": item.name,
        "updated_at": updated_at,
    }


def _read_rules(path: Path) -> dict[str, bool]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigurationError(f"{path}: cannot read as JSON: {error}") from None
    if not isinstance(document, list):
        raise ConfigurationError(f"{path}: not a JSON list (expected 'st2 rule list -j')")
    rules: dict[str, bool] = {}
    problems = []
    for index, entry in enumerate(document, start=1):
        if not isinstance(entry, dict):
            problems.append(f"item {index}: not an object")
            continue
        ref = entry.get("ref") or (
            f"{entry['pack']}.{entry['name']}" if entry.get("pack") and entry.get("name") else None
        )
        enabled = entry.get("enabled")
        if not isinstance(ref, str) or not isinstance(enabled, bool):
            problems.append(
                f"item {index}: needs 'ref' (or pack and name) and 'enabled' true/false"
            )
            continue
        rules[ref] = enabled
    if problems:
        raise ConfigurationError(f"{path}: " + "; ".join(problems))
    return rules
