"""``core.st2.generic.actiontrigger`` and ``notifytrigger``: trigger instances for finished
executions, as StackStorm's notifier emits them; and ``core.st2.generic.inquiry`` when an
inquiry starts waiting.

They are read from the execution log (every status change is a row there, written in the
transaction that made it) with a cursor that advances in the same transaction that stores the
trigger instances: a crash loses none and emits none twice, and finishing an execution costs
nothing more when no rule listens. Only then are instances stored: an actiontrigger nobody
can match would be a second row for every execution (StackStorm stores it anyway).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from packhorse.crypto.cipher import is_encrypted_token
from packhorse.engine.clock import ISO, iso_now
from packhorse.engine.events import EventService
from packhorse.engine.ids import new_id
from packhorse.engine.waiting import nap, set_from_any_thread
from packhorse.errors import PackhorseError
from packhorse.expr import render_value
from packhorse.model.content import Kind
from packhorse.model.events import TriggerInstance
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.params.masking import MASK
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.ports import RegistryReader

ACTION_TRIGGER = "core.st2.generic.actiontrigger"
NOTIFY_TRIGGER = "core.st2.generic.notifytrigger"
INQUIRY_TRIGGER = "core.st2.generic.inquiry"
CURSOR = "execution-triggers"
_FAILED = frozenset({Status.FAILED, Status.TIMEOUT, Status.ABANDONED})

log = logging.getLogger(__name__)

NotifyContext = Callable[[Execution], Mapping[str, Any]]
"""Extra names for rendering a notify message (``st2kv``)."""


class ExecutionTriggers:
    def __init__(
        self,
        events: EventService,
        executions: SqlExecutionStore,
        registry: RegistryReader,
        *,
        clock: Callable[[], str] = iso_now,
        notify_context: NotifyContext | None = None,
        batch: int = 500,
        interval: float = 0.25,
        coalesce: float = 0.1,
    ) -> None:
        self._events = events
        self._executions = executions
        self._registry = registry
        self._clock = clock
        self._notify_context = notify_context
        self._batch = batch
        self._interval = interval
        self._coalesce = coalesce
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """A status change was stored. Callable from any thread; nearly free when a wake-up
        is pending already (every status change on the site calls it, in every process)."""
        if not self._wake.is_set():
            set_from_any_thread(self._wake, self._loop)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            self._wake.clear()  # before the pass: a wake-up during it calls for another
            try:
                while await asyncio.to_thread(self.pass_once) == self._batch:
                    pass
            except PackhorseError as error:
                log.warning("execution triggers: %s", error.message)
            # A pass per wake-up was a pass per status change in every process of the site
            # (each hears every NOTIFY): three transactions, most finding nothing new. Wake-ups
            # that come within ``coalesce`` seconds of a pass are answered by one next pass.
            await nap(self._coalesce, stop)
            await nap(self._interval, stop, self._wake)

    def pass_once(self) -> int:
        """Read one batch of the log; returns how many completions it read."""
        store = self._events.store
        old = store.cursor(CURSOR)
        if old is None:
            # First start: what finished before it is history, not news.
            _, end = store.completions_since(0, [], limit=1)
            store.advance(CURSOR, None, end, [])
            return 0
        statuses = [status.value for status in (*COMPLETED, Status.PENDING)]
        rows, new = store.completions_since(old, statuses, limit=self._batch)
        listened = self._events.index().listened
        instances: list[TriggerInstance] = []
        if rows and listened & {ACTION_TRIGGER, NOTIFY_TRIGGER, INQUIRY_TRIGGER}:
            found = self._executions.get_many(execution_id for _, execution_id, _ in rows)
            for _, execution_id, status in rows:
                execution = found.get(execution_id)
                if execution is None:
                    continue  # collected already
                if status == Status.PENDING.value:
                    if INQUIRY_TRIGGER in listened and execution.runner_type == "inquirer":
                        route = str(execution.parameters.get("route") or "")
                        inquiry = {"id": execution.id, "route": route}
                        instances.append(self._instance(INQUIRY_TRIGGER, inquiry))
                    continue
                if ACTION_TRIGGER in listened:
                    instances.append(self._instance(ACTION_TRIGGER, action_payload(execution)))
                if NOTIFY_TRIGGER in listened:
                    instances.extend(
                        self._instance(NOTIFY_TRIGGER, payload)
                        for payload in self._notify_payloads(execution)
                    )
        if new != old and store.advance(CURSOR, old, new, instances):
            for instance in instances:
                if self._events.on_recorded is not None:
                    self._events.on_recorded(instance)
        return len(rows)

    def _instance(self, trigger: str, payload: Mapping[str, Any]) -> TriggerInstance:
        now = self._clock()
        return TriggerInstance(
            id=new_id(),
            trigger=trigger,
            trigger_type=trigger,
            payload=dict(payload),
            occurrence_time=now,
            source="execution",
            created_at=now,
        )

    def _notify_payloads(self, execution: Execution) -> list[dict[str, Any]]:
        action = self._registry.get_resource(Kind.ACTION, execution.action_ref)
        notify = action.body.get("notify") if action is not None else None
        if not isinstance(notify, Mapping):
            return []
        sections = [("on-complete", "completed.")]
        if execution.status is Status.SUCCEEDED:
            sections.append(("on-success", "succeeded."))
        if execution.status in _FAILED:
            sections.append(("on-failure", "failed."))
        payloads = []
        for key, suffix in sections:
            section = notify.get(key) or notify.get(key.replace("-", "_"))
            if isinstance(section, Mapping):
                payloads.extend(self._section_payloads(execution, section, suffix))
        return payloads

    def _section_payloads(
        self, execution: Execution, section: Mapping[str, Any], suffix: str
    ) -> list[dict[str, Any]]:
        routes = section.get("routes") or section.get("channels") or []
        if not routes:
            return []
        context = {
            "action_parameters": masked(execution.parameters),
            "action_context": execution.context,
            "action_results": execution.result,
            **(self._notify_context(execution) if self._notify_context else {}),
        }
        message = section.get("message") or f"Action {execution.action_ref} {suffix}"
        data = dict(section.get("data") or {})
        try:
            message = render_value(message, context, strict=False)
        except PackhorseError as error:
            log.warning("notify message of %s did not render: %s", execution.id, error.message)
        try:
            data = render_value(data, context, strict=False)
        except PackhorseError as error:
            log.warning("notify data of %s did not render: %s", execution.id, error.message)
        import json

        data = {**data, "result": json.dumps(execution.result)}
        base = {
            "message": message,
            "data": data,
            "execution_id": execution.id,
            "status": execution.status.value,
            "start_timestamp": execution.start_timestamp,
            "end_timestamp": execution.end_timestamp or self._clock(),
            "action_ref": execution.action_ref,
            "runner_ref": execution.runner_type,
        }
        return [{**base, "route": route, "channel": route} for route in routes]


def action_payload(execution: Execution) -> dict[str, Any]:
    """The actiontrigger payload, StackStorm's fields and formats (``start_timestamp`` is
    Python's ``str`` of the time there, and so it is here)."""
    return {
        "execution_id": execution.id,
        "status": execution.status.value,
        "start_timestamp": _str_time(execution.start_timestamp),
        "action_name": execution.action_ref,
        "action_ref": execution.action_ref,
        "runner_ref": execution.runner_type,
        "parameters": masked(execution.parameters),
        "result": execution.result,
    }


def masked(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Secret parameters are stored encrypted; they leave masked."""
    return {
        name: MASK if isinstance(value, str) and is_encrypted_token(value) else value
        for name, value in parameters.items()
    }


def _str_time(timestamp: str | None) -> str:
    if not timestamp:
        return "None"
    moment = dt.datetime.strptime(timestamp, ISO).replace(tzinfo=dt.UTC)
    return str(moment)
