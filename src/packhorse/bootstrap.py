"""The composition root: the one place that reads settings and wires adapters together."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    import sqlalchemy as sa
    from fastapi import FastAPI

    from packhorse.engine.auth import AuthService
    from packhorse.engine.cache import ActionSchema, CachedRegistry
    from packhorse.engine.datastore import DatastoreService
    from packhorse.engine.events import EventService
    from packhorse.engine.preparation import Render
    from packhorse.engine.registration import RegistrationOutcome
    from packhorse.engine.runtime import Runtime
    from packhorse.engine.sensors import SensorContainer
    from packhorse.engine.timers import TimerService
    from packhorse.model.content import Resource
    from packhorse.model.events import SensorStatus
    from packhorse.packs.install import Environment as InstallEnvironment
    from packhorse.packs.venvs import VenvBuilder
    from packhorse.params.masking import Redactor
    from packhorse.settings import Settings
    from packhorse.storage.ports import ContentRegistry, RegistryReader, UserStore


@functools.cache
def _engine(url: str) -> sa.Engine:
    from packhorse.storage.database import create_engine

    return create_engine(url)


def database_engine(settings: Settings) -> sa.Engine:
    return _engine(settings.database)


def cached_registry(settings: Settings) -> CachedRegistry:
    """The registry as the engine's hot path reads it (cached for a second)."""
    return _cached_registry(settings.database, settings.state_db)


@functools.cache
def _cached_registry(url: str, _state_db: Path) -> CachedRegistry:
    from packhorse.engine.cache import CachedRegistry
    from packhorse.storage.registry import SqlContentRegistry

    return CachedRegistry(SqlContentRegistry(_engine(url)))


def content_registry(settings: Settings) -> ContentRegistry:
    from packhorse.storage.registry import SqlContentRegistry

    return SqlContentRegistry(database_engine(settings))


def registry_reader(settings: Settings) -> RegistryReader:
    """A reader for CLI list/show commands: stdlib sqlite3 on SQLite (fast start-up)."""
    if not settings.database_url:
        from packhorse.storage.fastread import SqliteRegistryReader

        return SqliteRegistryReader(settings.state_db)
    return content_registry(settings)


def sensor_statuses(settings: Settings) -> list[SensorStatus]:
    """What the sensor container (of any process) stored about each sensor, by ref; read
    through stdlib sqlite3 on SQLite, so that ``packhorse sensor list`` starts fast."""
    if not settings.database_url:
        from packhorse.storage.fastread import SqliteRegistryReader

        return SqliteRegistryReader(settings.state_db).sensor_statuses()
    from packhorse.engine.sensors import list_statuses
    from packhorse.storage.events import SqlEventStore

    return list_statuses(SqlEventStore(database_engine(settings)))


def user_store(settings: Settings) -> UserStore:
    from packhorse.storage.users import SqlUserStore

    return SqlUserStore(database_engine(settings))


def auth_service(settings: Settings) -> AuthService:
    """Passwords, tokens and API keys of the instance."""
    from packhorse.engine.auth import AuthService
    from packhorse.storage.auth import SqlAuthStore

    return AuthService(user_store(settings), SqlAuthStore(database_engine(settings)))


def bundled_pack_dir(name: str) -> Path:
    return Path(__file__).parent / "bundled_packs" / name


def system_pack_dirs() -> tuple[Path, ...]:
    """Packs registered from the installed Packhorse itself, not copied into the instance."""
    return (bundled_pack_dir("core"),)


def readiness_problem(settings: Settings) -> str | None:
    """None when the database is reachable and at head; else a sentence saying why not."""
    from packhorse.errors import PackhorseError
    from packhorse.storage import migrate

    try:
        status = migrate.status(database_engine(settings))
    except PackhorseError as error:
        return error.message
    except Exception as error:  # noqa: BLE001 - any driver fault means "not ready", with why
        return f"database unreachable: {error}"
    if not status.at_head:
        return f"database at revision {status.current}, expected {status.head}"
    return None


ROLES = {
    "api": frozenset({"stream", "intake"}),
    "worker": frozenset(
        {
            "stream",
            "intake",
            "worker",
            "scheduler",
            "workflows",
            "rules",
            "execution-triggers",
            "housekeeping",
            "retention",
        }
    ),
    "sensors": frozenset({"stream", "intake", "sensors"}),
    "timers": frozenset({"stream", "intake", "timers"}),
}
"""What each role of ``packhorse up --role`` runs besides the HTTP API; ``all`` runs all.
Every process follows the intake (``engine/intake.py``): a cutover waits for each of them."""
ROLES["all"] = frozenset().union(*ROLES.values())


def create_app(
    settings: Settings, *, workers: int = 4, roles: frozenset[str] = frozenset({"all"})
) -> FastAPI:
    """The app of ``packhorse up``: the API, with the engine (recovery, then a worker
    claiming executions) running in its lifespan; ``roles`` (keys of :data:`ROLES`) say
    which of the engine's loops run in this process."""
    import asyncio
    import contextlib
    import gc
    from collections.abc import AsyncIterator

    from fastapi import APIRouter, Depends

    from packhorse import intake_wiring
    from packhorse.api import auth, metrics, security, stream, v1, webhooks
    from packhorse.api import handover as handover_api
    from packhorse.api.app import create_app as build
    from packhorse.engine.heap import start_up_frozen
    from packhorse.engine.runtime import build_runtime, recover_periodically
    from packhorse.engine.singleton import Loop, run_as_singleton
    from packhorse.engine.supervise import supervised
    from packhorse.storage.database import listen_to_writes
    from packhorse.storage.singletons import LockSet, SessionLocks, Singleton
    from packhorse.wake_ups import wake_ups
    from packhorse.web import pages as web_console

    # Built before the app serves: routes reach the engine's services through app.state.
    runtime = build_runtime(settings, slots=workers)
    events = stream.broadcaster(settings, runtime)
    metrics_registry, observer = metrics.observe(runtime)
    intake, handover = intake_wiring.intake_services(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        run = frozenset().union(*(ROLES[role] for role in roles))
        if "worker" in run:
            runtime.recover()
        engine = runtime.store.engine
        # One process runs each sensor (PostgreSQL); on SQLite this one runs them all.
        sensor_locks = LockSet(engine, "sensor:")
        hold = sensor_locks.hold if engine.dialect.name == "postgresql" else None
        sensors = sensor_container(settings, runtime, hold=hold)
        sensors.observer = observer
        timers = timer_service(settings, runtime)
        sensors.intake_open = timers.intake_open = intake.open
        intake.listeners.append(lambda _state: sensors.wake())
        intake.refresh()  # a process started while its instance drains starts drained
        # What start-up loaded (modules, the app, caches) lives as long as the process: frozen
        # out of the collector's sight while the engine runs, a full collection no longer
        # walks it (it took tens of ms, every few seconds under load, mid-request).
        gc.collect()
        stop = asyncio.Event()
        with start_up_frozen():

            def task(name: str, loop: Loop) -> asyncio.Task[None]:
                """A loop of this process, started again if it fails (engine/supervise.py)."""
                return asyncio.create_task(supervised(name, loop, stop), name=name)

            singleton_locks = SessionLocks(engine)  # one session for all of this process's

            def alone(name: str, loop: Loop) -> asyncio.Task[None]:
                """A loop one process of the deployment runs (see ``engine/singleton.py``)."""
                held = Singleton(engine, name, singleton_locks)
                return task(name, lambda stopped: run_as_singleton(held, loop, stopped))

            every: dict[str, Callable[[], asyncio.Task[None]]] = {
                "sensors": lambda: task("sensors", sensors.run),
                "timers": lambda: alone("timers", timers.run),
                "worker": lambda: task("worker", runtime.worker.run),
                "scheduler": lambda: alone("scheduler", runtime.worker.hold_passes),
                "workflows": lambda: task("workflows", runtime.workflows.run),
                "rules": lambda: task("rules", runtime.rules.run),
                # One reader for the site: each would read the same log rows, and all but
                # one would lose the race for the cursor (a wasted pass per status change).
                "execution-triggers": lambda: alone(
                    "execution-triggers", runtime.execution_triggers.run
                ),
                "retention": lambda: alone(
                    "retention", lambda stopped: collect_periodically(settings, stopped)
                ),
                "housekeeping": lambda: alone(
                    "housekeeping", lambda stopped: recover_periodically(runtime, stopped)
                ),
                "stream": lambda: task("stream", events.run),
                "intake": lambda: task("intake", intake.run),
            }
            if "scheduler" in run:
                runtime.worker.periodic_passes = False  # until the singleton is held
            loops = [start() for name, start in every.items() if name in run]
            stop_listening = listen_to_writes(runtime.store.engine, events.wake)
            listener = wake_ups(runtime, events, asyncio.get_running_loop(), intake, roles)
            try:
                yield
            finally:
                if listener is not None:
                    listener.stop()
                stop_listening()
                stop.set()  # finish what is running; claimed work not started is released
                for loop in loops:
                    await loop
                sensor_locks.release()
                await runtime.aclose()

    # Every /api/v1 route needs a valid caller, whatever role its own dependency asks.
    guarded = APIRouter(dependencies=[Depends(security.current_principal)])
    for routes in v1.routers():
        guarded.include_router(routes)
    app = build(
        instance_id=settings.instance_id,
        readiness=lambda: readiness_problem(settings),
        lifespan=lifespan,
        routers=[
            webhooks.router(lambda: runtime.events),
            handover_api.router(),
            auth.router(settings),
            metrics.router(metrics_registry, guarded=settings.metrics_auth),
            guarded,
            stream.router,
        ],
    )
    app.add_middleware(metrics.RequestMetrics, registry=metrics_registry)
    app.state.runtime = runtime
    app.state.stream = events
    app.state.handover = handover
    app.state.settings = settings
    app.state.auth = auth_service(settings)
    app.state.auth_enabled = settings.auth_enabled
    security.install(app)
    web_console.install(app)
    return app


def sensor_container(
    settings: Settings,
    runtime: Runtime,
    *,
    hold: Callable[[Collection[str]], Collection[str]] | None = None,
) -> SensorContainer:
    """The sensor container of ``packhorse up``: every enabled sensor in a process of its own
    (``hold``: only those this process holds, when several share a PostgreSQL database)."""
    from packhorse.engine.pack_datastore import ServiceDatastoreChannel
    from packhorse.engine.sensors import SensorContainer, SensorSettings

    return SensorContainer(
        runtime.events,
        cached_registry(settings),
        runtime.events.store,
        config_for=config_resolver(settings, runtime.datastore),
        datastore=ServiceDatastoreChannel(runtime.datastore),
        home=settings.home,
        system_user=settings.system_user,
        settings=SensorSettings(max_failures=settings.sensor_max_failures),
        venv_for=pack_venv_finder(settings),
        hold=hold,
    )


def pack_venv_finder(settings: Settings) -> Callable[[str], str]:
    """``venv_for(pack)``: the virtualenv a pack's python actions and sensors run in, ``""``
    (Packhorse's own interpreter) for a pack that has none."""
    from packhorse.packs.venvs import venv_path

    return functools.partial(venv_path, settings.venvs_dir)


def remove_instance_packs(
    settings: Settings, refs: Sequence[str], *, keep_venv: bool = False
) -> list[str]:
    """Unregister packs and delete their folders and virtualenvs (see
    :func:`packhorse.engine.registration.remove_packs`)."""
    from packhorse.engine.clock import iso_now
    from packhorse.engine.registration import remove_packs
    from packhorse.packs.content_lock import content_lock

    with content_lock(settings.home, what="a pack removal"):
        return remove_packs(
            content_registry(settings),
            refs,
            system_packs={d.name for d in system_pack_dirs()},
            home=settings.home,
            packs_dir=settings.packs_dir,
            venvs=None if keep_venv else venv_builder(settings),
            now=iso_now(),
        )


def pack_install_environment(
    settings: Settings, *, wheelhouse: Path | None = None, venvs: bool = True
) -> InstallEnvironment:
    """What ``pack install`` needs of this instance: its registry (versions, a dry-run
    registration of staged packs, the real one) and its virtualenv builder."""
    from packhorse.packs.install import Environment

    def installed_versions() -> dict[str, str]:
        return {p.ref: p.version for p in content_registry(settings).list_packs()}

    def validate(staged: Path, refs: Sequence[str]) -> list[str]:
        from packhorse.engine.clock import iso_now
        from packhorse.engine.registration import register_packs
        from packhorse.model.diagnostics import Severity

        outcome = register_packs(
            content_registry(settings),
            [staged, *settings.pack_search_paths],
            system_packs=system_pack_dirs(),
            home=settings.home,
            configs_dir=settings.configs_dir,
            refs=refs,
            dry_run=True,
            now=iso_now(),
        )
        return [d.format() for d in outcome.diagnostics if d.severity is Severity.ERROR]

    def register(refs: Sequence[str]) -> list[str]:
        from packhorse.model.diagnostics import Severity

        outcome = register_instance_packs(settings, refs=refs)
        return [d.format() for d in outcome.diagnostics if d.severity is Severity.ERROR]

    return Environment(
        home=settings.home,
        packs_dir=settings.packs_dir,
        installed_versions=installed_versions,
        validate=validate,
        register=register,
        venvs=venv_builder(settings, wheelhouse=wheelhouse) if venvs else None,
        index=settings.pack_index,
    )


def venv_builder(settings: Settings, *, wheelhouse: Path | None = None) -> VenvBuilder:
    from packhorse.packs.venvs import VenvBuilder

    chosen = wheelhouse or (Path(settings.pack_wheelhouse) if settings.pack_wheelhouse else None)
    return VenvBuilder(
        settings.venvs_dir,
        python=settings.pack_python,
        baseline=settings.pack_baseline,
        wheelhouse=chosen,
    )


def timer_service(settings: Settings, runtime: Runtime) -> TimerService:
    """The timers of ``packhorse up``: interval, cron and date timers of the enabled rules."""
    from zoneinfo import ZoneInfo

    from packhorse.engine.timers import TimerService
    from packhorse.rules.timers import MissedFires

    return TimerService(
        runtime.events,
        cached_registry(settings),
        missed=MissedFires(settings.timers_missed),
        timezone=ZoneInfo(settings.timers_timezone),
    )


async def collect_periodically(
    settings: Settings, stop: asyncio.Event, *, interval: float | None = None
) -> None:
    """``packhorse gc`` every ``interval`` seconds (ten minutes) until ``stop`` is set."""
    from packhorse.engine.retention import collect_periodically as collect_every
    from packhorse.storage.events import SqlEventStore
    from packhorse.storage.executions import SqlExecutionStore

    store = SqlExecutionStore(database_engine(settings))
    await collect_every(
        store,
        SqlEventStore(store.engine),
        stop,
        executions_days=settings.retention_executions_days,
        trigger_instances_days=settings.retention_trigger_instances_days,
        interval=interval,
    )


def event_service(settings: Settings) -> EventService:
    """The door for trigger instances (webhooks, timers, sensors, the CLI)."""
    from packhorse.engine.events import EventService
    from packhorse.storage.events import SqlEventStore

    return EventService(SqlEventStore(database_engine(settings)), cached_registry(settings))


def datastore_service(settings: Settings) -> DatastoreService:
    from packhorse.engine.datastore import DatastoreService
    from packhorse.engine.keyring import Keyring
    from packhorse.storage.datastore import SqlDatastore

    return DatastoreService(
        SqlDatastore(database_engine(settings)),
        Keyring(settings.keys_dir),
        redactor=redactor(),
    )


@functools.cache
def redactor() -> Redactor:
    """The process's one redactor: every secret decrypted here is masked in logs and output."""
    from packhorse.engine.logs import install_redaction
    from packhorse.params.masking import Redactor

    instance = Redactor()
    install_redaction(instance)
    return instance


def config_resolver(
    settings: Settings, datastore: DatastoreService
) -> Callable[[str], dict[str, Any]]:
    """``config_for(pack)``: the pack's registered config resolved now (st2kv rendered,
    secrets decrypted, defaults applied), read from the registry on every call so that a
    config registered while ``up`` runs is used at once."""
    from packhorse.expr import Datastore
    from packhorse.model.content import Kind
    from packhorse.params.config import resolve_config

    registry = cached_registry(settings)

    def config_for(pack: str) -> dict[str, Any]:
        config = registry.get_resource(Kind.CONFIG, pack)
        schema = registry.get_resource(Kind.CONFIG_SCHEMA, pack)
        if config is None and schema is None:
            return {}
        lookup = Datastore(datastore.lookup, user=settings.system_user, decrypt=datastore.decrypt)
        return resolve_config(
            (config.body.get("values") if config else None) or {},
            (schema.body.get("attributes") if schema else None) or {},
            datastore=lookup,
            decrypt=datastore.decrypt,
        )

    return config_for


def parameter_renderer(
    settings: Settings,
    datastore: DatastoreService,
    *,
    schemas: Callable[[Resource], ActionSchema] | None = None,
) -> Render:
    """``render(action, live, context) -> (runner parameters, action parameters)``: StackStorm's
    parameter pipeline over the live datastore and the pack's resolved config. ``schemas``
    gives an action's effective schema (cached per action when shared with the service)."""
    from packhorse.engine.cache import ActionSchemas
    from packhorse.expr import Datastore
    from packhorse.params import RenderContext, render_parameters

    config_for = config_resolver(settings, datastore)
    schema_for = schemas or ActionSchemas()

    def render(
        action: Resource,
        live: Mapping[str, Any],
        context: Mapping[str, Any],
        config: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        schema, runner_names = schema_for(action)
        user = str(context.get("user") or settings.system_user)
        rendered = render_parameters(
            schema,
            runner_names,
            live,
            context=RenderContext(
                datastore=Datastore(datastore.lookup, user=user, decrypt=datastore.decrypt),
                config=config_for(action.pack) if config is None else config,
                action_context=context,
                trigger=_trigger_payload(context),
            ),
        )
        return rendered.runner, rendered.action

    return render


def _trigger_payload(context: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The payload of the trigger instance a rule enforcement requested this execution for
    (its parameters render over it as ``trigger``)."""
    instance = context.get("trigger_instance")
    if isinstance(instance, Mapping) and "rule" in context:
        payload = instance.get("payload")
        return payload if isinstance(payload, Mapping) else {}
    return None


def register_instance_packs(
    settings: Settings,
    *,
    refs: Sequence[str] = (),
    all_packs: bool = False,
    dry_run: bool = False,
) -> RegistrationOutcome:
    """Register packs of this instance: its search paths, the system packs and its configs."""
    from packhorse.engine.clock import iso_now
    from packhorse.engine.registration import register_packs

    return register_packs(
        content_registry(settings),
        settings.pack_search_paths,
        system_packs=system_pack_dirs(),
        home=settings.home,
        configs_dir=settings.configs_dir,
        refs=refs,
        all_packs=all_packs,
        dry_run=dry_run,
        now=iso_now(),
    )
