"""Reading a bundle of any format this Packhorse knows: older formats converted up front.

A bundle is read as its manifest says: each older format is carried to the next by one pure
step (manifest document and members in, the next format's out) until it is the current format
(:data:`packhorse.migrate.bundle_format.FORMAT_VERSION`), which is then verified and read as
usual. A format newer than the current one, or one that never existed, is refused.

The formats (``docs/bundle-format.md``):

0. The pre-release format, replaced by format 1. Its manifest holds one ``checksum`` over
   every member instead of a size and SHA-256 each, the pack listing with each pack's rule
   states (no ``rules.json``), and the scrypt parameters of a passphrase as ``secrets.scrypt``.
   Its ``datastore.json`` is a list of items whose ``scope`` is ``system`` or ``user:NAME``.
   Secret values are ``pht1:`` tokens sealed as in format 1.
1. The current format.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from packhorse.errors import BundleError
from packhorse.migrate import bundle_format as fmt

Members = dict[str, bytes]
Step = Callable[[dict[str, Any], Members], tuple[dict[str, Any], Members]]


# -- format 0 ----------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_M = TypeVar("_M", bound=_Model)


class Format0Scrypt(_Model):
    n: int
    r: int
    p: int
    salt: str


class Format0Secrets(_Model):
    scrypt: Format0Scrypt
    verifier: str


class Format0Pack(_Model):
    ref: str
    version: str
    rules: dict[str, bool] = Field(default_factory=dict)
    """The enabled state of each rule of the pack."""


class Format0Manifest(_Model):
    format: int
    packhorse_version: str
    instance_id: str
    created_at: str
    packs: list[Format0Pack]
    checksum: str
    """SHA-256 of the canonical JSON of the sorted ``[path, sha256]`` pairs of every member
    but the manifest."""
    secrets: Format0Secrets | None = None
    """Absent when the bundle holds no secret value."""


class Format0Item(_Model):
    scope: str
    """``system``, or ``user:NAME``."""
    name: str
    value: str
    secret: bool = False
    description: str = ""


def format_0_checksum(members: Mapping[str, bytes]) -> str:
    """Format 0's one checksum over the members (the manifest left out)."""
    return fmt.sha256(
        fmt.canonical_json(
            sorted(
                [path, fmt.sha256(data)] for path, data in members.items() if path != fmt.MANIFEST
            )
        )
    )


def _format_0_to_1(document: dict[str, Any], members: Members) -> tuple[dict[str, Any], Members]:
    """Verify a format-0 bundle against its one checksum, then say the same in format 1:
    ``datastore.json`` as ``{"items": [...]}`` with scope and user apart, the rule states of
    the pack listing as ``rules.json``, a size and SHA-256 per member, and the secrets block
    of a passphrase."""
    manifest = _validated(Format0Manifest, document, fmt.MANIFEST)
    if format_0_checksum(members) != manifest.checksum:
        raise BundleError(
            "the bundle does not verify: its checksum does not match its members (format 0 has"
            " one checksum for all of them); nothing imported",
            hint="the file is damaged or was altered: export it again",
        )
    converted = {path: data for path, data in members.items() if path != fmt.MANIFEST}
    items = [_format_0_item(item, manifest.created_at) for item in _datastore_0(members)]
    if items:
        converted[fmt.DATASTORE] = fmt.canonical_json({"items": items})
    rules = {ref: state for pack in manifest.packs for ref, state in pack.rules.items()}
    if rules:
        converted[fmt.RULES] = fmt.canonical_json(rules)
    secrets = fmt.SecretsBlock(mode="omitted")
    if manifest.secrets is not None:
        scrypt = manifest.secrets.scrypt
        secrets = fmt.SecretsBlock(
            mode="passphrase",
            kdf=fmt.KdfParameters(n=scrypt.n, r=scrypt.r, p=scrypt.p, salt=scrypt.salt),
            cipher="AES-256-GCM-SIV",
            nonces="random",
            verifier=manifest.secrets.verifier,
        )
    counts = {
        "packs": len(manifest.packs),
        "configs": sum(1 for path in converted if path.startswith(f"{fmt.CONFIGS_DIR}/")),
        "keys": len(items),
        "secret_keys": sum(1 for item in items if item["secret"]),
        "rules": len(rules),
    }
    upgraded = fmt.build_manifest(
        [fmt.Member(path, data) for path, data in converted.items()],
        packhorse_version=manifest.packhorse_version,
        python_version="",
        instance_id=manifest.instance_id,
        created_at=manifest.created_at,
        reproducible=False,
        events_since=manifest.created_at,
        with_executions=False,
        counts=counts,
        secrets=secrets,
    )
    return upgraded.model_dump(mode="json"), converted


def _datastore_0(members: Mapping[str, bytes]) -> list[Format0Item]:
    data = members.get(fmt.DATASTORE)
    if data is None:
        return []
    try:
        document = json.loads(data)
    except ValueError as error:
        raise BundleError(f"{fmt.DATASTORE}: not JSON: {error}") from None
    if not isinstance(document, list):
        raise BundleError(f"{fmt.DATASTORE}: not a JSON list (format 0)")
    return [
        _validated(Format0Item, item, f"{fmt.DATASTORE}[{index}]")
        for index, item in enumerate(document)
    ]


def _format_0_item(item: Format0Item, created_at: str) -> dict[str, Any]:
    """A format-1 item: ``user:NAME`` split into scope ``user`` and user ``NAME``; no expiry
    (format 0 had none); last updated when the bundle was made."""
    scope, _, user = item.scope.partition(":")
    if (scope, bool(user)) not in {("system", False), ("user", True)}:
        raise BundleError(f"{fmt.DATASTORE}: key {item.name!r} has an unknown scope {item.scope!r}")
    return {
        "scope": scope,
        "user": user,
        "name": item.name,
        "secret": item.secret,
        "value": item.value,
        "description": item.description,
        "expires_at": None,
        "updated_at": created_at,
    }


def _validated(model: type[_M], document: Any, where: str) -> _M:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise BundleError(f"{where} is invalid: {problems}") from None


# -- the registry ------------------------------------------------------------------------------

STEPS: Final[Mapping[int, Step]] = {0: _format_0_to_1}
"""The step from each older format to the next, by the format it reads."""

OLDEST: Final = min(STEPS)


@dataclass(frozen=True, slots=True)
class ReadBundle:
    """A bundle as this Packhorse reads it: in the current format, whatever it was written in."""

    written_format: int
    """The format the bundle was written in."""
    manifest: fmt.Manifest
    members: Mapping[str, bytes]
    """Members in the current format (converted when the bundle is older), by path: the
    reader's own mapping (spooled, not copied) for a current bundle."""

    @property
    def converted(self) -> bool:
        return self.written_format != fmt.FORMAT_VERSION


def read_bundle(manifest_data: bytes, members: Mapping[str, bytes]) -> ReadBundle:
    """The manifest and members of a bundle in the current format; :class:`BundleError`
    for a format this Packhorse does not read, or an older bundle that does not verify
    against its own checksums. A current bundle's members still need
    :func:`~packhorse.migrate.bundle_format.verify_members`."""
    try:
        document = json.loads(manifest_data)
    except ValueError as error:
        raise BundleError(f"{fmt.MANIFEST} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise BundleError(f"{fmt.MANIFEST} is not a JSON object")
    written = document.get("format")
    if (
        isinstance(written, bool)
        or not isinstance(written, int)
        or not OLDEST <= written <= fmt.FORMAT_VERSION
    ):
        raise BundleError(
            f"bundle format {written!r} is not one this Packhorse reads (formats {OLDEST} to"
            f" {fmt.FORMAT_VERSION})",
            hint="use the Packhorse version that made the bundle, or a newer one",
        )
    if written == fmt.FORMAT_VERSION:
        return ReadBundle(written, fmt.parse_manifest(manifest_data), members)
    converted = dict(members)
    for version in range(written, fmt.FORMAT_VERSION):
        document, converted = STEPS[version](document, converted)
    return ReadBundle(written, fmt.parse_manifest(fmt.canonical_json(document)), converted)
