"""pack.yaml: required fields, strict semver, ref resolution and the optional fields."""

from __future__ import annotations

import re
from typing import Any

from packhorse.model.content import PACK_REF_PATTERN
from packhorse.packs.source import PackSource
from packhorse.packs.validate.report import FileReport, check_fields, check_type, typed_fields

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
STACKSTORM_VERSION = re.compile(r"^((>?>|>=|=|<=|<?<)\s*[0-9]+\.[0-9]+\.[0-9]+(\s*,)?\s*)+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PACK_REF = re.compile(PACK_REF_PATTERN)
RESERVED_REFS = frozenset({"_global"})
REQUIRED = ("name", "description", "version", "author")
_TYPES = {
    "name": "string",
    "description": "string",
    "author": "string",
    "ref": "string",
    "email": "string",
    "keywords": "array",
    "dependencies": "array",
    "python_versions": "array",
    "stackstorm_version": "string",
    "system": "object",
    "contributors": "array",
}


def resolve_ref(data: dict[str, Any], dir_name: str) -> str | None:
    """The pack ref as StackStorm resolves it: ``ref``, else the folder name, else ``name``."""
    ref = data.get("ref")
    if isinstance(ref, str) and ref:
        return ref
    if PACK_REF.match(dir_name):
        return dir_name
    name = data.get("name")
    if isinstance(name, str) and PACK_REF.match(name):
        return name
    return None


def validate_manifest(
    report: FileReport, data: dict[str, Any], source: PackSource
) -> tuple[str | None, dict[str, Any]]:
    """Check pack.yaml; return the resolved ref (None if unresolvable) and normalised metadata."""
    check_fields(report, data, kind="pack.yaml", required=REQUIRED)
    typed_fields(report, data, _TYPES)
    version = data.get("version")
    if version is not None:
        text = str(version) if not isinstance(version, bool) else ""
        if not SEMVER.match(text):
            report.add(
                "PH101",
                f"version {text or version!r} is not strict semver MAJOR.MINOR.PATCH "
                f"(e.g. {_suggest(text)}); quote it so YAML keeps it a string",
                ("version",),
            )
    ref = data.get("ref")
    if isinstance(ref, str) and not PACK_REF.match(ref):
        report.add(
            "PH103",
            f"ref {ref!r} is invalid: use lowercase letters, digits and underscores only",
            ("ref",),
        )
    resolved = resolve_ref(data, source.dir_name)
    if resolved is None:
        report.add(
            "PH102",
            f"cannot work out the pack ref: folder name {source.dir_name!r} and name "
            f"{data.get('name')!r} are not valid refs; add 'ref: <lowercase_name>'",
            ("name",) if "name" in data else (),
        )
    elif resolved in RESERVED_REFS:
        report.add("PH104", f"pack ref {resolved!r} is reserved; choose another ref", ("ref",))
    elif resolved != source.dir_name and PACK_REF.match(resolved):
        report.add(
            "PH109",
            f"pack folder {source.dir_name!r} differs from the pack ref {resolved!r}: "
            "StackStorm registers content under the folder name; rename the folder to "
            f"{resolved!r}",
            ("ref",) if "ref" in data else ("name",),
        )
    _check_optional(report, data)
    if "config.yaml" in source.files:
        report.add(
            "PH108",
            "config.yaml inside the pack is ignored (unsupported since StackStorm 2.4); move "
            "the values to the site config of the pack and describe them in config.schema.yaml",
        )
    metadata = dict(data)
    if resolved is not None:
        metadata["ref"] = resolved
    if version is not None:
        metadata["version"] = str(version)
    for key in ("keywords", "dependencies"):
        if metadata.get(key) is None:
            metadata[key] = []
    return (resolved if resolved is not None and PACK_REF.match(resolved) else None), metadata


def _suggest(text: str) -> str:
    parts = [part for part in text.split(".") if part.isdigit()][:3]
    if not parts:
        return "1.0.0"
    parts += ["0"] * (3 - len(parts))
    return ".".join(str(int(part)) for part in parts)


def _check_optional(report: FileReport, data: dict[str, Any]) -> None:
    spec = data.get("stackstorm_version")
    if isinstance(spec, str) and not STACKSTORM_VERSION.match(spec):
        report.add(
            "PH105",
            f"stackstorm_version {spec!r} is invalid: use comparisons of full versions "
            "such as '>=3.8.0, <4.0.0'",
            ("stackstorm_version",),
        )
    email = data.get("email")
    if isinstance(email, str) and not EMAIL.match(email):
        report.add("PH107", f"email {email!r} is not an e-mail address", ("email",))
    versions = data.get("python_versions")
    if isinstance(versions, list):
        bad = [v for v in versions if v not in ("2", "3")]
        if bad or not versions or len(versions) > 2 or len(set(versions)) != len(versions):
            report.add(
                "PH106",
                f"python_versions must list '2' and/or '3' once each, as quoted strings; "
                f"got {versions!r}",
                ("python_versions",),
            )
        elif versions == ["2"]:
            report.add(
                "PH110",
                "the pack declares python_versions ['2'] only, and Packhorse runs Python 3; "
                "port the pack to Python 3 and list '3'",
                ("python_versions",),
            )
    for key in ("keywords", "contributors"):
        items = data.get(key)
        if isinstance(items, list):
            for index, item in enumerate(items):
                check_type(report, item, "string", (key, index), f"{key}[{index}]")
    dependencies = data.get("dependencies")
    if isinstance(dependencies, list):
        for index, item in enumerate(dependencies):
            if not isinstance(item, str) or not item.strip():
                report.add(
                    "PH111",
                    f"dependency {item!r} is invalid: write '<pack-name-or-git-url>[=<version>]'",
                    ("dependencies", index),
                )
