"""The records a workflow state is made of: task executions, staged tasks, item sets.

Plain mutable dataclasses with their JSON form; only ``WorkflowState``'s mutators change them,
so that the state's indexes and change tracking stay right.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from packhorse.workflow.statuses import ACTIVE, Status, parse_status

Key = tuple[str, int]
"""A task on a route: (task id, route)."""


def key_text(key: Key) -> str:
    """orquesta's ``<task>__r<route>``."""
    return f"{key[0]}__r{key[1]}"


def parse_key(text: str) -> Key:
    task_id, route = text.rsplit("__r", 1)
    return task_id, int(route)


@dataclass(slots=True, eq=False)
class TaskRecord:
    """One task execution."""

    id: str
    route: int
    chain: int
    """Chain node of the contexts the task sees (an index into ``chains``)."""
    prev: int
    """Prev map: the executions that led here."""
    status: Status | None = None
    next: dict[str, bool] = field(default_factory=dict)
    """Outcome of each outbound transition (``<target>__t<key>``) once the task completed."""
    term: bool = False
    """A terminal task: its context feeds the workflow output."""
    retry: dict[str, Any] | None = None
    """``{when, count, delay, tally}``, counts and delays evaluated."""
    items: int | None = None
    """Item set of a with-items execution."""
    index: int = -1
    """Position in the sequence (not stored: it is the part key)."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "route": self.route,
            "chain": self.chain,
            "prev": self.prev,
            "status": self.status,
            "next": self.next,
        }
        if self.term:
            data["term"] = True
        if self.retry is not None:
            data["retry"] = self.retry
        if self.items is not None:
            data["items"] = self.items
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskRecord:
        return cls(
            data["id"],
            data["route"],
            data["chain"],
            data["prev"],
            parse_status(data.get("status")),
            dict(data.get("next", {})),
            bool(data.get("term", False)),
            data.get("retry"),
            data.get("items"),
        )


@dataclass(slots=True, eq=False)
class StagedRecord:
    """A task known to the workflow and not (or not wholly) started."""

    id: str
    route: int
    chain: int
    prev: int
    ready: bool
    order: int
    """Staging order (orquesta keeps staged tasks in a list)."""
    items: int | None = None
    """Item set, allocated when the task is first handed out."""
    completed: bool = False
    """A failed with-items task kept for a rerun of its failed items."""
    retry: dict[str, Any] | None = None
    run_on_fail: bool = False
    """Staged with a ``fail`` command: handed out even though the workflow failed."""

    @property
    def key(self) -> Key:
        return self.id, self.route

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "route": self.route,
            "chain": self.chain,
            "prev": self.prev,
            "ready": self.ready,
            "order": self.order,
        }
        if self.items is not None:
            data["items"] = self.items
        if self.completed:
            data["completed"] = True
        if self.retry is not None:
            data["retry"] = self.retry
        if self.run_on_fail:
            data["run_on_fail"] = True
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StagedRecord:
        return cls(
            data["id"],
            data["route"],
            data["chain"],
            data["prev"],
            bool(data["ready"]),
            data["order"],
            data.get("items"),
            bool(data.get("completed", False)),
            data.get("retry"),
            bool(data.get("run_on_fail", False)),
        )


@dataclass(slots=True, eq=False)
class ItemSet:
    """The items of a with-items task: a status and a result slot each."""

    count: int
    statuses: list[Status | None]
    results: list[Any]
    tally: Counter[Status | None]
    cursor: int = 0
    """No item before this one is unstarted (not stored: a hint for finding the next)."""

    @classmethod
    def empty(cls, count: int) -> ItemSet:
        return cls(count, [None] * count, [None] * count, Counter({None: count}))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ItemSet:
        """From ``{count, items: {index: {status, result}}}`` (items left out are unset)."""
        count = data["count"]
        statuses: list[Status | None] = [None] * count
        results: list[Any] = [None] * count
        for index, item in data["items"].items():
            statuses[int(index)] = parse_status(item.get("status"))
            results[int(index)] = item.get("result")
        return cls(count, statuses, results, Counter(statuses))

    def to_json(self) -> dict[str, Any]:
        """What :meth:`from_json` reads: the items that have a status or a result."""
        return {
            "count": self.count,
            "items": {
                str(i): {"status": self.statuses[i], "result": self.results[i]}
                for i in range(self.count)
                if self.statuses[i] is not None or self.results[i] is not None
            },
        }

    def active(self) -> int:
        return sum(self.tally[status] for status in ACTIVE)

    def not_started(self, wanted: int) -> list[int]:
        """The first ``wanted`` items that never started, in order."""
        chosen: list[int] = []
        index = self.cursor
        statuses = self.statuses
        while index < self.count and len(chosen) < wanted:
            if statuses[index] is None:
                if not chosen:
                    self.cursor = index
                chosen.append(index)
            index += 1
        if not chosen:
            self.cursor = index
        return chosen


def plain(value: Any) -> Any:
    """``value`` as JSON data (tuples become lists), copied, so that the state stores only what
    survives a JSON round trip and never shares objects with the caller."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {_plain_key(k): plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {_plain_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    return json.loads(json.dumps(value, default=str))


def _plain_key(key: Any) -> str:
    """A dict key as JSON writes it (``1`` -> ``"1"``, ``True`` -> ``"true"``)."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return str(key)


class ExecutionView(NamedTuple):
    """One task execution as a tree view shows it."""

    task_id: str
    route: int
    status: Status | None
    items: tuple[Status | None, ...] | None
    """Status of each item of a with-items execution; None for other tasks."""
