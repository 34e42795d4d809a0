"""What validation may assume is already installed, and how to build it from packs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from packhorse.model.content import Kind, Pack, Resource
from packhorse.model.runner_types import RUNNER_TYPES, RunnerType


@dataclass(frozen=True, slots=True)
class ValidationContext:
    """Installed content that packs being validated may refer to.

    Content of the packs validated together is added to this for every pack in the batch.
    """

    runner_types: Mapping[str, RunnerType]
    trigger_types: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Trigger-type ref -> body (with ``parameters_schema`` and ``payload_schema``)."""
    actions: frozenset[str] = frozenset()
    """Refs of installed actions."""
    packs: frozenset[str] = frozenset()
    """Refs of installed packs."""


def context_from_packs(
    packs: Iterable[Pack], runner_types: Mapping[str, RunnerType]
) -> ValidationContext:
    """The context in which ``packs`` (already validated) are installed."""
    trigger_types: dict[str, Mapping[str, Any]] = {}
    actions: set[str] = set()
    refs: set[str] = set()
    for pack in packs:
        refs.add(pack.ref)
        for resource in pack.resources:
            if resource.kind is Kind.TRIGGER_TYPE:
                trigger_types[resource.ref] = resource.body
            elif resource.kind is Kind.ACTION:
                actions.add(resource.ref)
    return ValidationContext(
        runner_types=runner_types,
        trigger_types=MappingProxyType(trigger_types),
        actions=frozenset(actions),
        packs=frozenset(refs),
    )


def context_from_registry(
    *,
    packs: Iterable[str],
    trigger_types: Iterable[Resource],
    actions: Iterable[Resource],
    runner_types: Mapping[str, RunnerType] | None = None,
) -> ValidationContext:
    """The context of registered content (the packs being re-registered left out by the caller)."""
    return ValidationContext(
        runner_types=RUNNER_TYPES if runner_types is None else runner_types,
        trigger_types=MappingProxyType({r.ref: r.body for r in trigger_types}),
        actions=frozenset(r.ref for r in actions),
        packs=frozenset(packs),
    )
