"""``packhorse bundle export``: everything a site built, from a consistent snapshot, into one
bundle file (format: :mod:`packhorse.migrate.bundle_format`, ``docs/bundle-format.md``).

Read-only on the source: the database is read from a snapshot (:mod:`packhorse.storage.
snapshot`), pack folders, configs and ``pack-sources.json`` are only read, and the bundle is
written where the caller says. Secret values are decrypted with the instance key in memory
only, and sealed at once under the transport key; their clear text goes to ``on_secret``
(the process's redactor) and nowhere else.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packhorse import __version__
from packhorse.crypto import transport
from packhorse.crypto.cipher import DATASTORE_ASSOCIATED_DATA, decrypt, is_encrypted_token
from packhorse.crypto.keys import DatastoreKey
from packhorse.errors import ConfigurationError, DecryptionError, InstanceError
from packhorse.migrate import bundle_format as fmt
from packhorse.migrate import sealing
from packhorse.migrate.archive import write_archive, write_private_file
from packhorse.migrate.spool import file_digest
from packhorse.model.datastore import KeyValue
from packhorse.packs.install import SYSTEM_PACKS
from packhorse.packs.sources_record import SOURCES_FILE
from packhorse.params.masking import MASK
from packhorse.settings import Settings
from packhorse.storage.snapshot import open_snapshot

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""How the database writes times (string order is time order)."""
Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ExportOptions:
    passphrase: str | None = field(default=None, repr=False)
    """Seals the secret values; required unless ``no_secrets``."""
    recipient: bytes | None = None
    """Seal for this X25519 public key (the target's) instead of a passphrase."""
    no_secrets: bool = False
    """Leave secret values out (their items stay, with a null value)."""
    reproducible: bool = False
    """Fixed time, salt derived from the instance id, nonces derived per item."""
    with_executions: bool = False
    events_days: int = 7
    scrypt: transport.ScryptParameters = field(default_factory=transport.ScryptParameters)
    source_date_epoch: int | None = None
    """``created_at`` of a reproducible bundle (``$SOURCE_DATE_EPOCH``; default 0)."""


@dataclass(frozen=True, slots=True)
class ExportReport:
    path: Path
    size: int
    manifest: fmt.Manifest
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size": self.size,
            "content_checksum": self.manifest.content_checksum,
            "counts": self.manifest.counts,
            "created_at": self.manifest.created_at,
            "reproducible": self.manifest.reproducible,
            "secrets": self.manifest.secrets.mode,
            "warnings": list(self.warnings),
        }


def export_bundle(
    settings: Settings,
    output: Path,
    options: ExportOptions,
    *,
    instance_keys: dict[str, DatastoreKey],
    now: dt.datetime,
    random_bytes: Callable[[int], bytes],
    python_version: str,
    say: Say = lambda _line: None,
    on_secret: Callable[[str], None] = lambda _clear: None,
    system_packs: frozenset[str] = SYSTEM_PACKS,
) -> ExportReport:
    """Write the bundle of ``settings``' instance to ``output``; see the module docstring."""
    if sum([options.passphrase is not None, options.recipient is not None, options.no_secrets]) > 1:
        raise ConfigurationError("give one of a passphrase, a recipient key or no secrets")
    if options.passphrase is None and options.recipient is None and not options.no_secrets:
        raise ConfigurationError(
            "a passphrase is needed to export secret values",
            hint="give --passphrase-file or $PACKHORSE_BUNDLE_PASSPHRASE, or --no-secrets",
        )
    if options.events_days < 0:
        raise ConfigurationError("--events-days must be 0 or more")
    since = _day_start(now - dt.timedelta(days=options.events_days)).strftime(TIME_FORMAT)
    members: list[fmt.AnyMember] = []
    counts: dict[str, int] = {}
    warnings: list[str] = []

    say("reading a consistent snapshot of the database")
    with open_snapshot(settings.database) as snapshot:
        packs = [p for p in snapshot.packs() if p[0] not in system_packs]
        say(f"copying {len(packs)} packs")
        counts["packs"] = 0
        for ref, _version, path in packs:
            folder = (settings.home / path).resolve()
            if not folder.is_dir():
                warnings.append(f"pack {ref}: folder {folder} is missing; not exported")
                continue
            members.extend(pack_files(ref, folder))
            counts["packs"] += 1
        configs = _config_members(settings.configs_dir)
        members.extend(configs)
        counts["configs"] = len(configs)
        sources = settings.home / SOURCES_FILE
        if sources.is_file():
            members.append(fmt.Member(fmt.PACK_SOURCES, _canonical_file(sources)))

        say("sealing the datastore")
        sealer = _sealer(
            options,
            instance_id=settings.instance_id,
            instance_keys=instance_keys,
            random_bytes=random_bytes,
        )
        pairs = snapshot.key_values()
        fingerprints = None
        if options.passphrase is not None and any(pair.secret for pair in pairs):
            fingerprints = transport.passphrase_fingerprint_key(options.passphrase, options.scrypt)
        datastore, secret_count = _datastore(
            pairs,
            sealer,
            instance_keys=instance_keys,
            fingerprints=fingerprints,
            on_secret=on_secret,
        )
        members.append(fmt.Member(fmt.DATASTORE, fmt.canonical_json(datastore)))
        counts["keys"] = len(datastore["items"])
        counts["secret_keys"] = secret_count

        say("reading rules, users and API keys")
        rules = snapshot.rule_states()
        users = snapshot.users()
        api_keys = snapshot.api_keys()
        members += [
            fmt.Member(fmt.RULES, fmt.canonical_json(rules)),
            fmt.Member(fmt.USERS, fmt.canonical_json(users)),
            fmt.Member(fmt.API_KEYS, fmt.canonical_json(api_keys)),
        ]
        counts |= {"rules": len(rules), "users": len(users), "api_keys": len(api_keys)}

        say(f"reading trigger instances since {since[:10]}")
        instances = snapshot.trigger_instances(since=since)
        enforcements = snapshot.rule_enforcements(since=since)
        members += [
            fmt.Member(fmt.TRIGGER_INSTANCES, fmt.json_lines(instances)),
            fmt.Member(fmt.RULE_ENFORCEMENTS, fmt.json_lines(enforcements)),
        ]
        counts |= {"trigger_instances": len(instances), "rule_enforcements": len(enforcements)}
        if options.with_executions:
            say("reading executions")
            executions = [_masked(row) for row in snapshot.executions()]
            members.append(fmt.Member(fmt.EXECUTIONS, fmt.json_lines(executions)))
            counts["executions"] = len(executions)

    manifest = fmt.build_manifest(
        members,
        packhorse_version=__version__,
        python_version=python_version,
        instance_id=settings.instance_id,
        created_at=_created_at(options, now),
        reproducible=options.reproducible,
        events_since=since,
        with_executions=options.with_executions,
        counts=counts,
        secrets=sealer.block,
    )
    say(f"writing {output.name} ({len(members) + 1} members)")
    manifest_data = fmt.manifest_bytes(manifest)
    write_private_file(output, lambda file: write_archive(manifest_data, members, file))
    return ExportReport(output, output.stat().st_size, manifest, tuple(warnings))


def _day_start(moment: dt.datetime) -> dt.datetime:
    # The window starts at midnight UTC: two exports on the same day see the same events.
    return moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _created_at(options: ExportOptions, now: dt.datetime) -> str:
    if options.reproducible:
        now = dt.datetime.fromtimestamp(options.source_date_epoch or 0, dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _walk(folder: Path) -> Iterator[tuple[Path, tuple[str, ...]]]:
    for root, directories, files in os.walk(folder):
        directories[:] = sorted(d for d in directories if d not in fmt.SKIPPED_DIRECTORIES)
        for name in sorted(files):
            path = Path(root) / name
            yield path, path.relative_to(folder).parts


def pack_files(ref: str, folder: Path) -> list[fmt.FileMember]:
    """The exported files of a pack folder, hashed by chunks (streamed when written)."""
    members = []
    for path, parts in _walk(folder):
        if not fmt.exported_pack_file(parts) or not path.is_file():
            continue  # bytecode, sockets, dangling links
        try:
            executable = bool(path.stat().st_mode & 0o111)
            size, digest = file_digest(path)
        except OSError as error:
            raise InstanceError(
                f"{path}: cannot read: {error.strerror}", hint="nothing was exported"
            ) from error
        members.append(
            fmt.FileMember(
                f"{fmt.PACKS_DIR}/{ref}/{'/'.join(parts)}",
                path,
                size,
                digest,
                fmt.file_mode(executable),
            )
        )
    return members


def pack_members(ref: str, folder: Path) -> list[fmt.Member]:
    """The exported files of a pack folder, read into memory (for small staged packs)."""
    members = []
    for path, parts in _walk(folder):
        if not fmt.exported_pack_file(parts) or not path.is_file():
            continue  # bytecode, sockets, dangling links
        executable = bool(path.stat().st_mode & 0o111)
        members.append(
            fmt.Member(
                f"{fmt.PACKS_DIR}/{ref}/{'/'.join(parts)}",
                _read(path),
                fmt.file_mode(executable),
            )
        )
    return members


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InstanceError(
            f"{path}: cannot read: {error.strerror}", hint="nothing was exported"
        ) from error


def _config_members(configs_dir: Path) -> list[fmt.Member]:
    if not configs_dir.is_dir():
        return []
    return [
        fmt.Member(f"{fmt.CONFIGS_DIR}/{path.name}", _read(path))
        for path in sorted(configs_dir.glob("*.yaml"))
        if path.is_file()
    ]


def _canonical_file(path: Path) -> bytes:
    try:
        return fmt.canonical_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise InstanceError(f"{path}: cannot read: {error}") from error


def _sealer(
    options: ExportOptions,
    *,
    instance_id: str,
    instance_keys: dict[str, DatastoreKey],
    random_bytes: Callable[[int], bytes],
) -> sealing.Sealer:
    if options.recipient is not None:
        if options.reproducible:
            # Derived from the instance key (secret, never exported) and the recipient: the
            # same bytes every time, and still unknowable without the instance key.
            seed = _seed_key(instance_keys)
            ephemeral = hmac.new(seed, b"ephemeral\0" + options.recipient, "sha256").digest()
        else:
            ephemeral = random_bytes(transport.RECIPIENT_KEY_SIZE)
        return sealing.for_recipient(
            options.recipient,
            ephemeral_private=ephemeral,
            reproducible=options.reproducible,
            random_bytes=random_bytes,
        )
    if options.passphrase is not None:
        salt = (
            transport.derived_salt(instance_id)
            if options.reproducible
            else random_bytes(transport.SALT_SIZE)
        )
        return sealing.for_passphrase(
            options.passphrase,
            salt=salt,
            parameters=options.scrypt,
            reproducible=options.reproducible,
            random_bytes=random_bytes,
        )
    return sealing.omitted()


def _datastore(
    pairs: list[KeyValue],
    sealer: sealing.Sealer,
    *,
    instance_keys: dict[str, DatastoreKey],
    fingerprints: bytes | None,
    on_secret: Callable[[str], None],
) -> tuple[dict[str, Any], int]:
    """``datastore.json``; secret items get a fingerprint keyed by ``fingerprints`` (derived
    from the passphrase; None: recipient-sealed or left out, no fingerprint)."""
    secret_count = sum(pair.secret for pair in pairs)
    items = []
    for pair in pairs:
        item: dict[str, Any] = {
            "scope": pair.scope.value,
            "user": pair.user,
            "name": pair.name,
            "secret": pair.secret,
            "description": pair.description,
            "expires_at": pair.expires_at,
            "updated_at": pair.updated_at,
            "value": pair.value,
        }
        if pair.secret:
            identity = fmt.item_identity(pair.scope.value, pair.user, pair.name)
            clear = _clear_value(pair, instance_keys)
            on_secret(clear)
            if fingerprints is not None:
                item["fingerprint"] = transport.fingerprint(fingerprints, identity, clear)
            item["value"] = sealer.seal(identity, clear)
            del clear
        items.append(item)
    return {"items": items}, secret_count


def _seed_key(instance_keys: dict[str, DatastoreKey]) -> bytes:
    # The lowest key id, so that the choice does not depend on dict order during a rotation.
    if not instance_keys:
        raise ConfigurationError("no datastore key: secret values cannot be read")
    return transport.fingerprint_key(instance_keys[min(instance_keys)].key)


def _clear_value(pair: KeyValue, instance_keys: dict[str, DatastoreKey]) -> str:
    try:
        return decrypt(instance_keys, pair.value, associated=DATASTORE_ASSOCIATED_DATA)
    except DecryptionError as error:
        where = f"{pair.scope.value} key {pair.name!r}" + (f" of {pair.user}" if pair.user else "")
        raise DecryptionError(
            f"{where}: {error.message}", key_id=error.key_id, hint=error.hint
        ) from None


def _masked(row: dict[str, Any]) -> dict[str, Any]:
    """An execution as exported: secret parameters (encrypted with the instance key, which
    does not travel) shown as the mask."""
    parameters = row.get("parameters")
    if isinstance(parameters, dict):
        row = {
            **row,
            "parameters": {k: MASK if is_encrypted_token(v) else v for k, v in parameters.items()},
        }
    return row
