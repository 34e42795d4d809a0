"""How a workflow state is cut into parts for incremental persistence, and put back together.

A part is one small piece of the state under an opaque key: ``meta`` (version, input, parent
context), ``status``, ``output``, ``finished``, ``ctx/<i>`` (a context delta), ``chain/<i>``,
``route/<i>``, ``seq/<i>`` (a task execution), ``staged/<task>__r<route>``, ``prevs/<n>`` and
``prev/<n>/<source>__t<key>`` (where tasks came from), ``items/<n>`` and ``item/<n>/<i>``,
``error/<n>``, ``log/<n>``, ``rerun/<i>``. An item whose status and result are both null has
no part. Hosts store parts as they are given and need not read the keys.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from packhorse.workflow import state_versions
from packhorse.workflow.records import key_text, parse_key

if TYPE_CHECKING:
    from packhorse.workflow.state import WorkflowState

VERSION: Final = state_versions.CURRENT
"""Version of the state's JSON form (``to_json`` and parts) this code writes."""


def part_keys(state: WorkflowState) -> Iterator[str]:
    """Every part key of ``state``."""
    yield from ("meta", "status", "output", "finished")
    yield from (f"ctx/{i}" for i in range(len(state.contexts)))
    yield from (f"chain/{i}" for i in range(len(state.chains)))
    yield from (f"route/{i}" for i in range(len(state.routes)))
    yield from (f"seq/{i}" for i in range(len(state.sequence)))
    yield from (f"staged/{key_text(key)}" for key in state.staged)
    for number, prev in state.prevs.items():
        yield f"prevs/{number}"
        yield from (f"prev/{number}/{backref}" for backref in prev)
    for number, item_set in state.item_sets.items():
        yield f"items/{number}"
        for index in range(item_set.count):
            if item_set.statuses[index] is not None or item_set.results[index] is not None:
                yield f"item/{number}/{index}"
    yield from (f"error/{n}" for n in state.errors_by_id)
    yield from (f"log/{n}" for n in state.log_by_id)
    yield from (f"rerun/{i}" for i in range(len(state.reruns)))


def part_value(state: WorkflowState, part: str) -> Any:
    """The JSON value of one part of ``state``."""
    kind, _, rest = part.partition("/")
    match kind:
        case "meta":
            return {"version": VERSION, "input": state.input, "context": state.context}
        case "status":
            return state.status
        case "output":
            return state.output
        case "finished":
            return state.finished
        case "ctx":
            return state.contexts[int(rest)]
        case "chain":
            return state.chains[int(rest)].to_json()
        case "route":
            return state.routes[int(rest)]
        case "seq":
            return state.sequence[int(rest)].to_json()
        case "staged":
            return state.staged[parse_key(rest)].to_json()
        case "prevs":
            return True
        case "prev":
            number, backref = rest.split("/", 1)
            return state.prevs[int(number)][backref]
        case "items":
            return {"count": state.item_sets[int(rest)].count}
        case "item":
            number, index = rest.split("/")
            item_set = state.item_sets[int(number)]
            position = int(index)
            return {"status": item_set.statuses[position], "result": item_set.results[position]}
        case "error":
            return state.errors_by_id[int(rest)]
        case "log":
            return state.log_by_id[int(rest)]
        case "rerun":
            return state.reruns[int(rest)]
    raise KeyError(part)


def document_from_parts(parts: Mapping[str, Any]) -> dict[str, Any]:
    """The ``to_json`` document of the state whose current parts are ``parts``."""
    parts = json.loads(json.dumps(dict(parts)))
    meta = parts["meta"]
    grouped: dict[str, dict[str, Any]] = defaultdict(dict)
    for part, value in parts.items():
        kind, _, rest = part.partition("/")
        grouped[kind][rest] = value
    prevs: dict[str, dict[str, int]] = {number: {} for number in grouped["prevs"]}
    for rest, value in grouped["prev"].items():
        number, backref = rest.split("/", 1)
        prevs.setdefault(number, {})[backref] = value
    item_sets: dict[str, dict[str, Any]] = {
        number: {"count": body["count"], "items": {}} for number, body in grouped["items"].items()
    }
    for rest, value in grouped["item"].items():
        number, index = rest.split("/")
        item_sets[number]["items"][index] = value
    return {
        "version": meta.get("version"),  # none before versions were written: version 1
        "status": parts.get("status"),
        "input": meta["input"],
        "context": meta["context"],
        "output": parts.get("output"),
        "finished": parts.get("finished", False),
        "contexts": _listed(grouped["ctx"]),
        "chains": _listed(grouped["chain"]),
        "routes": _listed(grouped["route"]),
        "sequence": _listed(grouped["seq"]),
        "staged": list(grouped["staged"].values()),
        "prevs": prevs,
        "item_sets": item_sets,
        "errors": grouped["error"],
        "log": grouped["log"],
        "reruns": _listed(grouped["rerun"]),
    }


def _listed(numbered: Mapping[str, Any]) -> list[Any]:
    """Values keyed ``"0"``, ``"1"``... as a list (a missing index is an error)."""
    return [numbered[str(i)] for i in range(len(numbered))]
