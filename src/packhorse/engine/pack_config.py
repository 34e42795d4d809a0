"""Writing a pack's config (``configs/<pack>.yaml``): what ``packhorse pack config`` and the
console's pack page both do once they have the values.

The values are checked against the pack's config schema before anything is written; every
clear-text ``secret: true`` value moves into the datastore, encrypted, and the file holds a
``{{ st2kv.system.<pack>_<key> }}`` reference instead; the file is replaced atomically (0600
when it still holds a secret value); then the pack is registered again so the new config
takes effect.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from packhorse.errors import NotFound
from packhorse.model.content import Kind
from packhorse.model.diagnostics import Diagnostic
from packhorse.packs.validate.config_values import validate_config_text
from packhorse.packs.validate.yamldoc import parse_yaml
from packhorse.params.config import is_dynamic, mask_config
from packhorse.settings import Settings


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def render_config(ref: str, values: Mapping[str, Any]) -> str:
    """The text of ``configs/<ref>.yaml``."""
    body = yaml.safe_dump(
        dict(values), sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return (
        f"# Config of pack {ref!r}, written by 'packhorse pack config {ref}'.\n"
        "# Checked against the pack's config.schema.yaml when the pack registers.\n"
        f"---\n{body}"
    )


def write_config(path: Path, text: str, *, private: bool) -> None:
    """Replace ``path`` atomically (a temporary file renamed over it); 0600 when private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    mode = 0o600 if private else 0o644
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def config_schema(settings: Settings, ref: str) -> tuple[Mapping[str, Any], str]:
    """The pack's config schema (in the order the pack's file gives) and its folder name.
    Raises NotFound for a pack that is not registered."""
    from packhorse.bootstrap import registry_reader

    reader = registry_reader(settings)
    pack = reader.get_pack(ref)
    if pack is None:
        raise NotFound("pack", ref)
    folder = settings.home / pack.path
    registered = reader.get_resource(Kind.CONFIG_SCHEMA, ref)
    schema: Mapping[str, Any] = _mapping(registered.body.get("attributes")) if registered else {}
    try:
        doc, _ = parse_yaml((folder / "config.schema.yaml").read_bytes(), "config.schema.yaml")
    except OSError:
        doc = None
    if doc is not None and isinstance(doc.data, dict) and doc.data:
        schema = doc.data  # the author's order; registration checks it again
    return schema, folder.name


def current_config(settings: Settings, ref: str) -> dict[str, Any]:
    """The values in ``configs/<ref>.yaml`` as written (empty without the file)."""
    path = settings.configs_dir / f"{ref}.yaml"
    if path.is_file():
        doc, _ = parse_yaml(path.read_bytes(), str(path))
        if doc is not None and isinstance(doc.data, dict):
            return dict(doc.data)
    return {}


def check_config(
    settings: Settings, ref: str, values: Mapping[str, Any], schema: Mapping[str, Any]
) -> list[Diagnostic]:
    """What is wrong with ``values`` for the schema (clear-text secrets are fine here: they
    move into the datastore when saved)."""
    path = settings.configs_dir / f"{ref}.yaml"
    _, diagnostics = validate_config_text(
        render_config(ref, values).encode(), schema, path=str(path)
    )
    return [d for d in diagnostics if d.code != "PH616"]


@dataclass(frozen=True, slots=True)
class SavedConfig:
    path: Path
    stored_secrets: tuple[str, ...]
    """Datastore keys a secret value went into."""
    registered: bool
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    """The registration's problems, the config file's own left out."""


def secrets_into_datastore(
    settings: Settings, ref: str, values: Mapping[str, Any], schema: Mapping[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Every clear-text secret value moved into the datastore (``<ref>_<key>``, encrypted),
    replaced by a ``{{ st2kv.system.<ref>_<key> }}`` reference; and the keys written."""
    from packhorse.bootstrap import datastore_service

    result = dict(values)
    stored: list[str] = []
    for key, value in values.items():
        item = _mapping(schema.get(key))
        if item.get("secret") is not True or not isinstance(value, str) or is_dynamic(value):
            continue
        name = f"{ref}_{key}"
        datastore_service(settings).set_value(
            name, value, secret=True, description=f"config {key!r} of pack {ref!r}"
        )
        result[key] = "{{ st2kv.system." + name + " }}"
        stored.append(name)
    return result, tuple(stored)


def save_config(
    settings: Settings,
    ref: str,
    values: Mapping[str, Any],
    schema: Mapping[str, Any],
    folder: str,
) -> SavedConfig:
    """Write checked ``values`` (see :func:`check_config`) and register the pack again."""
    from packhorse.bootstrap import register_instance_packs

    path = settings.configs_dir / f"{ref}.yaml"
    written, stored = secrets_into_datastore(settings, ref, values, schema)
    write_config(path, render_config(ref, written), private=mask_config(written, schema) != written)
    outcome = register_instance_packs(settings, refs=[folder])
    others = tuple(d for d in outcome.diagnostics if d.path != str(path))
    return SavedConfig(path, stored, outcome.ok, others)
