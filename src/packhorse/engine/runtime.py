"""The execution runtime of one process: the service, a worker and what they need, wired
from settings. ``packhorse up`` runs the worker for as long as it serves; ``packhorse run``
builds one to run a single execution in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packhorse import bootstrap
from packhorse.engine.cache import ActionSchemas
from packhorse.engine.datastore import DatastoreService
from packhorse.engine.executions import ExecutionService
from packhorse.engine.preparation import Preparer
from packhorse.engine.scheduling import PolicyBook, Scheduler
from packhorse.engine.worker import Worker, WorkerSettings, recover
from packhorse.model.content import Resource
from packhorse.model.execution import Execution, Status
from packhorse.settings import Settings
from packhorse.storage.executions import SqlExecutionStore


@dataclass
class Runtime:
    settings: Settings
    store: SqlExecutionStore
    executions: ExecutionService
    datastore: DatastoreService
    worker: Worker
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
        while True:
            execution = self.executions.get(execution_id)
            if execution.completed:
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
        venv_for=lambda pack: "",
        system_user=settings.run_as,
    )
    from packhorse.engine.pack_datastore import ServiceDatastoreChannel
    from packhorse.runners.python import PythonRunner

    python_runner = PythonRunner(datastore=ServiceDatastoreChannel(datastore), warm=warm_python)
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
    worker = Worker(
        store,
        runners.get,
        preparer,
        settings=WorkerSettings(slots=slots),
        redact=bootstrap.redactor().redact,
        scheduler=scheduler,
    )

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
    return Runtime(settings, store, executions, datastore, worker, closers=[python_runner.aclose])
