"""The state of one workflow execution: plain, versioned, JSON-serializable data.

What it holds (reference/orquesta.md §2.2, in Packhorse's own shape):

* ``contexts``: published deltas, index 0 being the initial context (parent context, inputs,
  vars), and ``chains``: the lists of deltas task executions see (see ``contexts.py``);
* ``routes``: the split transitions that led to each route, route 0 being ``[]``;
* ``sequence``: one :class:`TaskRecord` per task execution, in creation order;
* ``staged``: one :class:`StagedRecord` per task known but not started (or a with-items task
  whose items are running, or that failed and may be rerun);
* ``prevs``: where staged tasks and executions came from (``<source>__t<key>`` -> sequence
  index), kept apart so that a join's many arrivals each add one small part;
* ``item_sets``: the status and result of each item of with-items tasks;
* the workflow ``status``, ``input``, parent ``context``, ``output``, ``errors``, ``log`` and
  ``reruns``.

Persistence is incremental. Every change is recorded against a *part* (an opaque key such as
``seq/12`` or ``staged/task3__r0``); :meth:`WorkflowState.take_changes` returns the parts
written and the keys deleted since the last call, and :meth:`WorkflowState.from_parts` rebuilds
the state from all current parts. One event changes a bounded number of small parts whatever
the size of the workflow. :meth:`WorkflowState.to_json` and :meth:`WorkflowState.from_json`
give and take the whole state at once. The spec and graph are not part of the state: the host
keeps the workflow text and builds the conductor from it.

Indexes derived from the data (the latest execution of each task, executions by status, ready
staged tasks, the satisfied inbound transitions of each task) are kept up to date by the
mutators and rebuilt on load; they are what keeps each event's cost independent of the size
of the state. Only the mutators below may change the records.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from packhorse.workflow import persistence, state_versions
from packhorse.workflow.contexts import ROOT, ChainNode, MergedCache, indexes, merged
from packhorse.workflow.records import (
    ExecutionView,
    ItemSet,
    Key,
    StagedRecord,
    TaskRecord,
    key_text,
    plain,
)
from packhorse.workflow.statuses import ACTIVE, Status, parse_status

if TYPE_CHECKING:
    from packhorse.workflow.graph import WorkflowGraph


_MISSING: Final = object()


class WorkflowState:
    """The state of one workflow execution (see the module docstring)."""

    def __init__(
        self, input: Mapping[str, Any] | None = None, context: Mapping[str, Any] | None = None
    ) -> None:
        self.input: dict[str, Any] = plain(dict(input or {}))
        self.context: dict[str, Any] = plain(dict(context or {}))
        self._status: Status | None = None
        self._output: dict[str, Any] | None = None
        self._finished = False
        self.contexts: list[dict[str, Any]] = []
        self.chains: list[ChainNode] = []
        self._routes: list[list[str]] = []
        self.sequence: list[TaskRecord] = []
        self.staged: dict[Key, StagedRecord] = {}
        self.prevs: dict[int, dict[str, int]] = {}
        self.item_sets: dict[int, ItemSet] = {}
        self.errors_by_id: dict[int, dict[str, Any]] = {}
        self.log_by_id: dict[int, dict[str, Any]] = {}
        self.reruns: list[list[int]] = []
        self._changed: set[str] = set()
        self._deleted: set[str] = set()
        self._saved: set[str] = set()
        self._reindex()
        self._touch_all()

    # -- derived indexes -------------------------------------------------------------------

    def _reindex(self) -> None:
        """Rebuild every index from the data (after a load)."""
        self.pointers: dict[Key, int] = {}
        for index, record in enumerate(self.sequence):
            self.pointers[(record.id, record.route)] = index
        self.by_status: dict[Status | None, set[int]] = defaultdict(set)
        for index in self.pointers.values():
            self.by_status[self.sequence[index].status].add(index)
        self.ready: dict[Key, int] = {
            key: staged.order
            for key, staged in self.staged.items()
            if staged.ready and not staged.completed
        }
        self.unready: set[Key] = {key for key, staged in self.staged.items() if not staged.ready}
        self.terminal: set[int] = {i for i, record in enumerate(self.sequence) if record.term}
        self.satisfied: dict[tuple[str, int], set[str]] = defaultdict(set)
        for index in self.pointers.values():
            record = self.sequence[index]
            for transition_id, taken in record.next.items():
                if taken:
                    self.satisfied[(_target(transition_id), record.route)].add(record.id)
        self._error_seen = {_canonical(entry) for entry in self.errors_by_id.values()}
        self._log_seen = {_canonical(entry) for entry in self.log_by_id.values()}
        self._next_order = max((s.order for s in self.staged.values()), default=-1) + 1
        self._next_prev = max(self.prevs, default=-1) + 1
        self._next_items = max(self.item_sets, default=-1) + 1
        self._next_error = max([*self.errors_by_id, *self.log_by_id], default=-1) + 1
        self.merged_cache = MergedCache()
        self.prepared_cache: dict[int, Any] = {}
        self.rendered_items: dict[int, dict[int, tuple[Any, Any]]] = {}
        self.items_cache: dict[int, list[Any]] = {}
        """The rendered item list of each staged with-items task (by staging order)."""
        self._graph: WorkflowGraph | None = None
        self.known: dict[tuple[str, int], int] = {}

    def attach(self, graph: WorkflowGraph) -> None:
        """Index what needs the graph: how many inbound tasks of each task have run on each
        route. Idempotent; the conductor calls it before using the state."""
        if self._graph is graph:
            return
        self._graph = graph
        self.known = defaultdict(int)
        for task_id, route in self.pointers:
            for target in graph.targets(task_id):
                self.known[(target, route)] += 1

    # -- change tracking ---------------------------------------------------------------------

    def _touch(self, part: str) -> None:
        self._changed.add(part)
        if self._deleted:
            self._deleted.discard(part)

    def _drop(self, part: str) -> None:
        self._changed.discard(part)
        self._deleted.add(part)

    def _touch_all(self) -> None:
        for part in persistence.part_keys(self):
            self._touch(part)

    def take_changes(self) -> tuple[dict[str, Any], set[str]]:
        """The parts (key -> JSON value) written and the keys of stored parts deleted since
        the last call. A new state reports every part at its first call; a loaded one only
        what changed since it was loaded (its parts are stored already)."""
        parts = {part: persistence.part_value(self, part) for part in self._changed}
        deleted = self._deleted & self._saved  # not those created and deleted since
        self._saved -= deleted
        self._saved |= self._changed
        self._changed.clear()
        self._deleted.clear()
        return parts, deleted

    # -- loading and saving ------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The whole state as one JSON document."""
        return {
            "version": state_versions.CURRENT,
            "status": self._status,
            "input": self.input,
            "context": self.context,
            "output": self._output,
            "finished": self._finished,
            "contexts": self.contexts,
            "chains": [chain.to_json() for chain in self.chains],
            "routes": self._routes,
            "sequence": [record.to_json() for record in self.sequence],
            "staged": [staged.to_json() for staged in self.staged.values()],
            "prevs": {str(n): prev for n, prev in self.prevs.items()},
            "item_sets": {str(n): s.to_json() for n, s in self.item_sets.items()},
            "errors": {str(n): entry for n, entry in self.errors_by_id.items()},
            "log": {str(n): entry for n, entry in self.log_by_id.items()},
            "reruns": self.reruns,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowState:
        """The state :meth:`to_json` gave (a copy: nothing is shared with ``data``); a document
        of an older version is upgraded first (see ``state_versions``)."""
        data = state_versions.upgrade_state(json.loads(json.dumps(data)))
        state = cls.__new__(cls)
        state.input = data["input"]
        state.context = data["context"]
        state._status = parse_status(data["status"])
        state._output = data["output"]
        state._finished = bool(data.get("finished", False))
        state.contexts = data["contexts"]
        state.chains = [ChainNode.from_json(c) for c in data["chains"]]
        state._routes = data["routes"]
        state.sequence = [TaskRecord.from_json(r) for r in data["sequence"]]
        for index, record in enumerate(state.sequence):
            record.index = index
        stageds = sorted((StagedRecord.from_json(s) for s in data["staged"]), key=_order)
        state.staged = {s.key: s for s in stageds}
        state.prevs = {int(n): prev for n, prev in data["prevs"].items()}
        state.item_sets = {}
        for number, body in data["item_sets"].items():
            state.item_sets[int(number)] = ItemSet.from_json(body)
        state.errors_by_id = {int(n): e for n, e in data["errors"].items()}
        state.log_by_id = {int(n): e for n, e in data["log"].items()}
        state.reruns = data["reruns"]
        state._changed, state._deleted = set(), set()
        state._saved = set(persistence.part_keys(state))
        state._reindex()
        return state

    @classmethod
    def from_parts(cls, parts: Mapping[str, Any]) -> WorkflowState:
        """The state whose current parts are ``parts`` (every key :meth:`take_changes` has
        written and not deleted since). Parts of an older version are upgraded, and the next
        :meth:`take_changes` rewrites every part in the current version (deleting those it
        no longer has), so that the stored state is never a mix of versions."""
        document = persistence.document_from_parts(parts)
        state = cls.from_json(document)
        found = state_versions.stored_version(document)
        if found is not None and found < state_versions.CURRENT:
            current = set(persistence.part_keys(state))
            state._saved = set(parts)
            state._changed = current
            state._deleted = state._saved - current
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkflowState):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    # -- reading ---------------------------------------------------------------------------

    @property
    def status(self) -> Status | None:
        return self._status

    @property
    def output(self) -> dict[str, Any] | None:
        return self._output

    @property
    def finished(self) -> bool:
        """Whether the host has been told the workflow completed (see ``Conductor.apply``)."""
        return self._finished

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Error entries in the order they were logged."""
        return [self.errors_by_id[n] for n in sorted(self.errors_by_id)]

    @property
    def log(self) -> list[dict[str, Any]]:
        return [self.log_by_id[n] for n in sorted(self.log_by_id)]

    @property
    def routes(self) -> list[list[str]]:
        return self._routes

    @property
    def started(self) -> bool:
        """Whether the first request has set the workflow up (rendered inputs and vars)."""
        return bool(self.contexts) or self._status is not None

    def task_sequence(self) -> list[tuple[str, int, str | None]]:
        """(task id, route, status) of every task execution, in creation order."""
        return [(r.id, r.route, r.status) for r in self.sequence]

    def latest(self, task_id: str, route: int) -> TaskRecord | None:
        index = self.pointers.get((task_id, route))
        return None if index is None else self.sequence[index]

    def task_status(self, task_id: str, route: int = 0) -> Status | None:
        """The status of the latest execution of ``task_id`` on ``route``."""
        record = self.latest(task_id, route)
        return None if record is None else record.status

    def executions(self) -> list[ExecutionView]:
        """Every task execution in creation order, with item statuses for with-items."""
        views = []
        for record in self.sequence:
            items = None
            if record.items is not None and record.items in self.item_sets:
                items = tuple(self.item_sets[record.items].statuses)
            views.append(ExecutionView(record.id, record.route, record.status, items))
        return views

    def pointed(self, statuses: Iterable[Status | None]) -> Iterator[int]:
        """Indexes of latest executions whose status is one of ``statuses``."""
        for status in statuses:
            yield from self.by_status.get(status, ())

    def count(self, statuses: Iterable[Status | None]) -> int:
        by_status = self.by_status
        return sum(len(by_status[status]) for status in statuses if status in by_status)

    def has_active_tasks(self) -> bool:
        return self.count(ACTIVE) > 0

    def has_ready_tasks(self) -> bool:
        return bool(self.ready)

    def variables(self, node: int) -> dict[str, Any]:
        """The merged variables of a chain node (shared: do not change)."""
        return merged(self.chains, self.contexts, node, self.merged_cache)

    def context_indexes(self, node: int) -> list[int]:
        return indexes(self.chains, node)

    # -- workflow-level mutators ---------------------------------------------------------

    def set_status(self, status: Status | None) -> None:
        if status != self._status:
            self._status = status
            self._touch("status")

    def set_output(self, output: dict[str, Any] | None) -> None:
        self._output = plain(output) if output is not None else None
        self._touch("output")

    def set_finished(self, finished: bool) -> None:
        if finished != self._finished:
            self._finished = finished
            self._touch("finished")

    def add_context(self, values: Mapping[str, Any]) -> int:
        """Append a context delta; its index."""
        self.contexts.append(plain(dict(values)))
        self._touch(f"ctx/{len(self.contexts) - 1}")
        return len(self.contexts) - 1

    def _add_chain(self, chain: ChainNode) -> int:
        self.chains.append(chain)
        self._touch(f"chain/{len(self.chains) - 1}")
        return len(self.chains) - 1

    def root_chain(self) -> int:
        """The chain node ``[0]`` (created with the initial context)."""
        if not self.chains:
            self._add_chain(ChainNode(None, 0))
        return ROOT

    def extend_chain(self, node: int, delta: int) -> int:
        return self._add_chain(ChainNode(node, delta))

    def join_chain(self, node: int, other: int) -> int:
        """``node``'s list followed by ``other``'s without its leading 0."""
        if other == ROOT:
            return node
        return self._add_chain(ChainNode(node, None, other))

    def add_route(self, route: list[str]) -> int:
        self._routes.append(list(route))
        self._touch(f"route/{len(self._routes) - 1}")
        return len(self._routes) - 1

    def log_entry(self, entry: Mapping[str, Any]) -> None:
        """Log an error (``type: error``) or an info or warn entry; exact duplicates are
        dropped, as orquesta drops them."""
        entry = dict(plain(dict(entry)))
        canonical = _canonical(entry)
        errors = entry["type"] == "error"
        seen = self._error_seen if errors else self._log_seen
        if canonical in seen:
            return
        seen.add(canonical)
        number = self._next_error
        self._next_error += 1
        (self.errors_by_id if errors else self.log_by_id)[number] = entry
        self._touch(f"{'error' if errors else 'log'}/{number}")

    def remove_errors(self, task_id: str) -> None:
        for number in [n for n, e in self.errors_by_id.items() if e.get("task_id") == task_id]:
            self._error_seen.discard(_canonical(self.errors_by_id.pop(number)))
            self._drop(f"error/{number}")

    def add_rerun(self, indexes: list[int]) -> None:
        self.reruns.append(list(indexes))
        self._touch(f"rerun/{len(self.reruns) - 1}")

    # -- prevs -------------------------------------------------------------------------------

    def new_prevs(self, entries: Mapping[str, int] | None = None) -> int:
        number = self._next_prev
        self._next_prev += 1
        self.prevs[number] = {}
        self._touch(f"prevs/{number}")
        for backref, index in (entries or {}).items():
            self.set_prev(number, backref, index)
        return number

    def set_prev(self, number: int, backref: str, index: int) -> None:
        self.prevs[number][backref] = index
        self._touch(f"prev/{number}/{backref}")

    # -- task executions -------------------------------------------------------------------

    def add_record(
        self, task_id: str, route: int, chain: int, prev: int, retry: dict[str, Any] | None = None
    ) -> TaskRecord:
        """Append an execution of ``task_id`` on ``route``; it becomes the latest."""
        index = len(self.sequence)
        record = TaskRecord(task_id, route, chain, prev, retry=plain(retry), index=index)
        self.sequence.append(record)
        key = (task_id, route)
        old = self.pointers.get(key)
        if old is not None:
            self.by_status[self.sequence[old].status].discard(old)
            self._unsatisfy(self.sequence[old])
        elif self._graph is not None:
            for target in self._graph.targets(task_id):
                self.known[(target, route)] += 1
        self.pointers[key] = index
        self.by_status[None].add(index)
        self._touch(f"seq/{index}")
        return record

    def set_record_status(self, record: TaskRecord, status: Status | None) -> None:
        if status == record.status:
            return
        index = record.index
        if self.pointers.get((record.id, record.route)) == index:
            self.by_status[record.status].discard(index)
            self.by_status[status].add(index)
        record.status = status
        self._touch(f"seq/{index}")

    def set_next(
        self, record: TaskRecord, transition_id: str, taken: bool, target: str | None = None
    ) -> None:
        """Record whether a transition (``<target>__t<key>``) of a completed task was taken."""
        record.next[transition_id] = taken
        self._touch(f"seq/{record.index}")
        if self.pointers.get((record.id, record.route)) != record.index:
            return
        target = target or _target(transition_id)
        satisfied = self.satisfied[(target, record.route)]
        if taken:
            satisfied.add(record.id)
        elif record.id in satisfied and not any(
            value for tid, value in record.next.items() if _target(tid) == target
        ):
            satisfied.discard(record.id)

    def _unsatisfy(self, record: TaskRecord) -> None:
        for transition_id, taken in record.next.items():
            if taken:
                self.satisfied[(_target(transition_id), record.route)].discard(record.id)

    def set_term(self, record: TaskRecord, term: bool) -> None:
        if record.term == term:
            return
        index = record.index
        record.term = term
        (self.terminal.add if term else self.terminal.discard)(index)
        self._touch(f"seq/{index}")

    def set_record_retry(self, record: TaskRecord, retry: dict[str, Any] | None) -> None:
        record.retry = plain(retry) if retry is not None else None
        self._touch(f"seq/{record.index}")

    def set_record_items(self, record: TaskRecord, items: int | None) -> None:
        if record.items != items:
            record.items = items
            self._touch(f"seq/{record.index}")

    # -- staging -----------------------------------------------------------------------------

    def stage(
        self,
        task_id: str,
        route: int,
        chain: int,
        prev: int,
        *,
        ready: bool,
        retry: dict[str, Any] | None = None,
    ) -> StagedRecord:
        """Stage ``task_id`` on ``route`` (replacing a staged entry of the same key)."""
        if (task_id, route) in self.staged:
            self.unstage((task_id, route), force=True)
        staged = StagedRecord(task_id, route, chain, prev, ready, self._next_order, retry=retry)
        self._next_order += 1
        self.staged[staged.key] = staged
        self._index_staged(staged)
        self._touch(f"staged/{key_text(staged.key)}")
        return staged

    def _index_staged(self, staged: StagedRecord) -> None:
        key = staged.key
        if staged.ready and not staged.completed:
            self.ready[key] = staged.order
        else:
            self._not_ready(key)
        if staged.ready:
            self.unready.discard(key)
        else:
            self.unready.add(key)

    def _not_ready(self, key: Key) -> None:
        if self.ready.pop(key, None) is not None and not self.ready:
            # An emptied dict keeps its table, and iterating it walks every slot: once a
            # fan-out has handed out its 10,000 tasks, every later query of the ready tasks
            # would walk 10,000 empty slots. A fresh dict keeps that cost to what is ready.
            self.ready = {}

    def update_staged(self, staged: StagedRecord, **changes: Any) -> None:
        """Change fields of a staged entry (``ready``, ``chain``, ``completed``, ``run_on_fail``,
        ``retry``, ``items``)."""
        for name, value in changes.items():
            setattr(staged, name, value)
        self._index_staged(staged)
        self._touch(f"staged/{key_text(staged.key)}")

    def unstage(self, key: Key, *, force: bool = False) -> None:
        """Remove a staged entry, unless items of it are still active (orquesta keeps it then)."""
        staged = self.staged.get(key)
        if staged is None:
            return
        if not force and staged.items is not None and self.item_sets[staged.items].active():
            return
        del self.staged[key]
        self._not_ready(key)
        self.unready.discard(key)
        self.rendered_items.pop(staged.order, None)
        self.items_cache.pop(staged.order, None)
        self._drop(f"staged/{key_text(key)}")
        self.release_items(staged)

    def release_items(self, staged: StagedRecord) -> None:
        """Forget a staged entry's item set unless its execution keeps it (the set of a
        staged entry can only be shared with the latest execution of the same task)."""
        if staged.items is None:
            return
        latest = self.latest(staged.id, staged.route)
        if latest is None or latest.items != staged.items:
            self.drop_items(staged.items)

    # -- items -------------------------------------------------------------------------------

    def new_items(self, count: int) -> int:
        number = self._next_items
        self._next_items += 1
        self.item_sets[number] = ItemSet.empty(count)
        self._touch(f"items/{number}")
        return number

    def drop_items(self, number: int) -> None:
        item_set = self.item_sets.pop(number, None)
        if item_set is None:
            return
        self._drop(f"items/{number}")
        for index in range(item_set.count):
            if item_set.statuses[index] is not None or item_set.results[index] is not None:
                self._drop(f"item/{number}/{index}")

    def set_item(
        self, number: int, index: int, *, status: Any = _MISSING, result: Any = _MISSING
    ) -> None:
        """Set an item's status and/or result slot."""
        item_set = self.item_sets[number]
        if status is not _MISSING:
            item_set.tally[item_set.statuses[index]] -= 1
            item_set.statuses[index] = status
            item_set.tally[status] += 1
            if status is None:
                item_set.cursor = min(item_set.cursor, index)
        if result is not _MISSING:
            item_set.results[index] = plain(result)
        part = f"item/{number}/{index}"
        if item_set.statuses[index] is None and item_set.results[index] is None:
            self._drop(part)
        else:
            self._touch(part)


def _target(transition_id: str) -> str:
    """The target of a transition id ``<target>__t<key>``."""
    return transition_id.rsplit("__t", 1)[0]


def _canonical(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True)


def _order(staged: StagedRecord) -> int:
    return staged.order
