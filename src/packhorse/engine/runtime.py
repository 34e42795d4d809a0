"""The execution runtime of one process: the service, a worker and what they need, wired
from settings. ``packhorse up`` runs the worker for as long as it serves; ``packhorse run``
builds one to run a single execution in-process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packhorse import bootstrap
from packhorse.engine.cache import ActionSchemas
from packhorse.engine.datastore import DatastoreService
from packhorse.engine.events import EventService
from packhorse.engine.execution_triggers import ExecutionTriggers
from packhorse.engine.executions import ExecutionService
from packhorse.engine.heap import start_up_frozen
from packhorse.engine.inquiries import InquiryService
from packhorse.engine.preparation import Preparer
from packhorse.engine.rule_engine import RuleEngine
from packhorse.engine.scheduling import PolicyBook, Scheduler
from packhorse.engine.worker import Worker, WorkerSettings, recover
from packhorse.engine.workflows import WorkflowShell
from packhorse.errors import NotFound, PackhorseError
from packhorse.model.content import Kind, Resource
from packhorse.model.execution import Execution, Status
from packhorse.model.workflow import WorkflowDriver
from packhorse.settings import Settings
from packhorse.storage.events import SqlEventStore
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.workflows import SqlWorkflowStore

log = logging.getLogger(__name__)

#: Statuses that wait for a person (an inquiry, a paused workflow): ``packhorse run`` returns.
_WAITING = frozenset({Status.PENDING, Status.PAUSED})


@dataclass
class Runtime:
    settings: Settings
    store: SqlExecutionStore
    executions: ExecutionService
    datastore: DatastoreService
    worker: Worker
    workflows: WorkflowShell
    inquiries: InquiryService
    events: EventService
    rules: RuleEngine
    execution_triggers: ExecutionTriggers
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Called at shutdown (warm python hosts)."""

    async def aclose(self) -> None:
        for close in self.closers:
            await close()

    def recover(self) -> list[Execution]:
        """Settle what a previous process left behind (run at start-up)."""
        scheduler = self.worker.scheduler
        retry_for = scheduler.retry_for if scheduler is not None else None
        return recover(self.store, now=self.worker._now(), retry_for=retry_for)

    async def run_and_close(self, execution_id: str) -> Execution:
        """:meth:`run_one`, then stop what the runners started (``packhorse run``)."""
        try:
            return await self.run_one(execution_id)
        finally:
            await self.aclose()

    async def run_one(self, execution_id: str) -> Execution:
        """Run one execution here if nobody has claimed it yet; wait for it either way (a
        delayed one is scheduled here when a slot frees, unless a running ``up`` takes it)."""
        # Most often it was just requested and is scheduled and free: claim it straight away
        # (the claim checks both), without reading it first.
        claimed = self.store.claim_one(
            execution_id, self.worker.name, now=self.worker._now(), lease_until=self.worker._lease()
        )
        if claimed is not None:
            await self.worker.start(claimed)
            if self.workflows.drives(claimed.runner_type):
                return await self.run_workflow(execution_id)
        elif self.workflows.drives(self.executions.get(execution_id).runner_type):
            return await self.run_workflow(execution_id)
        while True:
            execution = self.executions.get(execution_id)
            if execution.completed or execution.status in _WAITING:
                return execution
            if execution.status in (Status.REQUESTED, Status.DELAYED):
                self.worker._schedule()
                execution = self.executions.get(execution_id)
            if execution.status is Status.SCHEDULED and execution.claimed_by is None:
                claimed = self.store.claim_one(
                    execution_id,
                    self.worker.name,
                    now=self.worker._now(),
                    lease_until=self.worker._lease(),
                )
                if claimed is not None:
                    await self.worker.start(claimed)
                    continue
            await asyncio.sleep(0.05)

    async def run_workflow(self, execution_id: str, *, poll_seconds: float = 0.05) -> Execution:
        """Run the engine here (worker and workflow shell) until the workflow ``execution_id``
        has ended: ``packhorse run`` of a workflow."""
        stop = asyncio.Event()
        with start_up_frozen():
            loops = [
                asyncio.create_task(self.worker.run(stop), name="worker"),
                asyncio.create_task(self.workflows.run(stop), name="workflows"),
            ]
            try:
                while True:
                    execution = self.executions.get(execution_id)
                    if execution.completed or execution.status in _WAITING:
                        return execution
                    await asyncio.sleep(poll_seconds)
            finally:
                stop.set()
                await asyncio.gather(*loops, return_exceptions=True)


def public_api_url(listen: str, *, tls: bool = False) -> str:
    """The API URL workflows see as ``ctx().st2.api_url``: StackStorm's form
    (``http://<host>:<port>/v1``, ``https`` with ``tls``) for the address the instance serves
    on; a wildcard host becomes the loopback address."""
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 - a listen address, not a bind
        host = "127.0.0.1"
    return f"{'https' if tls else 'http'}://{host}:{port}/v1"


def workflow_drivers(
    settings: Settings,
    datastore: DatastoreService,
    workflows: SqlWorkflowStore,
    action_parameters: Callable[[str], Mapping[str, Mapping[str, Any]] | None] | None = None,
) -> dict[str, WorkflowDriver]:
    """The workflow languages this build runs, by runner type."""
    from packhorse.engine.drivers import ChainDriver, OrquestaDriver, st2kv_function
    from packhorse.engine.task_function import task_function
    from packhorse.expr import Datastore
    from packhorse.model.datastore import Scope

    def chain_functions(user: str) -> dict[str, Any]:
        return {"st2kv": Datastore(datastore.lookup, user=user, decrypt=datastore.decrypt)}

    def read(scope: Scope, user: str, name: str) -> tuple[str, bool] | None:
        try:
            pair = datastore.get_value(name, scope=scope, user=user)
        except NotFound:
            return None
        if pair.secret:
            # get_value masks secrets; the stored token is what decrypt=true decrypts.
            token = datastore.lookup(scope.value, f"{user}:{name}" if user else name)
            return (token or "", True)
        return (str(pair.value), False)

    def lookup(execution_id: str) -> Execution | None:
        return workflows.executions([execution_id]).get(execution_id)

    task = task_function(workflows.children, lookup)

    def orquesta_functions(context: Mapping[str, Any]) -> dict[str, Any]:
        user = str(context.get("user") or "")
        return {"st2kv": st2kv_function(read, datastore.decrypt, user), "task": task}

    config_for = bootstrap.config_resolver(settings, datastore)
    return {
        "action-chain": ChainDriver(functions_for=chain_functions, config_for=config_for),
        "orquesta": OrquestaDriver(orquesta_functions, action_parameters=action_parameters),
    }


def build_runtime(settings: Settings, *, slots: int = 4, warm_python: bool = True) -> Runtime:
    """``warm_python=False`` runs every python-script action in a fresh interpreter (the
    benchmarks compare both)."""
    from packhorse.runners.registry import RunnerRegistry

    datastore = bootstrap.datastore_service(settings)
    registry = bootstrap.cached_registry(settings)
    store = SqlExecutionStore(bootstrap.database_engine(settings))
    schemas = ActionSchemas()
    render = bootstrap.parameter_renderer(settings, datastore, schemas=schemas)
    preparer = Preparer(
        registry,
        home=settings.home,
        decrypt=datastore.decrypt,
        render=render,
        config_for=bootstrap.config_resolver(settings, datastore),
        venv_for=bootstrap.pack_venv_finder(settings),
        system_user=settings.run_as,
    )
    from packhorse.engine.pack_datastore import ServiceDatastoreChannel
    from packhorse.expr import Datastore
    from packhorse.runners.python import PythonRunner

    channel = ServiceDatastoreChannel(datastore)
    python_runner = PythonRunner(datastore=channel, warm=warm_python)
    from packhorse.runners.remote import (
        RemoteRunnerSettings,
        RemoteShellCommandRunner,
        RemoteShellScriptRunner,
    )

    ssh = RemoteRunnerSettings(
        known_hosts=settings.ssh_known_hosts or None,
        default_key_file=settings.ssh_key_file or None,
    )
    runners = RunnerRegistry.from_entry_points(
        {
            "python-script": python_runner,
            "remote-shell-cmd": RemoteShellCommandRunner(ssh),
            "remote-shell-script": RemoteShellScriptRunner(ssh),
        }
    )
    scheduler = Scheduler(store, PolicyBook(registry))

    def validate(action: Resource, live: Mapping[str, Any], context: Mapping[str, Any]) -> None:
        render(action, live, context, None)

    executions = ExecutionService(
        store,
        registry,
        encrypt=datastore.encrypt,
        validate=validate,
        on_created=None,
        scheduler=scheduler,
        schema_for=schemas,
    )

    def action_parameters(ref: str) -> Mapping[str, Mapping[str, Any]] | None:
        action = registry.get_resource(Kind.ACTION, ref)
        return None if action is None else schemas(action)[0]

    workflow_store = SqlWorkflowStore(store.engine)
    workflows = WorkflowShell(
        store,
        workflow_store,
        workflow_drivers(settings, datastore, workflow_store, action_parameters),
        lambda ref: registry.get_resource(Kind.ACTION, ref),
        holds_back=scheduler.holds_back,
        protect=executions.protect,
        api_url=public_api_url(settings.listen, tls=bool(settings.tls_cert)),
    )
    worker = Worker(
        store,
        runners.get,
        preparer,
        settings=WorkerSettings(slots=slots),
        redact=bootstrap.redactor().redact,
        scheduler=scheduler,
        workflows=workflows,
    )
    workflows.on_children = worker.wake
    executions.on_created = worker.wake
    executions.workflow_request = workflows.request
    inquiries = InquiryService(store, on_answer=workflows.wake)
    events = EventService(SqlEventStore(store.engine), registry)
    channel.events = events  # core.inject_trigger
    rules = RuleEngine(
        events,
        executions,
        registry,
        lookup=datastore.lookup,
        decrypt=datastore.decrypt,
        system_user=settings.system_user,
    )
    events.on_recorded = rules.wake
    execution_triggers = ExecutionTriggers(
        events,
        store,
        registry,
        notify_context=lambda _execution: {
            "st2kv": Datastore(datastore.lookup, decrypt=datastore.decrypt)
        },
    )
    return Runtime(
        settings,
        store,
        executions,
        datastore,
        worker,
        workflows,
        inquiries,
        events,
        rules,
        execution_triggers,
        closers=[python_runner.aclose],
    )


async def recover_periodically(runtime: Runtime, stop: asyncio.Event) -> None:
    """Settle what workers of other processes left when they died (their leases ran out),
    every lease period, while ``packhorse up`` runs. PostgreSQL only: there several processes
    share the work, and this runs in one of them (a singleton); on SQLite recovery runs at
    start-up, as before."""
    if runtime.store.engine.dialect.name != "postgresql":
        return
    interval = runtime.worker.settings.lease_seconds
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(runtime.recover)
        except PackhorseError:
            log.exception("recovery failed; will retry")
            continue
        runtime.worker.wake()  # released work, or retries a policy requested
