"""The remote counterparts of the local services the CLI reads and changes.

Each class answers with the same values, under the same method names, as the local service
a command used before (``ExecutionService``, the registry reader, ``DatastoreService``,
``InquiryService``, the event store), so that a command prints the same either way. What the
API decides differently is said where it happens (who a run is recorded for, whose keys
``--scope all`` lists).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from packhorse.client import documents
from packhorse.client.http import ApiClient, segment
from packhorse.engine.inquiries import Inquiry
from packhorse.errors import ConfigurationError, Conflict, RemoteError
from packhorse.model.auth import ApiKeyRecord
from packhorse.model.content import Kind, RegisteredPack, Resource
from packhorse.model.datastore import KeyValue, Scope
from packhorse.model.events import Enforcement, SensorStatus, TriggerInstance
from packhorse.model.execution import Execution, Status
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.storage.events import EnforcementFilter, InstanceFilter
from packhorse.storage.executions import ExecutionFilter

API = "/api/v1"
PAGE = 1000
"""The largest page the API answers (``limit=-1`` asks for it)."""

T = TypeVar("T")
_WAITING = frozenset({Status.PENDING, Status.PAUSED})


def _unexpected(api: ApiClient, problem: str) -> RemoteError:
    return RemoteError(
        f"{api.url} answered something this client does not understand: {problem}",
        status=None,
        url=api.url,
        hint="is it a Packhorse (or StackStorm) API of a compatible version?",
    )


def _shaped(api: ApiClient, convert: Callable[[Any], T], document: Any) -> T:
    """``convert(document)``, or a :class:`RemoteError` saying the answer did not fit."""
    try:
        return convert(document)
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise _unexpected(api, repr(error)) from error


def _pages(api: ApiClient, path: str, **params: Any) -> Iterator[Any]:
    """Every document of a listing, page after page."""
    offset = 0
    while True:
        found = api.get(path, limit=PAGE, offset=offset, **params)
        if not isinstance(found, list):
            raise _unexpected(api, f"{path} is not a list")
        yield from found
        if len(found) < PAGE:
            return
        offset += len(found)


class RemoteExecutions:
    """Executions over ``/api/v1/executions``. ``sleep`` paces :meth:`wait` (tests pass a
    fake)."""

    def __init__(self, api: ApiClient, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.api = api
        self._sleep = sleep

    def _execution(self, document: Any) -> Execution:
        return _shaped(self.api, documents.execution, document)

    def action(self, ref: str) -> Resource:
        document = self.api.get(f"{API}/actions/{segment(ref)}")
        return _shaped(self.api, lambda d: documents.resource(Kind.ACTION, d), document)

    def request(
        self, action_ref: str, parameters: Mapping[str, Any], *, user: str | None
    ) -> Execution:
        """Run ``action_ref``. The server records the signed-in user; ``user`` asks for
        another (admins only)."""
        body: dict[str, Any] = {"action": action_ref, "parameters": dict(parameters)}
        if user:
            body["user"] = user
        return self._execution(self.api.post(f"{API}/executions", body))

    def wait(self, execution_id: str) -> Execution:
        """Poll until the execution has ended, or waits on someone (an inquiry ``pending``, a
        workflow ``paused``), as a local run returns: the server's workers run it."""
        pause = 0.1
        while True:
            found = self.get(execution_id)
            if found.completed or found.status in _WAITING:
                return found
            self._sleep(pause)
            pause = min(pause * 1.5, 1.0)

    def get(self, execution_id: str) -> Execution:
        return self._execution(self.api.get(f"{API}/executions/{segment(execution_id)}"))

    def list(self, query: ExecutionFilter) -> list[Execution]:
        params: dict[str, Any] = {
            "action": query.action_ref,
            "status": ",".join(s.value for s in query.statuses) or None,
            "parent": query.parent_id or ("null" if query.top_level else None),
            "user": query.user,
            "timestamp_gt": query.created_after,
            "timestamp_lt": query.created_before,
            "limit": query.limit,
            "offset": query.offset,
        }
        if query.oldest_first:
            params["sort_asc"] = "true"
        found = self.api.get(f"{API}/executions", **params)
        return [self._execution(document) for document in found or []]

    def tree(self, execution: Execution) -> builtins.list[dict[str, Any]] | None:
        """A workflow's task executions grouped by task (as ``WorkflowShell.tree``, without
        the tasks that ran nothing: the API does not show the conductor's state)."""
        runner = RUNNER_TYPES.get(execution.runner_type)
        if runner is None or not runner.workflow:
            return None
        found = self.api.get(f"{API}/executions/{segment(execution.id)}/children", depth=-1)
        children = [self._execution(document) for document in found or []]
        by_parent: dict[str, list[Execution]] = {}
        for child in children:
            by_parent.setdefault(child.parent_id or "", []).append(child)
        return _tasks(execution.id, by_parent)

    def output_since(self, execution_id: str, after: int) -> builtins.list[tuple[int, str]]:
        """The output after character ``after`` (the API answers all of it each time)."""
        text = self.api.get(f"{API}/executions/{segment(execution_id)}/output") or ""
        if not isinstance(text, str):
            raise _unexpected(self.api, "the output is not text")
        return [(len(text), text[after:])] if len(text) > after else []

    def cancel(self, execution_id: str) -> Execution:
        """Cancel; an execution that has ended is refused as locally (the API answers a
        canceled one as it is, and the others with a 200 fault)."""
        found = self.get(execution_id)
        if found.completed:
            raise Conflict(
                f"execution {execution_id} is already {found.status.value}; nothing to cancel"
            )
        return self._execution(self.api.delete(f"{API}/executions/{segment(execution_id)}"))

    def pause(self, execution_id: str) -> Execution:
        path = f"{API}/executions/{segment(execution_id)}"
        return self._execution(self.api.put(path, {"status": "pausing"}))

    def resume(self, execution_id: str) -> Execution:
        path = f"{API}/executions/{segment(execution_id)}"
        return self._execution(self.api.put(path, {"status": "resuming"}))

    def re_run(
        self,
        execution_id: str,
        *,
        user: str | None,
        overrides: Mapping[str, Any],
        tasks: Sequence[str] = (),
        no_reset: Sequence[str] = (),
    ) -> Execution:
        body: dict[str, Any] = {
            "parameters": dict(overrides),
            "tasks": list(tasks),
            "reset": [task for task in tasks if task not in set(no_reset)],
        }
        if user:
            body["user"] = user
        path = f"{API}/executions/{segment(execution_id)}/re_run"
        return self._execution(self.api.post(path, body))


def _tasks(parent_id: str, by_parent: Mapping[str, list[Execution]]) -> list[dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = {}
    for child in by_parent.get(parent_id, []):
        key = child.context.get("workflow_key") or {}
        label = (
            f"node:{key['node']}" if "node" in key else repr((key.get("task_id"), key.get("route")))
        )
        node = nodes.setdefault(
            label,
            {"task_id": key.get("task_id"), "node": key.get("node"), "route": key.get("route")}
            | {"status": child.status.value, "executions": []},
        )
        run: dict[str, Any] = {"id": child.id, "action": child.action_ref}
        run["status"] = child.status.value
        if key.get("item") is not None:
            run["item"] = key["item"]
        if by_parent.get(child.id):
            run["tasks"] = _tasks(child.id, by_parent)
        node["executions"].append(run)
    return list(nodes.values())


#: Where the API lists each kind of registered content.
_KIND_PATHS = {
    Kind.ACTION: "actions",
    Kind.RULE: "rules",
    Kind.TRIGGER_TYPE: "triggertypes",
    Kind.SENSOR: "sensortypes",
}


class RemoteRegistry:
    """Registered packs and content over ``/api/v1/packs``, ``/actions``, ``/rules``,
    ``/triggertypes`` and ``/sensortypes``; rules enabled and disabled with ``PUT``."""

    kinds = tuple(_KIND_PATHS)
    """The kinds the API lists (aliases, policies and configs are not served)."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def _path(self, kind: Kind) -> str:
        if kind not in _KIND_PATHS:
            raise ConfigurationError(
                f"the API does not serve {kind.value}s",
                hint="run the command on the server, without --url",
            )
        return f"{API}/{_KIND_PATHS[kind]}"

    def list_packs(self) -> list[RegisteredPack]:
        return [_shaped(self.api, documents.pack, d) for d in _pages(self.api, f"{API}/packs")]

    def get_pack(self, ref: str) -> RegisteredPack | None:
        found = self.api.get_or_none(f"{API}/packs/{segment(ref)}")
        return None if found is None else _shaped(self.api, documents.pack, found)

    def list_resources(self, kind: Kind, pack: str | None = None) -> list[Resource]:
        convert: Callable[[Any], Resource] = lambda d: documents.resource(kind, d)  # noqa: E731
        found = _pages(self.api, self._path(kind), pack=pack)
        return sorted((_shaped(self.api, convert, d) for d in found), key=lambda r: r.ref)

    def get_resource(self, kind: Kind, ref: str) -> Resource | None:
        found = self.api.get_or_none(f"{self._path(kind)}/{segment(ref)}")
        if found is None:
            return None
        return _shaped(self.api, lambda d: documents.resource(kind, d), found)

    def sensor_statuses(self) -> list[SensorStatus]:
        found = _pages(self.api, self._path(Kind.SENSOR))
        statuses = (_shaped(self.api, documents.sensor_status, d) for d in found)
        return [status for status in statuses if status is not None]

    def set_enabled(self, kind: Kind, ref: str, enabled: bool) -> bool:
        """Enable or disable a rule (the only kind the API changes); False when unknown."""
        if kind is not Kind.RULE:
            raise ConfigurationError(f"the API enables and disables rules only, not {kind}s")
        try:
            self.api.put(f"{API}/rules/{segment(ref)}", {"enabled": enabled})
        except RemoteError as error:
            if error.status == 404:
                return False
            raise
        return True


class RemoteDatastore:
    """The datastore over ``/api/v1/keys``. Without ``user``, user-scoped keys are the
    signed-in user's; ``list_values(scope=None)`` lists the system keys and those."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def _pair(self, record: Any) -> KeyValue:
        return _shaped(self.api, documents.key_value, record)

    def set_value(
        self,
        name: str,
        value: str,
        *,
        scope: Scope = Scope.SYSTEM,
        user: str = "",
        secret: bool = False,
        ttl: int | None = None,
        description: str = "",
    ) -> KeyValue:
        body: dict[str, Any] = {"name": name, "value": value, "scope": scope.full}
        body |= {"secret": secret, "description": description}
        if user:
            body["user"] = user
        if ttl is not None:
            body["ttl"] = ttl
        return self._pair(self.api.put(f"{API}/keys/{segment(name)}", body))

    def get_value(
        self, name: str, *, scope: Scope = Scope.SYSTEM, user: str = "", decrypt: bool = False
    ) -> KeyValue:
        path = f"{API}/keys/{segment(name)}"
        return self._pair(self.api.get(path, scope=scope.full, user=user or None, decrypt=decrypt))

    def list_values(
        self,
        *,
        scope: Scope | None = Scope.SYSTEM,
        user: str | None = None,
        prefix: str | None = None,
        decrypt: bool = False,
    ) -> list[KeyValue]:
        found = self.api.get(
            f"{API}/keys",
            scope="all" if scope is None else scope.full,
            user=user or None,
            prefix=prefix,
            decrypt=decrypt,
        )
        return [self._pair(record) for record in found or []]

    def delete_value(self, name: str, *, scope: Scope = Scope.SYSTEM, user: str = "") -> None:
        self.api.delete(f"{API}/keys/{segment(name)}", scope=scope.full, user=user or None)


class RemoteInquiries:
    """Inquiries over ``/api/v1/inquiries``; answers are recorded for the signed-in user."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def list(self, *, limit: int = 100) -> list[Inquiry]:
        found = self.api.get(f"{API}/inquiries", limit=limit)
        return [_shaped(self.api, documents.inquiry, record) for record in found or []]

    def get(self, inquiry_id: str) -> Inquiry:
        found = self.api.get(f"{API}/inquiries/{segment(inquiry_id)}")
        return _shaped(self.api, documents.inquiry, found)

    def respond(self, inquiry_id: str, response: Any, *, user: str | None) -> Inquiry:
        path = f"{API}/inquiries/{segment(inquiry_id)}"
        self.api.put(path, {"id": inquiry_id, "response": response})
        return self.get(inquiry_id)


class RemoteEvents:
    """Trigger instances and rule enforcements over ``/api/v1/triggerinstances`` and
    ``/api/v1/ruleenforcements``."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def find(self, query: InstanceFilter) -> list[TriggerInstance]:
        if len(query.statuses) > 1:
            raise ConfigurationError("over the API, give --status once (one status at a time)")
        found = self.api.get(
            f"{API}/triggerinstances",
            trigger=query.trigger,
            trigger_type=query.trigger_type,
            status=query.statuses[0].value if query.statuses else None,
            timestamp_gt=query.since,
            timestamp_lt=query.until,
            limit=query.limit,
            offset=query.offset,
        )
        return [_shaped(self.api, documents.trigger_instance, r) for r in found or []]

    def get(self, instance_id: str) -> TriggerInstance | None:
        found = self.api.get_or_none(f"{API}/triggerinstances/{segment(instance_id)}")
        return None if found is None else _shaped(self.api, documents.trigger_instance, found)

    def re_emit(self, instance: TriggerInstance) -> TriggerInstance:
        answer = self.api.post(f"{API}/triggerinstances/{segment(instance.id)}/re_emit")
        new_id = _shaped(self.api, lambda a: str(a["id"]), answer)
        found = self.get(new_id)
        if found is None:
            raise RemoteError(
                f"trigger instance {new_id} was emitted but cannot be read back",
                status=404,
                url=self.api.url,
            )
        return found

    def enforcements(self, query: EnforcementFilter) -> list[Enforcement]:
        found = self.api.get(
            f"{API}/ruleenforcements",
            rule_ref=query.rule,
            trigger_instance=query.trigger_instance_id,
            execution=query.execution_id,
            limit=query.limit,
            offset=query.offset,
        )
        return [_shaped(self.api, documents.enforcement, r) for r in found or []]

    def get_enforcement(self, enforcement_id: str) -> Enforcement | None:
        found = self.api.get_or_none(f"{API}/ruleenforcements/{segment(enforcement_id)}")
        return None if found is None else _shaped(self.api, documents.enforcement, found)


class RemoteApiKeys:
    """API keys over ``/api/v1/apikeys``: a user's own keys, every key for an admin."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def create(self, owner: str | None) -> tuple[ApiKeyRecord, str]:
        """A new key for ``owner`` (default: the signed-in user) and the key itself."""
        answer = self.api.post(f"{API}/apikeys", {"user": owner} if owner else {})
        record = _shaped(self.api, documents.api_key, answer)
        return record, _shaped(self.api, lambda a: str(a["key"]), answer)

    def list(self) -> builtins.list[ApiKeyRecord]:
        found = self.api.get(f"{API}/apikeys")
        return [_shaped(self.api, documents.api_key, record) for record in found or []]

    def delete(self, key_id: str) -> bool:
        try:
            self.api.delete(f"{API}/apikeys/{segment(key_id)}")
        except RemoteError as error:
            if error.status == 404:
                return False
            raise
        return True
