"""PLAN.yaml of ``packhorse upgrade run``: read, validated (every problem, each at its file,
line and field), turned into an :class:`UpgradePlan`. Schema: docs/upgrading.md, "The whole
upgrade in one command".

Paths in the plan are relative to the plan file's folder. The passphrase is never in the plan:
``passphrase_file`` names a file holding it, ``passphrase_env`` an environment variable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packhorse.model.diagnostics import Diagnostic, Severity
from packhorse.packs.validate.yamldoc import YamlDocument, parse_yaml

FORMAT_VERSION = 1
_STEP_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "verify": {
        "skip": bool,
        "pack_tests": bool,
        "replay_days": int,
        "limit": int,
        "expect": str,
    },
    "cutover": {
        "skip": bool,
        "front_state": str,
        "hook": str,
        "health_gate": str,
        "health_params": dict,
        "health_timeout": (int, float),
        "drain_timeout": (int, float),
        "front_url": str,
        "start": bool,
    },
    "archive": {"skip": bool, "output": str},
}
_TOP_FIELDS: dict[str, type | tuple[type, ...]] = {
    "version": int,
    "from": str,
    "to": str,
    "bundle": str,
    "passphrase_file": str,
    "passphrase_env": str,
    "fix": bool,
    "listen": str,
    "verify": dict,
    "cutover": dict,
    "archive": dict,
}
_REQUIRED = ("from", "to", "bundle", "archive")
_PATH_FIELDS = {"front_state", "output", "expect"}
"""Step options that name files: made absolute against the plan's folder."""


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class StepOptions:
    """The options of a step the plan can skip (verify, cutover, archive)."""

    skip: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    """The other fields, as given (paths made absolute)."""


@dataclass(frozen=True, slots=True)
class UpgradePlan:
    """A validated plan. Paths are absolute."""

    file: Path
    """The plan file."""
    sha256: str
    """Of the plan file's bytes: a journal belongs to one plan."""
    source: Path | str
    """``from``: the old instance folder, or the URL of its API (a ``str``): the bundle is
    then exported over the API (``POST /api/v1/packhorse/bundle/export``), sealed for a key
    derived from the plan's passphrase, and the verify and cutover steps reach it there."""
    target: Path
    """``to``: the new instance folder (created by the init step when absent)."""
    bundle: Path
    passphrase_file: Path | None
    passphrase_env: str | None
    fix: bool
    listen: str | None
    """``HOST:PORT`` the new instance serves on (its ``[server] listen``, set by init)."""
    verify: StepOptions
    cutover: StepOptions
    archive: StepOptions

    @property
    def archive_output(self) -> Path | None:
        output = self.archive.options.get("output")
        return None if output is None else Path(output)


def load_plan(path: Path) -> tuple[UpgradePlan | None, list[Diagnostic]]:
    """The plan in ``path``, or None with every problem found."""
    shown = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, [Diagnostic("PH001", Severity.ERROR, f"cannot read: {error}", shown)]
    document, diagnostics = parse_yaml(data, shown)
    if document is None:
        return None, diagnostics
    problems = _Problems(document, shown)
    plan = problems.plan(path.resolve(), hashlib.sha256(data).hexdigest())
    diagnostics += sorted(problems.found, key=lambda d: (d.line, d.col))
    if any(d.is_error for d in diagnostics):
        return None, diagnostics
    return plan, diagnostics


class _Problems:
    def __init__(self, document: YamlDocument, shown: str) -> None:
        self.document = document
        self.shown = shown
        self.found: list[Diagnostic] = []

    def error(self, code: str, message: str, at: tuple[str, ...]) -> None:
        line, col = self.document.where(at)
        self.found.append(
            Diagnostic(code, Severity.ERROR, message, self.shown, line, col, ".".join(at))
        )

    def fields(
        self, data: Mapping[str, Any], allowed: Mapping[str, Any], at: tuple[str, ...]
    ) -> None:
        for name, value in data.items():
            where = (*at, name)
            if name not in allowed:
                hint = (
                    ": never put the passphrase in the plan; use passphrase_file or passphrase_env"
                    if name == "passphrase"
                    else f" (known: {', '.join(sorted(allowed))})"
                )
                self.error("PH011", f"unknown field {'.'.join(where)!r}{hint}", where)
                continue
            wanted = allowed[name]
            is_bool = isinstance(value, bool)
            if not isinstance(value, wanted) or (is_bool and wanted is not bool):
                kind = wanted.__name__ if isinstance(wanted, type) else "number"
                self.error(
                    "PH012",
                    f"{'.'.join(where)} must be a {'mapping' if kind == 'dict' else kind}, "
                    f"not {type(value).__name__}",
                    where,
                )

    def plan(self, file: Path, sha256: str) -> UpgradePlan | None:
        data = self.document.data
        if not isinstance(data, dict):
            self.error("PH004", "the plan must be a mapping of fields", ())
            return None
        self.fields(data, _TOP_FIELDS, ())
        for name in _REQUIRED:
            if name not in data:
                self.error("PH010", f"required field {name!r} missing", ())
        for name in ("verify", "cutover", "archive"):
            if isinstance(data.get(name), dict):
                self.fields(data[name], _STEP_FIELDS[name], (name,))
        if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            self.error("PH012", f"version must be {FORMAT_VERSION}", ("version",))
        sources = [name for name in ("passphrase_file", "passphrase_env") if name in data]
        if len(sources) != 1:
            self.error(
                "PH010" if not sources else "PH012",
                "give exactly one of passphrase_file and passphrase_env (the passphrase that "
                "seals the bundle's secrets and the archive)",
                (sources[-1],) if sources else (),
            )
        if isinstance(data.get("to"), str) and _is_url(data["to"]):
            self.error(
                "PH012",
                f"to: {data['to']} is a URL; the new instance is made, checked and fixed here:"
                " give its folder on this machine",
                ("to",),
            )
        archive = data.get("archive")
        if (
            isinstance(data.get("from"), str)
            and _is_url(data["from"])
            and not (isinstance(archive, dict) and archive.get("skip"))
        ):
            self.error(
                "PH012",
                f"from: {data['from']} is a URL, and the archive is made of the old instance's"
                " folder: say archive: {skip: true} and run 'packhorse archive' on its machine",
                ("archive",),
            )
        if isinstance(data.get("from"), str) and data.get("from") == data.get("to"):
            self.error("PH012", "to must be another folder than from", ("to",))
        cutover = data.get("cutover")
        if (
            isinstance(cutover, dict)
            and not cutover.get("skip")
            and not {"front_state", "hook"} & cutover.keys()
        ):
            self.error(
                "PH010",
                "cutover needs front_state (the front's state file) or hook (or say cutover: "
                "{skip: true})",
                ("cutover",),
            )
        if isinstance(archive, dict) and not archive.get("skip") and "output" not in archive:
            self.error(
                "PH010", "archive.output missing (or say archive: {skip: true})", ("archive",)
            )
        if self.found:
            return None
        folder = file.parent

        def place(text: str) -> Path:
            return (folder / Path(text).expanduser()).absolute()

        def options(name: str) -> StepOptions:
            given = dict(data.get(name) or {})
            skip = bool(given.pop("skip", False))
            for key in _PATH_FIELDS & given.keys():
                given[key] = str(place(given[key]))
            return StepOptions(skip, given)

        return UpgradePlan(
            file=file,
            sha256=sha256,
            source=data["from"] if _is_url(data["from"]) else place(data["from"]),
            target=place(data["to"]),
            bundle=place(data["bundle"]),
            passphrase_file=place(data["passphrase_file"]) if "passphrase_file" in data else None,
            passphrase_env=data.get("passphrase_env"),
            fix=bool(data.get("fix", False)),
            listen=data.get("listen"),
            verify=options("verify"),
            cutover=options("cutover"),
            archive=options("archive"),
        )
