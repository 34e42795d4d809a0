"""Versions of a workflow's saved state, and the transforms that carry one to the next.

A workflow paused at an inquiry can outlive the Packhorse that started it: the version being
upgraded to reads the state the old one saved. The state document (``WorkflowState.to_json``,
and the ``meta`` part of the stored parts) carries its ``version``; a document saved before
versions were written has none and is version 1. Reading a document of an older version applies
each transform in turn, ``N -> N + 1``, before the state is built; the state is then written
whole in the current version at its next save. A version newer than :data:`CURRENT` is refused:
this code cannot know what it means.

The versions:

1. The first shape.
2. Task executions (``seq/<i>``) and staged tasks (``staged/<task>__r<route>``) name the chain
   node of the contexts they see ``chain`` instead of ``ctx``: it is an index into ``chains``,
   while ``ctx/<i>`` parts (and ``contexts``) are the context deltas themselves.

Pure: documents in, documents out, the input left unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Final

from packhorse.errors import StateVersionError

Document = dict[str, Any]
Transform = Callable[[Document], Document]

FIRST: Final = 1
"""The version of a document that carries none."""


def _chain_named_chain(document: Document) -> Document:
    """1 -> 2: ``ctx`` of each task execution and staged task becomes ``chain``."""

    def renamed(record: Mapping[str, Any]) -> dict[str, Any]:
        return {("chain" if key == "ctx" else key): value for key, value in record.items()}

    return {
        **document,
        "version": 2,
        "sequence": [renamed(record) for record in document["sequence"]],
        "staged": [renamed(record) for record in document["staged"]],
    }


TRANSFORMS: Final[Mapping[int, Transform]] = {1: _chain_named_chain}
"""The transform from each version to the next, by the version it reads."""

CURRENT: Final = FIRST + len(TRANSFORMS)
"""The version this code writes."""


def stored_version(document: Mapping[str, Any]) -> int | None:
    """The version ``document`` was saved in (1 when it names none); None when what it names
    is not a version at all."""
    version = document.get("version", FIRST)
    if version is None:
        return FIRST
    if isinstance(version, bool) or not isinstance(version, int):
        return None
    return version


def upgrade_state(document: Mapping[str, Any]) -> Document:
    """``document`` in the current version: a copy (shallow when it is current already), with
    each transform from its version on applied in order. Raises :class:`StateVersionError`
    for a version newer than :data:`CURRENT` or one that never existed."""
    found = stored_version(document)
    if found is None or found < FIRST or found > CURRENT:
        raise StateVersionError(document.get("version"), CURRENT)
    if found == CURRENT:
        return dict(document)  # the usual case, on every load: no copy of the whole state
    upgraded: Document = copy.deepcopy(dict(document))
    for version in range(found, CURRENT):
        upgraded = TRANSFORMS[version](upgraded)
    upgraded["version"] = CURRENT
    return upgraded
