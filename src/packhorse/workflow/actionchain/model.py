"""An action chain as frozen data: its nodes, start node and vars."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node of the ``chain`` list."""

    name: str
    ref: str
    """The action to run, as written (StackStorm never renders it)."""
    parameters: Mapping[str, Any] = field(default_factory=_empty)
    """Action parameters, Jinja templates included: ``parameters``, else the older ``params``."""
    on_success: str | None = None
    """Node to run after the action succeeds; None (or ``""`` in the file) ends the chain."""
    on_failure: str | None = None
    """Node to run after the action fails or times out; None ends the chain."""
    publish: Mapping[str, Any] = field(default_factory=_empty)
    """Names rendered after the action and visible to later nodes."""
    notify: Mapping[str, Any] | None = None
    """The node's own notification settings (``on-success``, ``on-failure``, ``on-complete``)."""
    written: Mapping[str, Any] = field(default_factory=_empty, compare=False, repr=False)
    """The node's fields as the file gives them: StackStorm hands them to the action's
    context under ``chain`` (``name``, ``ref``, ``params``, ``parameters``, ``on_success``,
    ``on_failure``, ``publish``, ``notify``; None where absent)."""


@dataclass(frozen=True, slots=True)
class ChainSpec:
    """A parsed, valid action chain."""

    nodes: tuple[NodeSpec, ...]
    """Nodes in file order; never empty."""
    default: str
    """The start node: ``default`` as written, else the first node no other node leads to,
    else the first node (StackStorm's ``ChainHolder._get_default``)."""
    vars: Mapping[str, Any] = field(default_factory=_empty)
    """Rendered once at start over the chain's parameters; published names update them."""

    def node(self, name: str | None) -> NodeSpec | None:
        """The first node called ``name`` (StackStorm's lookup: a duplicate name is shadowed),
        or None."""
        if not name:
            return None
        for node in self.nodes:
            if node.name == name:
                return node
        return None
