"""The registration plan: a pure diff between validated packs and what is registered.

The plan is what ``packhorse pack register --dry-run`` prints and what ``apply`` executes in
one transaction. Unlike StackStorm, content that disappeared from a pack is deleted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from packhorse.model.content import Kind, Pack, RegistryState, Resource


class Operation(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class PackChange:
    operation: Operation
    ref: str
    pack: Pack | None
    """The new pack for create and update; None for delete."""


@dataclass(frozen=True, slots=True)
class ResourceChange:
    operation: Operation
    kind: Kind
    ref: str
    pack: str
    resource: Resource | None
    """The new resource for create and update; None for delete."""


@dataclass(frozen=True, slots=True)
class Plan:
    packs: tuple[PackChange, ...]
    resources: tuple[ResourceChange, ...]
    unchanged: tuple[str, ...]
    """Refs of packs looked at that need no change at all."""

    @property
    def is_empty(self) -> bool:
        return not self.packs and not self.resources

    def counts(self) -> dict[str, int]:
        """``{"create": n, "update": n, "delete": n}`` over resources."""
        counted = Counter(change.operation.value for change in self.resources)
        return {operation.value: counted.get(operation.value, 0) for operation in Operation}

    def to_dict(self) -> dict[str, Any]:
        return {
            "packs": [{"operation": c.operation.value, "ref": c.ref} for c in self.packs],
            "resources": [
                {"operation": c.operation.value, "kind": c.kind.value, "ref": c.ref, "pack": c.pack}
                for c in self.resources
            ],
            "unchanged_packs": list(self.unchanged),
            "counts": self.counts(),
        }


def plan_registration(
    desired: Sequence[Pack], current: RegistryState, *, remove: Collection[str] = ()
) -> Plan:
    """Diff ``desired`` packs against ``current``; packs in ``remove`` are deleted entirely.

    Resources are matched by (kind, ref). A resource that a desired pack no longer defines is
    deleted; one whose digest changed is updated. Order: deletes first, then creates and
    updates in the Kind order (trigger types before the rules that use them).
    """
    kind_order = {kind: index for index, kind in enumerate(Kind)}
    pack_changes: list[PackChange] = []
    deletes: list[ResourceChange] = []
    upserts: list[ResourceChange] = []
    unchanged: list[str] = []

    by_pack: dict[str, list[tuple[Kind, str, str]]] = {}
    for (kind, ref), (pack_ref, digest) in current.resources.items():
        by_pack.setdefault(pack_ref, []).append((kind, ref, digest))

    for pack in desired:
        stored = {(kind, ref): digest for kind, ref, digest in by_pack.get(pack.ref, [])}
        wanted = {(r.kind, r.ref): r for r in pack.resources}
        changed = False
        for key in sorted(stored.keys() - wanted.keys(), key=lambda k: (kind_order[k[0]], k[1])):
            deletes.append(ResourceChange(Operation.DELETE, key[0], key[1], pack.ref, None))
            changed = True
        for key, resource in wanted.items():
            if key not in stored:
                operation = Operation.CREATE
            elif stored[key] != resource.digest:
                operation = Operation.UPDATE
            else:
                continue
            upserts.append(
                ResourceChange(operation, resource.kind, resource.ref, pack.ref, resource)
            )
            changed = True
        if pack.ref not in current.packs:
            pack_changes.append(PackChange(Operation.CREATE, pack.ref, pack))
        elif current.packs[pack.ref] != pack.digest or changed:
            pack_changes.append(PackChange(Operation.UPDATE, pack.ref, pack))
        else:
            unchanged.append(pack.ref)

    desired_refs = {pack.ref for pack in desired}
    for ref in sorted(set(remove) - desired_refs):
        if ref not in current.packs:
            continue
        pack_changes.append(PackChange(Operation.DELETE, ref, None))
        for kind, resource_ref, _ in sorted(by_pack.get(ref, []), key=lambda r: r[:2]):
            deletes.append(ResourceChange(Operation.DELETE, kind, resource_ref, ref, None))

    upserts.sort(key=lambda c: (kind_order[c.kind], c.ref))
    return Plan(tuple(pack_changes), (*deletes, *upserts), tuple(unchanged))
