"""Pack registration as a use case: discover -> validate -> configs -> plan -> apply.

A pack with an error registers nothing; when any selected pack has an error, nothing at all
is applied, so that packs that depend on each other never register half-way. A pack's config
(``configs/<ref>.yaml``, checked against its config schema) is one of its resources: an error
in it blocks registration like any other.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packhorse.model.content import Kind, Pack, RegisteredPack
from packhorse.model.diagnostics import Diagnostic, Severity, has_errors
from packhorse.packs.plan import Plan, plan_registration
from packhorse.storage.ports import ContentRegistry

if TYPE_CHECKING:
    from packhorse.packs.venvs import VenvBuilder


@dataclass(frozen=True, slots=True)
class RegistrationOutcome:
    plan: Plan | None
    """None when validation failed (nothing was planned or applied)."""
    diagnostics: tuple[Diagnostic, ...]
    applied: bool
    packs: tuple[Pack, ...] = ()

    @property
    def ok(self) -> bool:
        return self.plan is not None


def register_packs(
    registry: ContentRegistry,
    search_paths: Sequence[Path],
    *,
    system_packs: Sequence[Path] = (),
    home: Path | None = None,
    configs_dir: Path | None = None,
    refs: Sequence[str] = (),
    all_packs: bool = False,
    dry_run: bool = False,
    now: str,
) -> RegistrationOutcome:
    """Register the packs named in ``refs`` (or every pack found when ``all_packs``).

    With ``all_packs``, registered packs that are no longer found anywhere are removed.
    Packs inside ``home`` are recorded by their path relative to it, so that a copied or
    moved instance folder stays valid. Each pack's config is read from
    ``configs_dir/<ref>.yaml`` (when ``configs_dir`` is None, packs with a config schema get
    a config of the schema's defaults).
    """
    from packhorse.packs.discover import discover_packs, read_pack
    from packhorse.packs.validate import validate_packs
    from packhorse.packs.validate.context import context_from_registry

    sources, diagnostics = discover_packs(list(search_paths))
    found = {source.dir_name for source in sources}
    for directory in system_packs:
        if directory.name not in found and (directory / "pack.yaml").is_file():
            sources.append(read_pack(directory))
            found.add(directory.name)

    diagnostics = list(diagnostics)
    if all_packs:
        selected = sources
    else:
        wanted = set(refs)
        selected = [source for source in sources if source.dir_name in wanted]
        for missing in sorted(wanted - found):
            paths = ", ".join(str(p) for p in search_paths)
            diagnostics.append(
                Diagnostic(
                    "PH100",
                    Severity.ERROR,
                    f"pack {missing!r} not found in {paths}",
                    missing,
                )
            )
    selected_names = {source.dir_name for source in selected}

    # What is registered and not being re-registered is the context the batch validates in.
    installed = [p.ref for p in registry.list_packs() if p.ref not in selected_names]
    context = context_from_registry(
        packs=installed,
        trigger_types=[
            r for r in registry.list_resources(Kind.TRIGGER_TYPE) if r.pack not in selected_names
        ],
        actions=[r for r in registry.list_resources(Kind.ACTION) if r.pack not in selected_names],
    )
    results = validate_packs(selected, context)
    validated: list[Pack] = []
    for result in results:
        diagnostics.extend(result.diagnostics)
        if result.pack is not None:
            pack, problems = _with_config(result.pack, configs_dir)
            diagnostics.extend(problems)
            validated.append(pack)
    if has_errors(diagnostics):
        return RegistrationOutcome(None, tuple(diagnostics), applied=False)

    packs = tuple(_relative_to(pack, home) for pack in validated)
    remove: set[str] = set()
    if all_packs:
        remove = {p.ref for p in registry.list_packs()} - {p.ref for p in packs}
    plan = plan_registration(packs, registry.state(), remove=remove)
    applied = False
    if not dry_run and not plan.is_empty:
        registry.apply(plan, now=now)
        applied = True
    return RegistrationOutcome(plan, tuple(diagnostics), applied=applied, packs=packs)


def _with_config(pack: Pack, configs_dir: Path | None) -> tuple[Pack, list[Diagnostic]]:
    """The pack with its CONFIG resource added, if it has a config schema or a config file."""
    from packhorse.packs.validate.config_values import (
        apply_defaults,
        config_resource,
        validate_config_text,
    )

    schemas = pack.of_kind(Kind.CONFIG_SCHEMA)
    schema = schemas[0].body.get("attributes") if schemas else None
    if configs_dir is None:  # no configs folder: the defaults, and nothing to say about it
        if schema is None:
            return pack, []
        resource = config_resource(pack.ref, apply_defaults({}, schema), None)
        return replace(pack, resources=(*pack.resources, resource)), []
    path = configs_dir / f"{pack.ref}.yaml"
    text: bytes | None = None
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        text = None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        problem = Diagnostic(
            "PH610", Severity.ERROR, f"cannot read the config file: {reason}", str(path)
        )
        return pack, [problem]
    if schema is None and text is None:
        return pack, []
    values, diagnostics = validate_config_text(text, schema, path=str(path))
    file = f"configs/{pack.ref}.yaml" if text is not None else None
    resource = config_resource(pack.ref, values, file)
    return replace(pack, resources=(*pack.resources, resource)), diagnostics


def _relative_to(pack: Pack, home: Path | None) -> Pack:
    path = Path(pack.path)
    if home is None or not path.is_relative_to(home):
        return pack
    return replace(pack, path=path.relative_to(home).as_posix(), digest="")


def dependents_of(
    registered: Sequence[RegisteredPack], refs: Sequence[str]
) -> dict[str, list[str]]:
    """For each of ``refs``, the other registered packs whose ``dependencies`` name it."""
    from packhorse.packs.dependencies import parse_spec

    leaving = set(refs)
    found: dict[str, list[str]] = {}
    for pack in registered:
        if pack.ref in leaving:
            continue
        for text in pack.metadata.get("dependencies") or []:
            try:
                name = parse_spec(str(text)).name
            except ValueError:
                continue
            if name in leaving:
                found.setdefault(name, []).append(pack.ref)
    return found


def unregister_packs(registry: ContentRegistry, refs: Sequence[str], *, now: str) -> Plan:
    """Remove packs and everything they registered, in one transaction."""
    plan = plan_registration((), registry.state(), remove=set(refs))
    if not plan.is_empty:
        registry.apply(plan, now=now)
    return plan


def remove_packs(
    registry: ContentRegistry,
    refs: Sequence[str],
    *,
    system_packs: Collection[str],
    home: Path,
    packs_dir: Path,
    venvs: VenvBuilder | None,
    now: str,
) -> list[str]:
    """Unregister packs (one transaction), then delete their folders under ``packs_dir``
    (folders on other pack paths are the site's and stay) and, with ``venvs``, their
    virtualenvs. Refuses system packs, packs that are not registered and packs other
    registered packs depend on."""
    import shutil

    from packhorse.errors import Conflict, NotFound
    from packhorse.packs.sources_record import forget_sources

    registered = registry.list_packs()
    known = {p.ref: p for p in registered}
    for ref in refs:
        if ref in system_packs:
            raise Conflict(f"{ref} is a system pack that ships with Packhorse; it stays")
        if ref not in known:
            raise NotFound("pack", ref)
    needed = dependents_of(registered, refs)
    if needed:
        reasons = "; ".join(f"{ref} is needed by {', '.join(by)}" for ref, by in needed.items())
        raise Conflict(
            f"nothing removed: {reasons}", hint="remove the packs that depend on it first"
        )
    unregister_packs(registry, refs, now=now)
    forget_sources(home, refs)
    for ref in refs:
        folder = (home / known[ref].path).resolve()
        if folder.parent == packs_dir.resolve() and folder.is_dir():
            shutil.rmtree(folder)
        if venvs is not None:
            venvs.remove(ref)
    return list(refs)
