"""Rehearsals of action chains: a chain, its inputs and mocked action results in, what the
chain started and how it ended out. The state goes through JSON between every two steps, as
the engine stores it, which proves it is complete."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packhorse.workflow.actionchain import (
    ChainFinished,
    ChainPaused,
    ChainSpec,
    ChainState,
    RunNode,
    Step,
    on_result,
    parse_chain,
    start,
)

CHAINS = Path(__file__).parent / "fixtures" / "chains"

Reply = tuple[str, Any]
"""What a mocked action reports: its status and its result."""
Responder = Callable[[RunNode], Reply | Sequence[Reply]]
"""Computes the reply (or a series: paused or pending, then the end) from the node."""


def stamp(tick: int) -> str:
    """The ``now`` of step ``tick``, as StackStorm formats times."""
    return f"2024-05-01T10:00:{tick:02d}.000000+00:00"


def load(name: str, folder: Path = CHAINS) -> ChainSpec:
    path = folder / name
    spec, diagnostics = parse_chain(path.read_text(), name)
    assert spec is not None, [d.format() for d in diagnostics]
    return spec


def roundtrip(state: ChainState) -> ChainState:
    return ChainState.from_json(json.loads(json.dumps(state.to_json())))


def ran(node: RunNode) -> Reply:
    """The default mock: the action succeeds and says which node it ran for."""
    return "succeeded", {"stdout": f"{node.node} ran"}


@dataclass
class Rehearsal:
    """What one rehearsal saw."""

    started: list[RunNode] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    """Every step returned, in order (RunNode, ChainPaused, ChainFinished)."""
    state: ChainState | None = None

    @property
    def order(self) -> list[str]:
        return [node.node for node in self.started]

    @property
    def end(self) -> Step:
        return self.steps[-1]

    @property
    def finished(self) -> ChainFinished:
        assert isinstance(self.end, ChainFinished), self.end
        return self.end

    def parameters(self, node: str, occurrence: int = 0) -> dict[str, Any]:
        return [step.parameters for step in self.started if step.node == node][occurrence]


def rehearse(
    chain: ChainSpec,
    parameters: Mapping[str, Any] | None = None,
    replies: Mapping[str, Reply | Sequence[Reply] | Responder] | None = None,
    *,
    default: Responder = ran,
    context: Mapping[str, Any] | None = None,
    functions: Mapping[str, Any] | None = None,
    max_nodes: int = 50,
    **options: Any,
) -> Rehearsal:
    """Run ``chain`` to its end (or to a pause that nothing resumes).

    ``replies`` maps a node name to its reply, to a list of replies for successive runs of
    that node, or to a responder; other nodes get ``default``. A reply list whose item is
    itself a list gives one run several reports (``[("pending", r1), ("succeeded", r2)]``).
    """
    seen = Rehearsal()
    runs: dict[str, int] = {}
    state, step = start(
        chain,
        parameters or {},
        context or {"user": "stanley", "pack": "demo"},
        execution_id="chain-1",
        now=stamp(0),
        functions=functions,
        **options,
    )
    seen.steps.append(step)
    while isinstance(step, RunNode | ChainPaused) and len(seen.started) < max_nodes:
        if isinstance(step, ChainPaused):
            break
        json.dumps(step.parameters)  # what the host receives is JSON data
        seen.started.append(step)
        index = runs.get(step.node, 0)
        runs[step.node] = index + 1
        for status, result in _reports(replies or {}, step, index, default):
            state = roundtrip(state)
            state, step = on_result(
                chain,
                state,
                step.node if isinstance(step, RunNode) else seen.started[-1].node,
                status,
                result,
                execution_id=f"{seen.started[-1].node}-{len(seen.started)}",
                now=stamp(len(seen.steps)),
                functions=functions,
            )
            seen.steps.append(step)
    seen.state = roundtrip(state)
    return seen


def _reports(
    replies: Mapping[str, Any], node: RunNode, index: int, default: Responder
) -> list[Reply]:
    reply = replies.get(node.node, default)
    if callable(reply):
        reply = reply(node)
    elif isinstance(reply, list):
        reply = reply[min(index, len(reply) - 1)]
    if isinstance(reply, list):
        return list(reply)
    return [reply]
