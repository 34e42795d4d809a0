"""Bundle format version 1, the pure half: names, canonical JSON, the manifest, checksums.

No I/O, no clock, no randomness: export and (later) import both build on it. The format is
described member by member in ``docs/bundle-format.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from packhorse.errors import BundleError

FORMAT_VERSION = 1

MANIFEST = "manifest.json"
PACK_SOURCES = "pack-sources.json"
DATASTORE = "datastore.json"
RULES = "rules.json"
USERS = "users.json"
API_KEYS = "api_keys.json"
TRIGGER_INSTANCES = "events/trigger_instances.jsonl"
RULE_ENFORCEMENTS = "events/rule_enforcements.jsonl"
EXECUTIONS = "executions/executions.jsonl"
PACKS_DIR = "packs"
CONFIGS_DIR = "configs"

SKIPPED_DIRECTORIES = frozenset({".git", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache"})
"""Folders of a pack never exported: version control, bytecode caches, virtualenvs."""
SKIPPED_SUFFIXES = (".pyc", ".pyo")

FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755


def canonical_json(value: Any) -> bytes:
    """The one JSON text of ``value``: sorted keys, no spaces, UTF-8, a final newline."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def json_lines(records: Iterable[Any]) -> bytes:
    """One canonical JSON document a line (``.jsonl``), in the order given."""
    return b"".join(canonical_json(record) for record in records)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def item_identity(scope: str, user: str, name: str) -> bytes:
    """What names a datastore item: the associated data of its transport ciphertext and the
    input of its derived nonce, so a sealed value cannot be moved to another item."""
    return canonical_json(["datastore", scope, user, name]).rstrip(b"\n")


def exported_pack_file(parts: Sequence[str]) -> bool:
    """Whether a file of a pack folder (its path parts, relative to the folder) is exported."""
    if any(part in SKIPPED_DIRECTORIES for part in parts[:-1]):
        return False
    return not parts[-1].endswith(SKIPPED_SUFFIXES)


def file_mode(executable: bool) -> int:
    """Modes are normalised: 0755 for a file anyone may execute, 0644 for the rest."""
    return EXECUTABLE_MODE if executable else FILE_MODE


def check_member_path(path: str) -> str:
    """``path`` when it is a safe relative POSIX path (no ``..``, not absolute); else raise.
    An archive member outside the bundle would write outside the target on import."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path or path != str(pure):
        raise BundleError(f"unsafe member path in bundle: {path!r}")
    return path


@dataclass(frozen=True, slots=True)
class Member:
    """One file of the archive, in memory."""

    path: str
    data: bytes
    mode: int = FILE_MODE


@dataclass(frozen=True, slots=True)
class FileMember:
    """One file of the archive, on disk: hashed by chunks before the manifest is written,
    then streamed into the archive (a pack's large files never sit in memory)."""

    path: str
    source: PurePath
    size: int
    sha256: str
    """Hex SHA-256 of the file's bytes."""
    mode: int = FILE_MODE


AnyMember = Member | FileMember


@runtime_checkable
class DigestedMembers(Protocol):
    """Members that know each one's size and checksum without being read again (spooled)."""

    def digest(self, path: str) -> tuple[int, str]: ...


def member_digest(members: Mapping[str, bytes], path: str) -> tuple[int, str] | None:
    """(size, hex SHA-256) of member ``path``, None when there is none; asked of the
    members when they know it, so a spooled member is not read into memory for it."""
    if path not in members:
        return None
    if isinstance(members, DigestedMembers):
        return members.digest(path)
    data = members[path]
    return len(data), sha256(data)


def _size_and_digest(member: AnyMember) -> tuple[int, str]:
    if isinstance(member, FileMember):
        return member.size, member.sha256
    return len(member.data), sha256(member.data)


def _content_digest(member: AnyMember) -> str:
    if isinstance(member, FileMember):
        return member.sha256  # only datastore.json has a content view of its own
    return sha256(content_view(member.path, member.data))


def content_view(path: str, data: bytes) -> bytes:
    """The part of a member that says what the site *has*: its bytes, except for
    ``datastore.json`` whose transport ciphertexts (fresh salt and nonces every export)
    are left out; each secret still counts through its fingerprint."""
    if path != DATASTORE:
        return data
    document = json.loads(data)
    items = [
        {k: v for k, v in item.items() if not (item.get("secret") and k == "value")}
        for item in document.get("items", [])
    ]
    return canonical_json({**document, "items": items})


def content_checksum(entries: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over ``(path, content sha256)`` pairs sorted by path: equal for two exports
    of an instance where nothing changed, whatever the time, salt and nonces."""
    return sha256(canonical_json(sorted([path, digest] for path, digest in entries)))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MemberEntry(_Model):
    path: str
    """Path inside the archive."""
    size: int
    """Bytes."""
    sha256: str
    """Hex SHA-256 of the member's bytes."""


class KdfParameters(_Model):
    name: Literal["scrypt"] = "scrypt"
    n: int
    r: int
    p: int
    salt: str
    """Unpadded URL-safe base64."""


class RecipientParameters(_Model):
    algorithm: Literal["X25519"] = "X25519"
    key_id: str
    """Names the target's recipient key (16 hex digits of its SHA-256)."""
    ephemeral_public: str
    """The exporter's one-time public key, unpadded URL-safe base64."""


class SecretsBlock(_Model):
    """How the secret values of ``datastore.json`` are sealed."""

    mode: Literal["passphrase", "recipient", "omitted"]
    """``passphrase``: sealed under a key derived from one; ``recipient``: under a key only
    the target instance's private recipient key derives; ``omitted``: left out
    (``--no-secrets``), their items listed with a null value."""
    kdf: KdfParameters | None = None
    recipient: RecipientParameters | None = None
    cipher: Literal["AES-256-GCM-SIV"] | None = None
    nonces: Literal["random", "derived"] | None = None
    """``derived`` in a reproducible bundle: HMAC-SHA256(nonce key, item identity)."""
    verifier: str | None = None
    """A fixed text sealed under the key: tells a wrong passphrase from damaged data."""


class Manifest(_Model):
    """``manifest.json``, the first member of every bundle."""

    format: int = FORMAT_VERSION
    packhorse_version: str
    python_version: str
    instance_id: str
    """The source instance."""
    created_at: str
    """ISO-8601 UTC; fixed (``SOURCE_DATE_EPOCH`` or 1970) in a reproducible bundle."""
    reproducible: bool = False
    events_since: str
    """Trigger instances created at or after this time are in ``events/``."""
    with_executions: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    members: list[MemberEntry]
    """Every member but the manifest, sorted by path."""
    content_checksum: str
    secrets: SecretsBlock


def build_manifest(
    members: Sequence[AnyMember],
    *,
    packhorse_version: str,
    python_version: str,
    instance_id: str,
    created_at: str,
    reproducible: bool,
    events_since: str,
    with_executions: bool,
    counts: Mapping[str, int],
    secrets: SecretsBlock,
) -> Manifest:
    ordered = sorted(members, key=lambda m: m.path)
    return Manifest(
        packhorse_version=packhorse_version,
        python_version=python_version,
        instance_id=instance_id,
        created_at=created_at,
        reproducible=reproducible,
        events_since=events_since,
        with_executions=with_executions,
        counts=dict(counts),
        members=[
            MemberEntry(path=m.path, size=size, sha256=digest)
            for m in ordered
            for size, digest in [_size_and_digest(m)]
        ],
        content_checksum=content_checksum((m.path, _content_digest(m)) for m in ordered),
        secrets=secrets,
    )


def manifest_bytes(manifest: Manifest) -> bytes:
    return canonical_json(manifest.model_dump(mode="json"))


def parse_manifest(data: bytes) -> Manifest:
    """Read ``manifest.json``; :class:`BundleError` saying what is wrong."""
    try:
        document = json.loads(data)
    except ValueError as error:
        raise BundleError(f"{MANIFEST} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise BundleError(f"{MANIFEST} is not a JSON object")
    version = document.get("format")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"bundle format {version!r} is not one this Packhorse reads (format {FORMAT_VERSION})",
            hint="use the Packhorse version that made the bundle, or a newer one",
        )
    try:
        return Manifest.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise BundleError(f"{MANIFEST} is invalid: {problems}") from None


def verify_members(manifest: Manifest, members: Mapping[str, bytes]) -> list[str]:
    """Every problem between the manifest and the archive's members, as sentences: a member
    missing, extra, of another size or checksum, and a content checksum that disagrees.
    Spooled members are hashed as they were spooled (by chunks), never read whole here but
    ``datastore.json``."""
    problems: list[str] = []
    listed = {entry.path: entry for entry in manifest.members}
    for path in sorted(set(members) - set(listed) - {MANIFEST}):
        problems.append(f"{path}: in the archive but not in the manifest")
    for path, entry in sorted(listed.items()):
        found = member_digest(members, path)
        if found is None:
            problems.append(f"{path}: listed in the manifest but missing")
        elif found != (entry.size, entry.sha256):
            problems.append(f"{path}: checksum mismatch (damaged or altered)")
    if not problems:
        try:
            recomputed = content_checksum(
                (
                    path,
                    sha256(content_view(path, members[path]))
                    if path == DATASTORE
                    else entry.sha256,
                )
                for path, entry in listed.items()
            )
        except ValueError as error:
            return [f"{DATASTORE}: unreadable: {error}"]
        if recomputed != manifest.content_checksum:
            problems.append("content checksum mismatch")
    return problems
