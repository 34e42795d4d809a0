"""Registered pack content: packs and the resources they hold.

A resource's ``body`` is the validated, normalised document as plain JSON-ready data; its
``digest`` identifies the content, so re-registering unchanged content is recognised as such.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: A pack ref, as StackStorm allows it.
PACK_REF_PATTERN = r"^[a-z0-9_]+$"


class Kind(StrEnum):
    """The kinds of content a pack holds, in registration order (triggers before rules)."""

    TRIGGER_TYPE = "trigger_type"
    SENSOR = "sensor"
    ACTION = "action"
    ALIAS = "alias"
    POLICY = "policy"
    RULE = "rule"
    CONFIG_SCHEMA = "config_schema"
    CONFIG = "config"
    """A pack's site config (``configs/<ref>.yaml``), checked against its config schema."""


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no whitespace. Used for digests and storage."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def split_ref(ref: str) -> tuple[str, str]:
    """Split ``pack.name`` on the first dot (names may contain dots: ``core.st2.webhook``)."""
    pack, _, name = ref.partition(".")
    return pack, name


@dataclass(frozen=True, slots=True)
class Resource:
    """One registered resource: an action, rule, sensor, trigger type, alias, policy, config
    schema or config."""

    kind: Kind
    ref: str
    """``<pack>.<name>``; for a config schema and a config, the pack ref itself."""
    pack: str
    name: str
    metadata_file: str
    """Path of the file that defined it, relative to the pack folder; for a config,
    ``configs/<ref>.yaml`` relative to the instance folder (``config.schema.yaml`` when the
    pack has no config file and its config is the schema's defaults)."""
    body: Mapping[str, Any]
    """The validated document, normalised (defaults filled, ``pack`` and ``ref`` set)."""
    enabled: bool = True
    digest: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.digest:
            payload = [self.kind.value, self.ref, self.enabled, self.metadata_file, self.body]
            object.__setattr__(self, "digest", digest_of(payload))


@dataclass(frozen=True, slots=True)
class Pack:
    """A validated pack: its manifest and every resource it defines."""

    ref: str
    path: str
    """Absolute path of the pack folder."""
    metadata: Mapping[str, Any]
    """pack.yaml, normalised (``ref`` resolved, ``version`` as a string, lists defaulted)."""
    files: tuple[str, ...]
    """Every file of the pack, relative to its folder, sorted."""
    resources: tuple[Resource, ...]
    digest: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.digest:
            payload = [self.ref, self.path, self.metadata, list(self.files)]
            object.__setattr__(self, "digest", digest_of(payload))

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", ""))

    def of_kind(self, kind: Kind) -> tuple[Resource, ...]:
        return tuple(r for r in self.resources if r.kind is kind)


@dataclass(frozen=True, slots=True)
class RegisteredPack:
    """A pack as the registry holds it (its resources are stored separately)."""

    ref: str
    version: str
    path: str
    digest: str
    metadata: Mapping[str, Any]
    files: tuple[str, ...]
    registered_at: str
    """ISO-8601 UTC time of the registration that last changed it."""


@dataclass(frozen=True, slots=True)
class RegistryState:
    """Digests of what is registered: all the planner needs to diff against."""

    packs: Mapping[str, str]
    """pack ref -> pack digest"""
    resources: Mapping[tuple[Kind, str], tuple[str, str]]
    """(kind, ref) -> (pack ref, resource digest)"""
