"""Where commands get their data: the local instance folder, or a remote Packhorse (--url).

Each function answers an object with the methods (and values) of the local service a command
used before; under ``--url`` it is the API client's counterpart from
:mod:`packhorse.client.remote`. The commands print what they get the same way either way.
Nothing here imports httpx, or the engine, until a command asks.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from packhorse.cli.main import CliContext

if TYPE_CHECKING:
    from packhorse.engine.auth import AuthService
    from packhorse.engine.events import EventService
    from packhorse.engine.inquiries import Inquiry
    from packhorse.engine.runtime import Runtime
    from packhorse.model.auth import ApiKeyRecord
    from packhorse.model.content import Kind, RegisteredPack, Resource
    from packhorse.model.datastore import KeyValue, Scope
    from packhorse.model.events import Enforcement, SensorStatus, TriggerInstance
    from packhorse.model.execution import Execution
    from packhorse.storage.events import EnforcementFilter, InstanceFilter
    from packhorse.storage.executions import ExecutionFilter


class Executions(Protocol):
    """Run, read and steer executions."""

    def action(self, ref: str) -> Resource: ...
    def request(
        self, action_ref: str, parameters: Mapping[str, Any], *, user: str | None
    ) -> Execution: ...
    def wait(self, execution_id: str) -> Execution:
        """The execution once it has ended."""
        ...

    def get(self, execution_id: str) -> Execution: ...
    def list(self, query: ExecutionFilter) -> list[Execution]: ...
    def tree(self, execution: Execution) -> builtins.list[dict[str, Any]] | None:
        """A workflow's tasks with the executions they ran; None for other runners."""
        ...

    def output_since(self, execution_id: str, after: int) -> builtins.list[tuple[int, str]]:
        """Output stored after the position ``after``: (position, text) pairs in order."""
        ...

    def cancel(self, execution_id: str) -> Execution: ...
    def pause(self, execution_id: str) -> Execution: ...
    def resume(self, execution_id: str) -> Execution: ...
    def re_run(
        self,
        execution_id: str,
        *,
        user: str | None,
        overrides: Mapping[str, Any],
        tasks: Sequence[str] = (),
        no_reset: Sequence[str] = (),
    ) -> Execution: ...


class Content(Protocol):
    """Registered packs and content (the read side of the registry)."""

    def list_packs(self) -> list[RegisteredPack]: ...
    def get_pack(self, ref: str) -> RegisteredPack | None: ...
    def list_resources(self, kind: Kind, pack: str | None = None) -> list[Resource]: ...
    def get_resource(self, kind: Kind, ref: str) -> Resource | None: ...


class RuleStates(Protocol):
    def set_enabled(self, kind: Kind, ref: str, enabled: bool) -> bool:
        """Enable or disable one resource; False when it is not registered."""
        ...


class Keys(Protocol):
    """The datastore, with :class:`~packhorse.engine.datastore.DatastoreService`'s methods."""

    def set_value(
        self,
        name: str,
        value: str,
        *,
        scope: Scope = ...,
        user: str = "",
        secret: bool = False,
        ttl: int | None = None,
        description: str = "",
    ) -> KeyValue: ...
    def get_value(
        self, name: str, *, scope: Scope = ..., user: str = "", decrypt: bool = False
    ) -> KeyValue: ...
    def list_values(
        self,
        *,
        scope: Scope | None = ...,
        user: str | None = None,
        prefix: str | None = None,
        decrypt: bool = False,
    ) -> list[KeyValue]: ...
    def delete_value(self, name: str, *, scope: Scope = ..., user: str = "") -> None: ...


class Inquiries(Protocol):
    def list(self, *, limit: int = 100) -> list[Inquiry]: ...
    def get(self, inquiry_id: str) -> Inquiry: ...
    def respond(self, inquiry_id: str, response: Any, *, user: str | None) -> Inquiry: ...


class Events(Protocol):
    """Trigger instances and rule enforcements."""

    def find(self, query: InstanceFilter) -> list[TriggerInstance]: ...
    def get(self, instance_id: str) -> TriggerInstance | None: ...
    def re_emit(self, instance: TriggerInstance) -> TriggerInstance:
        """Fire the same trigger again with the same payload: the new instance."""
        ...

    def enforcements(self, query: EnforcementFilter) -> list[Enforcement]: ...
    def get_enforcement(self, enforcement_id: str) -> Enforcement | None: ...


class ApiKeys(Protocol):
    """API keys (``St2-Api-Key``); a key acts as its user."""

    def create(self, owner: str | None) -> tuple[ApiKeyRecord, str]:
        """A new key for ``owner`` (None: locally admin, remotely the signed-in user), and
        the key itself (shown once)."""
        ...

    def list(self) -> builtins.list[ApiKeyRecord]: ...
    def delete(self, key_id: str) -> bool:
        """False when there is no such key."""
        ...


def executions(cli: CliContext) -> Executions:
    if cli.url:
        from packhorse.client.remote import RemoteExecutions

        return RemoteExecutions(cli.api())
    from packhorse.engine.runtime import build_runtime

    return LocalExecutions(build_runtime(cli.settings, slots=1))


def content(cli: CliContext) -> Content:
    if cli.url:
        from packhorse.client.remote import RemoteRegistry

        return RemoteRegistry(cli.api())
    from packhorse.bootstrap import registry_reader

    return registry_reader(cli.settings)


def rule_states(cli: CliContext) -> RuleStates:
    if cli.url:
        from packhorse.client.remote import RemoteRegistry

        return RemoteRegistry(cli.api())
    from packhorse.bootstrap import content_registry

    return content_registry(cli.settings)


def sensor_statuses(cli: CliContext) -> list[SensorStatus]:
    if cli.url:
        from packhorse.client.remote import RemoteRegistry

        return RemoteRegistry(cli.api()).sensor_statuses()
    from packhorse import bootstrap

    return list(bootstrap.sensor_statuses(cli.settings))


def keys(cli: CliContext) -> Keys:
    if cli.url:
        from packhorse.client.remote import RemoteDatastore

        return RemoteDatastore(cli.api())
    from packhorse.bootstrap import datastore_service

    return datastore_service(cli.settings)


def inquiries(cli: CliContext) -> Inquiries:
    if cli.url:
        from packhorse.client.remote import RemoteInquiries

        return RemoteInquiries(cli.api())
    from packhorse.engine.runtime import build_runtime

    return LocalInquiries(build_runtime(cli.settings, slots=1))


def events(cli: CliContext) -> Events:
    if cli.url:
        from packhorse.client.remote import RemoteEvents

        return RemoteEvents(cli.api())
    from packhorse import bootstrap

    return LocalEvents(bootstrap.event_service(cli.settings))


def api_keys(cli: CliContext) -> ApiKeys:
    if cli.url:
        from packhorse.client.remote import RemoteApiKeys

        return RemoteApiKeys(cli.api())
    from packhorse.bootstrap import auth_service

    return LocalApiKeys(auth_service(cli.settings))


class LocalExecutions:
    """The instance's execution service; ``wait`` runs the execution in this process (or a
    running ``packhorse up`` takes it first)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        service = runtime.executions
        self.action, self.get, self.list = service.action, service.get, service.list
        self.cancel, self.pause, self.resume = service.cancel, service.pause, service.resume

    def request(
        self, action_ref: str, parameters: Mapping[str, Any], *, user: str | None
    ) -> Execution:
        return self.runtime.executions.request(action_ref, parameters, user=user or "admin")

    def wait(self, execution_id: str) -> Execution:
        return asyncio.run(self.runtime.run_and_close(execution_id))

    def output_since(self, execution_id: str, after: int) -> list[tuple[int, str]]:
        chunks = self.runtime.store.output_since(execution_id, after)
        return [(chunk_id, text) for chunk_id, _stream, text in chunks]

    def tree(self, execution: Execution) -> builtins.list[dict[str, Any]] | None:
        workflows = self.runtime.workflows
        return workflows.tree(execution) if workflows.drives(execution.runner_type) else None

    def re_run(
        self,
        execution_id: str,
        *,
        user: str | None,
        overrides: Mapping[str, Any],
        tasks: Sequence[str] = (),
        no_reset: Sequence[str] = (),
    ) -> Execution:
        return self.runtime.executions.re_run(
            execution_id, user=user or "admin", overrides=overrides, tasks=tasks, no_reset=no_reset
        )


class LocalInquiries:
    def __init__(self, runtime: Runtime) -> None:
        service = runtime.inquiries
        self.list, self.get, self._respond = service.list, service.get, service.respond
        self._settings = runtime.settings

    def respond(self, inquiry_id: str, response: Any, *, user: str | None) -> Inquiry:
        from packhorse.bootstrap import user_store

        # The inquiry's roles are checked against the role the instance stores for the user.
        name = user or "admin"
        role = user_store(self._settings).get_role(name)
        return self._respond(inquiry_id, response, user=name, role=role)


class LocalEvents:
    def __init__(self, service: EventService) -> None:
        self.service = service
        store = service.store
        self.find, self.get = store.find, store.get
        self.enforcements, self.get_enforcement = store.enforcements, store.get_enforcement

    def re_emit(self, instance: TriggerInstance) -> TriggerInstance:
        return self.service.emit(
            instance.trigger,
            instance.payload,
            source=f"re-emit:{instance.id}",
            trace_tag=instance.trace_tag,
        )


class LocalApiKeys:
    def __init__(self, auth: AuthService) -> None:
        self.auth = auth

    def create(self, owner: str | None) -> tuple[ApiKeyRecord, str]:
        issued = self.auth.create_api_key(owner or "admin")
        return issued.record, issued.key

    def list(self) -> list[ApiKeyRecord]:
        return self.auth.store.list_api_keys()

    def delete(self, key_id: str) -> bool:
        return self.auth.store.delete_api_key(key_id)
