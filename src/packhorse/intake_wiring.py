"""The intake and handover of an instance, wired (``engine/intake.py``, cutover): the watch a
``packhorse up`` process runs, and the handover service on an instance's database with the
keys that re-seal secret parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from packhorse.bootstrap import (
    database_engine,
    datastore_service,
    redactor,
    registry_reader,
)

if TYPE_CHECKING:
    from packhorse.engine.datastore import DatastoreService
    from packhorse.engine.handover_secrets import HandoverKeys
    from packhorse.engine.intake import HandoverService, IntakeWatch
    from packhorse.engine.runtime import Runtime
    from packhorse.settings import Settings


def intake_services(runtime: Runtime) -> tuple[IntakeWatch, HandoverService]:
    """This process's watch of the intake, wired to the loops it switches, and the handover
    service the API answers with (``engine/intake.py``)."""
    from packhorse.engine.intake import HandoverService, IntakeWatch
    from packhorse.storage import notifications
    from packhorse.storage.intake import SqlIntakeStore

    store = SqlIntakeStore(runtime.store.engine)
    # On PostgreSQL a NOTIFY tells every process of a change at once: the poll is only the
    # fallback for one lost while the listener reconnects, and need not be as frequent.
    poll = 1.0 if notifications.listens(runtime.store.engine) else 0.25
    watch = IntakeWatch(store, node=runtime.worker.name, poll_seconds=poll)
    runtime.events.intake_open = runtime.worker.intake_open = watch.open

    def wake_engine(_state: object = None) -> None:
        runtime.worker.wake()
        runtime.rules.wake()

    watch.listeners.append(wake_engine)
    watch.settlers.append(runtime.events.settle_arrivals)
    service = HandoverService(
        store,
        scheduler=runtime.worker.scheduler,
        on_received=wake_engine,
        keys=handover_keys(runtime.settings, runtime.datastore),
    )
    return watch, service


def handover_keys(settings: Settings, datastore: DatastoreService) -> HandoverKeys:
    """What a handover re-seals secret parameters with: the datastore cipher and the
    recipient key in ``keys/`` (``migrate/recipient.py``)."""
    import secrets

    from packhorse.engine.handover_secrets import HandoverKeys
    from packhorse.migrate.recipient import ensure_recipient_key, load_private_key

    keys_dir = settings.keys_dir

    def recipient_public() -> bytes:
        return ensure_recipient_key(keys_dir, secrets.token_bytes)[0]

    return HandoverKeys(
        encrypt=datastore.encrypt,
        decrypt=datastore.decrypt,
        recipient_public=recipient_public,
        recipient_private=lambda: load_private_key(keys_dir),
        random_bytes=secrets.token_bytes,
        remember=redactor().add,
    )


def handover_service(settings: Settings) -> HandoverService:
    """Intake and handover straight on an instance's database (a local cutover)."""
    from packhorse.engine.intake import HandoverService
    from packhorse.engine.scheduling import PolicyBook, Scheduler
    from packhorse.storage.executions import SqlExecutionStore
    from packhorse.storage.intake import SqlIntakeStore

    engine = database_engine(settings)
    scheduler = Scheduler(SqlExecutionStore(engine), PolicyBook(registry_reader(settings)))
    return HandoverService(
        SqlIntakeStore(engine),
        scheduler=scheduler,
        keys=handover_keys(settings, datastore_service(settings)),
    )
