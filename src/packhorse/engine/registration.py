"""Pack registration as a use case: discover -> validate -> plan -> apply.

A pack with an error registers nothing; when any selected pack has an error, nothing at all
is applied, so that packs that depend on each other never register half-way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packhorse.model.content import Kind, Pack
from packhorse.model.diagnostics import Diagnostic, Severity, has_errors
from packhorse.packs.plan import Plan, plan_registration
from packhorse.storage.ports import ContentRegistry


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
    refs: Sequence[str] = (),
    all_packs: bool = False,
    dry_run: bool = False,
    now: str,
) -> RegistrationOutcome:
    """Register the packs named in ``refs`` (or every pack found when ``all_packs``).

    With ``all_packs``, registered packs that are no longer found anywhere are removed.
    Packs inside ``home`` are recorded by their path relative to it, so that a copied or
    moved instance folder stays valid.
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
    for result in results:
        diagnostics.extend(result.diagnostics)
    if has_errors(diagnostics):
        return RegistrationOutcome(None, tuple(diagnostics), applied=False)

    packs = tuple(_relative_to(result.pack, home) for result in results if result.pack is not None)
    remove: set[str] = set()
    if all_packs:
        remove = {p.ref for p in registry.list_packs()} - {p.ref for p in packs}
    plan = plan_registration(packs, registry.state(), remove=remove)
    applied = False
    if not dry_run and not plan.is_empty:
        registry.apply(plan, now=now)
        applied = True
    return RegistrationOutcome(plan, tuple(diagnostics), applied=applied, packs=packs)


def _relative_to(pack: Pack, home: Path | None) -> Pack:
    path = Path(pack.path)
    if home is None or not path.is_relative_to(home):
        return pack
    return replace(pack, path=path.relative_to(home).as_posix(), digest="")
