"""``pack outdated`` and ``pack upgrade``: the newest release of each installed pack, from
where it was installed (``pack-sources.json``): release tags of its git repository
(``vX.Y.Z`` or ``X.Y.Z``), the pack index, or the folder's ``pack.yaml``."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from packhorse.expr.functions.version import version_compare
from packhorse.packs.dependencies import PackSpec, SourceKind
from packhorse.packs.install import InstallError, from_index
from packhorse.packs.sources_record import read_sources

_RELEASE_TAG = re.compile(r"^v?(\d+\.\d+\.\d+)$")


@dataclass(frozen=True, slots=True)
class Available:
    ref: str
    installed: str
    latest: str | None
    """None: no release could be found (the reason says why)."""
    spec: str
    """What ``pack install`` would be given to install ``latest``."""
    reason: str = ""

    @property
    def outdated(self) -> bool:
        return self.latest is not None and newer(self.latest, self.installed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "installed": self.installed,
            "latest": self.latest,
            "outdated": self.outdated,
            "spec": self.spec,
            "reason": self.reason,
        }


def newer(candidate: str, installed: str) -> bool:
    try:
        return version_compare(candidate.removeprefix("v"), installed.removeprefix("v")) > 0
    except ValueError:
        return False


def available(home: Path, installed: dict[str, str], *, index: str = "") -> list[Available]:
    """The newest release of every installed pack Packhorse knows the source of."""
    found = []
    for ref, record in sorted(read_sources(home).items()):
        if ref not in installed:
            continue
        found.append(_latest(ref, installed[ref], record, index))
    return found


def _latest(ref: str, installed: str, record: dict[str, Any], index: str) -> Available:
    kind, source = record.get("kind"), str(record.get("source", ""))
    try:
        if kind == SourceKind.GIT.value:
            version = _latest_tag(source)
            return Available(
                ref,
                installed,
                version,
                f"{source}={version}" if version else source,
                "" if version else "no release tags (vX.Y.Z) in the repository",
            )
        if kind == SourceKind.INDEX.value:
            _url, version = from_index(PackSpec(ref, ref, None, SourceKind.INDEX), index)
            return Available(ref, installed, version, f"{ref}={version}" if version else ref)
        if kind == SourceKind.DIRECTORY.value:
            return Available(ref, installed, _folder_version(Path(source)), source)
    except (InstallError, OSError, ValueError) as error:
        reason = getattr(error, "message", str(error))
        return Available(ref, installed, None, source, reason)
    return Available(
        ref, installed, None, source, "installed from an archive: no newer one is known"
    )


def _latest_tag(url: str) -> str | None:
    done = subprocess.run(
        ["git", "ls-remote", "--tags", "--refs", url],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise InstallError(f"{url}: git ls-remote failed: {done.stderr.strip()}")
    versions = []
    for line in done.stdout.splitlines():
        tag = line.rpartition("refs/tags/")[2]
        found = _RELEASE_TAG.match(tag)
        if found:
            versions.append(found.group(1))
    best: str | None = None
    for version in versions:
        if best is None or newer(version, best):
            best = version
    return best


def _folder_version(folder: Path) -> str | None:
    if (folder / ".git").exists():
        done = subprocess.run(
            ["git", "show", "HEAD:pack.yaml"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        text = done.stdout if done.returncode == 0 else ""
    else:
        text = (folder / "pack.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) if text else None
    return str(data["version"]) if isinstance(data, dict) and data.get("version") else None
