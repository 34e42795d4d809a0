"""``packhorse bundle import``: verify a bundle, plan what it changes in this instance
(:mod:`packhorse.migrate.import_plan`), and apply the plan all or nothing.

Order of the work, and what undoes each step if a later one fails:

1. **Verify** everything before anything is written: the archive (hostile members refused
   while reading), the format version (an older format converted to the current one, see
   :mod:`packhorse.migrate.bundle_versions`), every member's checksum, and that the secrets
   open (the passphrase, or this instance's recipient key).
2. **Plan**: a diff of the bundle against the instance; ``--dry-run`` stops here, and so does
   a plan that writes nothing (importing a bundle twice is a no-op).
3. **Stage and validate**: the packs to install are extracted under ``<home>/.import/<id>/``;
   packs that stay but get a new config are validated with it (a dry-run registration).
   Any error and nothing has been written.
4. **Configs** written (the files they replace kept in the staging folder).
5. **Packs** installed through :func:`packhorse.packs.install.install` (directory specs of
   the staged folders, dependencies not fetched: the bundle carries them; virtualenvs built
   for this interpreter), which validates them with the configs just written first. The
   installer undoes its own step; the folders of the packs it replaces (and of pruned ones)
   are copied to the staging folder first.
6. **Database**: datastore (secrets sealed again under this instance's key), rule states,
   users, API keys, trigger instances, enforcements, executions, in one transaction.

A failure in 4 to 6 puts back the configs, ``pack-sources.json``, the replaced packs (installed
again from their copies), removes the added packs and restores the rule states: the instance
is as it was.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from packhorse.crypto.cipher import DATASTORE_ASSOCIATED_DATA, decrypt
from packhorse.crypto.keys import DatastoreKey
from packhorse.errors import BundleError, DecryptionError
from packhorse.migrate import bundle_format as fmt
from packhorse.migrate import sealing
from packhorse.migrate.archive import manifest_bytes, open_archive
from packhorse.migrate.bundle_versions import read_bundle
from packhorse.migrate.import_plan import (
    Action,
    BundleContents,
    ImportPlan,
    KeyState,
    Kind,
    PackFiles,
    TargetState,
    plan_import,
    read_contents,
)
from packhorse.migrate.import_undo import (
    JOURNAL_APPLYING,
    JOURNAL_DONE,
    STAGING,
    Instance,
    Undo,
    digest,
    recover_import,
    write_file,
)
from packhorse.migrate.spool import SpooledMembers
from packhorse.packs.content_lock import content_lock
from packhorse.packs.install import SYSTEM_PACKS
from packhorse.packs.sources_record import SOURCES_FILE
from packhorse.settings import Settings
from packhorse.storage import schema
from packhorse.storage.snapshot import open_snapshot

Say = Callable[[str], None]


class PassphraseRequired(BundleError):
    """The bundle's secrets are sealed under a passphrase, and none was given."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    passphrase: str | None = field(default=None, repr=False)
    """Opens a passphrase-sealed bundle's secrets."""
    dry_run: bool = False
    prune: bool = False
    """Remove the packs of the instance that the bundle does not hold."""
    replace_users: bool = False
    """Overwrite users and API keys the instance holds with other contents."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    manifest: fmt.Manifest
    plan: ImportPlan
    applied: bool
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundle": {
                "instance_id": self.manifest.instance_id,
                "created_at": self.manifest.created_at,
                "packhorse_version": self.manifest.packhorse_version,
                "content_checksum": self.manifest.content_checksum,
            },
            "applied": self.applied,
            "plan": self.plan.to_dict(),
            "warnings": list(self.warnings),
        }


# -- reading -----------------------------------------------------------------------------------


@contextlib.contextmanager
def open_bundle(
    path: Path,
    *,
    passphrase: str | None,
    recipient_private: bytes | None,
    on_secret: Callable[[str], None] = lambda _clear: None,
) -> Iterator[tuple[fmt.Manifest, BundleContents]]:
    """Read and verify the bundle at ``path`` and open its secrets; :class:`BundleError`
    saying what is wrong (and what to do) otherwise. Nothing is written to the instance:
    the members are spooled to a private temporary folder, removed when the block ends."""
    modes: dict[str, int] = {}
    with open_archive(path, modes=modes) as (manifest_data, archived):
        yield _verified(
            path, manifest_data, archived, modes, passphrase, recipient_private, on_secret
        )


def _verified(  # noqa: PLR0917 - open_bundle's arguments, passed on
    path: Path,
    manifest_data: bytes,
    archived: Mapping[str, bytes],
    modes: Mapping[str, int],
    passphrase: str | None,
    recipient_private: bytes | None,
    on_secret: Callable[[str], None],
) -> tuple[fmt.Manifest, BundleContents]:
    read = read_bundle(manifest_data, archived)  # an older format converted up front
    manifest, members = read.manifest, read.members
    problems = fmt.verify_members(manifest, members)
    if problems:
        raise BundleError(
            f"{path}: the bundle does not verify; nothing imported:\n  " + "\n  ".join(problems),
            hint="the file is damaged or was altered: export it again",
        )
    block = manifest.secrets
    key = None
    if block.mode == "passphrase":
        if passphrase is None:
            raise PassphraseRequired(
                "this bundle's secrets are sealed under a passphrase, and none was given",
                hint="give --passphrase-file FILE or $PACKHORSE_BUNDLE_PASSPHRASE",
            )
        key = sealing.key_from_passphrase(block, passphrase)
        if not sealing.key_opens(block, key):
            raise BundleError(
                "wrong passphrase: it does not open this bundle's secrets; nothing imported",
                hint="give the passphrase the bundle was exported with",
            )
    elif block.mode == "recipient":
        if recipient_private is None:
            raise BundleError(
                "this bundle's secrets are sealed for another instance's recipient key, and "
                "this instance has none",
                hint="import it on the instance whose 'bundle recipient-key' it was sealed for",
            )
        key = sealing.key_from_recipient(block, recipient_private)
        if not sealing.key_opens(block, key):
            raise BundleError("the verifier does not open: the manifest was altered")
    opened_key = key

    def open_secret(item: Mapping[str, Any]) -> str:
        assert opened_key is not None
        try:
            clear = sealing.unseal_item(item, opened_key)
        except DecryptionError as error:
            raise BundleError(
                f"{fmt.DATASTORE}: {item['scope']} key {item['name']!r}: {error.message}; "
                "nothing imported",
                hint="the bundle was altered: export it again",
            ) from None
        on_secret(clear)
        return clear

    return manifest, read_contents(members, modes, open_secret if key is not None else None)


def read_manifest(path: Path) -> fmt.Manifest:
    """The manifest of the bundle at ``path`` (in the current format); not verified. Only
    the first member is read, unless an older format's conversion needs the members."""
    data = manifest_bytes(path)
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if isinstance(document, dict) and document.get("format") == fmt.FORMAT_VERSION:
        return read_bundle(data, {}).manifest
    with open_archive(path) as (manifest_data, members):
        return read_bundle(manifest_data, members).manifest


def read_target(
    settings: Settings,
    *,
    instance_keys: Mapping[str, DatastoreKey],
    system_packs: frozenset[str] = SYSTEM_PACKS,
) -> TargetState:
    """What the instance holds now, read from one consistent snapshot (read-only)."""
    with open_snapshot(settings.database) as snapshot:
        packs = {}
        for ref, version, path in snapshot.packs():
            if ref in system_packs:
                continue
            packs[ref] = (version, digest(settings, ref, path))
        keys = {
            (pair.scope.value, pair.user, pair.name): KeyState(
                pair.secret,
                _clear(pair.value, instance_keys) if pair.secret else pair.value,
                pair.description,
                pair.expires_at,
            )
            for pair in snapshot.key_values()
        }
        state = TargetState(
            packs=packs,
            configs=_configs(settings.configs_dir),
            keys=keys,
            rules=snapshot.rule_states(),
            users={row["name"]: row for row in snapshot.users()},
            api_keys={row["id"]: row for row in snapshot.api_keys()},
            trigger_instances=snapshot.ids(schema.trigger_instances),
            rule_enforcements=snapshot.ids(schema.rule_enforcements),
            executions=snapshot.ids(schema.executions),
        )
    return state


def _clear(token: str, instance_keys: Mapping[str, DatastoreKey]) -> str:
    return decrypt(dict(instance_keys), token, associated=DATASTORE_ASSOCIATED_DATA)


def _configs(configs_dir: Path) -> dict[str, bytes]:
    if not configs_dir.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(configs_dir.glob("*.yaml")) if p.is_file()}


# -- applying ----------------------------------------------------------------------------------


def import_bundle(
    instance: Instance,
    path: Path,
    options: ImportOptions,
    *,
    instance_keys: Mapping[str, DatastoreKey],
    recipient_private: bytes | None,
    say: Say = lambda _line: None,
    on_secret: Callable[[str], None] = lambda _clear: None,
) -> ImportReport:
    """Import the bundle at ``path`` into ``instance``; see the module docstring."""
    say(f"reading and verifying {path.name}")
    with open_bundle(
        path,
        passphrase=options.passphrase,
        recipient_private=recipient_private,
        on_secret=on_secret,
    ) as (manifest, contents):
        if options.dry_run:
            return _plan_and_apply(instance, contents, manifest, options, instance_keys, say)
        with content_lock(instance.settings.home, what="a bundle import"):
            # An import a crash interrupted is undone first: the plan compares with what the
            # instance held before it.
            for line in recover_import(instance):
                say(line)
            return _plan_and_apply(instance, contents, manifest, options, instance_keys, say)


def _plan_and_apply(  # noqa: PLR0917 - import_bundle's state, passed on
    instance: Instance,
    contents: BundleContents,
    manifest: fmt.Manifest,
    options: ImportOptions,
    instance_keys: Mapping[str, DatastoreKey],
    say: Say,
) -> ImportReport:
    settings = instance.settings
    say("comparing with this instance")
    target = read_target(settings, instance_keys=instance_keys)
    plan = plan_import(contents, target, prune=options.prune, replace_users=options.replace_users)
    if options.dry_run or not plan.writes:
        return ImportReport(manifest, plan, applied=False)
    warnings = apply_plan(instance, contents, target, plan, say)
    return ImportReport(manifest, plan, applied=True, warnings=tuple(warnings))


def apply_plan(
    instance: Instance,
    contents: BundleContents,
    target: TargetState,
    plan: ImportPlan,
    say: Say,
) -> list[str]:
    from packhorse.packs.install import install

    settings = instance.settings
    staging = settings.home / STAGING / uuid.uuid4().hex[:12]
    staged_packs, staged_configs, previous = staging / "packs", staging / "configs", staging / "old"
    try:
        to_install = plan.names(Kind.PACK, Action.ADD, Action.UPDATE)
        # The installer validates what it installs, with the configs as written before it
        # runs; the packs that stay need checking here against their new configs.
        new_configs = {name.removesuffix(".yaml") for name in plan.names(Kind.CONFIG, *_WRITES)}
        staying = sorted(new_configs & set(target.packs) - set(to_install))
        say(f"staging {len(to_install)} packs")
        for ref in to_install:
            _extract(staged_packs / ref, contents.packs[ref].files)
        if staying:
            staged_configs.mkdir(parents=True)
            for name, data in {**target.configs, **contents.configs}.items():
                (staged_configs / name).write_bytes(data)
            say(f"validating {len(staying)} packs with their new configs")
            errors = instance.validate(staged_packs, staged_configs, staying)
            if errors:
                raise BundleError(
                    "nothing imported: the bundle's configs do not validate here:\n  "
                    + "\n  ".join(errors),
                    hint="fix the configs on the source and export again",
                )
        added = plan.names(Kind.PACK, Action.ADD)
        replaced = plan.names(Kind.PACK, Action.UPDATE, Action.REMOVE)
        previous.mkdir()
        for ref in replaced:
            _copy_pack(settings, ref, previous / ref)
        digests = {ref: target.packs[ref][1] for ref in replaced}
        undo = Undo(instance, staging, dict(target.rules), added, replaced, digests)
        try:
            undo.files(settings.configs_dir / n for n in plan.names(Kind.CONFIG, *_WRITES))
            undo.files([settings.home / SOURCES_FILE])
            undo.write_journal(JOURNAL_APPLYING)  # from here a crash is undone by the next import
            for name in plan.names(Kind.CONFIG, *_WRITES):
                write_file(settings.configs_dir / name, contents.configs[name])
            if to_install:
                say(f"installing {len(to_install)} packs")
                install(  # all or nothing itself
                    [str(staged_packs / ref) for ref in to_install],
                    instance.install_environment,
                    skip_dependencies=True,
                    say=say,
                )
            pruned = plan.names(Kind.PACK, Action.REMOVE)
            if pruned:
                say(f"removing {len(pruned)} packs (--prune)")
                instance.remove_packs(pruned)
            _write_sources(settings.home, contents, to_install)
            say("writing the datastore, rule states, users and events")
            warnings = _write_database(instance, contents, plan)
            undo.write_journal(JOURNAL_DONE)
        except BaseException:
            say("failed: putting the instance back as it was")
            undo.run()
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            (settings.home / STAGING).rmdir()
    return warnings


_WRITES = (Action.ADD, Action.UPDATE)


def _extract(folder: Path, files: Mapping[str, tuple[bytes, int]]) -> None:
    try:
        for relative in files:
            target = folder / relative  # member paths were checked: relative, no ``..``
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(files, PackFiles) and isinstance(files.members, SpooledMembers):
                # Copied from the spool by chunks: a large file never sits in memory.
                shutil.copyfile(files.members.source(files.member(relative)), target)
                mode = files.mode(relative)
            else:
                data, mode = files[relative]
                target.write_bytes(data)
            target.chmod(mode)
    except OSError as error:
        raise BundleError(
            f"nothing imported: cannot stage pack {folder.name}: {error}",
            hint="the bundle holds a file and a folder of one name, or the disk is full",
        ) from error


def _copy_pack(settings: Settings, ref: str, into: Path) -> None:
    from packhorse.bootstrap import content_registry

    registered = content_registry(settings).get_pack(ref)
    if registered is None:
        return
    folder = (settings.home / registered.path).resolve()
    shutil.copytree(folder, into, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))


def _write_sources(home: Path, contents: BundleContents, installed: list[str]) -> None:
    """``pack-sources.json``: where the installed packs came from as the bundle says (the
    installer recorded the staging folder), not at all when the bundle does not say."""
    path = home / SOURCES_FILE
    if not installed or not path.is_file():
        return
    sources = json.loads(path.read_text(encoding="utf-8"))
    for ref in installed:
        sources.pop(ref, None)
        if ref in contents.pack_sources:
            sources[ref] = contents.pack_sources[ref]
    if sources:
        text = json.dumps(sources, indent=2, sort_keys=True) + "\n"
        write_file(path, text.encode("utf-8"))
    else:
        path.unlink()


def _write_database(instance: Instance, contents: BundleContents, plan: ImportPlan) -> list[str]:
    """Everything the database takes from the bundle, in one transaction; warnings (rules
    of the bundle that no pack here defines)."""
    warnings: list[str] = []
    from packhorse.bootstrap import database_engine
    from packhorse.storage.database import transaction

    changed = {(c.kind, c.name): c.action for c in plan.changes if c.action in _WRITES}
    key_rows = []
    for identity, (state, item) in contents.keys.items():
        scope, user, name = identity
        shown = f"{scope}:{user}:{name}" if user else f"{scope}:{name}"
        action = changed.get((Kind.KEY, shown))
        if state is None or action is None:
            continue
        value = instance.encrypt(state.value) if state.secret else state.value
        key_rows.append(
            (
                action,
                {
                    "scope": scope,
                    "user": user,
                    "name": name,
                    "value": value,
                    "secret": state.secret,
                    "description": state.description,
                    "expires_at": state.expires_at,
                    "updated_at": item.get("updated_at") or "",
                },
            )
        )
    engine = database_engine(instance.settings)
    with transaction(engine, write=True) as connection:
        table = schema.kv_pairs
        for action, row in key_rows:
            if action is Action.UPDATE:
                connection.execute(
                    table.delete().where(
                        table.c.scope == row["scope"],
                        table.c.user == row["user"],
                        table.c.name == row["name"],
                    )
                )
            connection.execute(table.insert(), row)
        resources = schema.resources
        for ref, enabled in contents.rules.items():
            if (Kind.RULE, ref) in changed:
                updated = connection.execute(
                    resources.update()
                    .where(resources.c.kind == "rule", resources.c.ref == ref)
                    .values(enabled=enabled)
                )
                if updated.rowcount == 0:
                    warnings.append(f"rule {ref}: no pack here defines it; its state is not kept")
        _records(connection, schema.users, "name", contents.users, changed, Kind.USER)
        _records(connection, schema.api_keys, "id", contents.api_keys, changed, Kind.API_KEY)
        for kind, table, rows in [
            (Kind.TRIGGER_INSTANCE, schema.trigger_instances, contents.trigger_instances),
            (Kind.RULE_ENFORCEMENT, schema.rule_enforcements, contents.rule_enforcements),
            (Kind.EXECUTION, schema.executions, contents.executions),
        ]:
            _records(connection, table, "id", rows, changed, kind)
    return warnings


_JSON_COLUMNS = frozenset({"payload", "metadata", "parameters", "context", "result", "pids"})


def _records(  # noqa: PLR0917 - one call per table, read as a row
    connection: sa.Connection,
    table: sa.Table,
    key: str,
    rows: Mapping[str, Mapping[str, Any]],
    changed: Mapping[tuple[Kind, str], Action],
    kind: Kind,
) -> None:
    inserts = []
    for name, row in rows.items():
        action = changed.get((kind, name))
        if action is None:
            continue
        values = {c.name: _column(c.name, row.get(c.name)) for c in table.columns if c.name in row}
        if action is Action.UPDATE:
            connection.execute(table.delete().where(table.c[key] == name))
        inserts.append(values)
    if inserts:
        connection.execute(table.insert(), inserts)


def _column(name: str, value: Any) -> Any:
    if name in _JSON_COLUMNS and value is not None:
        return json.dumps(value, sort_keys=True)
    return value


def wire(settings: Settings) -> Instance:
    """The :class:`Instance` of ``settings``' instance folder (the composition root's part)."""
    from packhorse import bootstrap
    from packhorse.engine.clock import iso_now
    from packhorse.engine.registration import register_packs
    from packhorse.model.content import Kind as ResourceKind
    from packhorse.model.diagnostics import Severity

    def validate(staged: Path, configs: Path, refs: list[str]) -> list[str]:
        outcome = register_packs(
            bootstrap.content_registry(settings),
            [staged, *settings.pack_search_paths],
            system_packs=bootstrap.system_pack_dirs(),
            home=settings.home,
            configs_dir=configs,
            refs=refs,
            dry_run=True,
            now=iso_now(),
        )
        return [d.format() for d in outcome.diagnostics if d.severity is Severity.ERROR]

    datastore = bootstrap.datastore_service(settings)
    return Instance(
        settings=settings,
        install_environment=bootstrap.pack_install_environment(settings),
        validate=validate,
        remove_packs=lambda refs: bootstrap.remove_instance_packs(settings, refs),
        set_rule_enabled=lambda ref, enabled: bootstrap.content_registry(settings).set_enabled(
            ResourceKind.RULE, ref, enabled
        ),
        encrypt=datastore.encrypt,
    )
