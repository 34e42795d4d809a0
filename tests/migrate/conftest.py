"""An instance with something of everything a bundle carries, on SQLite or PostgreSQL."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.engine.clock import utc_now
from packhorse.engine.datastore import iso
from packhorse.engine.passwords import hash_password
from packhorse.model.content import Kind
from packhorse.model.datastore import Scope
from packhorse.model.events import Enforcement, TriggerInstance, TriggerInstanceStatus
from packhorse.settings import Settings, load_settings, settings_to_toml
from packhorse.storage import migrate
from packhorse.storage.database import create_engine
from packhorse.storage.events import SqlEventStore

FIXTURE_PACKS = Path(__file__).parents[1] / "fixtures" / "packs"
SECRETS = {
    "db_password": "pa55-word-that-must-not-leak",
    "alice_token": "alice-token-0123456789-secret",
}
"""Clear values of the secret items: none may appear anywhere in a bundle."""


@dataclass
class Populated:
    settings: Settings
    api_key: str
    """The clear API key (only its hash may travel)."""
    recent_instance: str
    old_instance: str


def use_postgres(home: Path, url: str) -> Settings:
    """Point the instance at an empty PostgreSQL database, migrated, packs registered again."""
    settings = load_settings(home).with_overrides(database_url=url)
    (home / "packhorse.toml").write_text(settings_to_toml(settings), encoding="utf-8")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(engine)
    engine.dispose()
    assert bootstrap.register_instance_packs(settings, all_packs=True).ok
    bootstrap.user_store(settings).add_user(
        "admin", hash_password("admin-password"), "admin", now=iso(utc_now())
    )
    return settings


def populate(home: Path) -> Populated:
    """Add to an initialised instance: a fixture pack, its config, pack-sources.json, secret
    and plain keys in both scopes, a disabled rule, a user, an API key, trigger instances
    (a recent one enforced, an old one outside the events window)."""
    settings = load_settings(home)
    shutil.copytree(FIXTURE_PACKS / "demo_good", settings.packs_dir / "demo_good")
    (settings.packs_dir / "demo_good" / "__pycache__").mkdir()
    (settings.packs_dir / "demo_good" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (settings.packs_dir / "demo_good" / ".git").mkdir()
    (settings.packs_dir / "demo_good" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (settings.configs_dir / "demo_good.yaml").write_text(
        "---\napi_url: https://example.org\napi_token: '{{ st2kv.system.db_password }}'\n"
    )
    (settings.home / "pack-sources.json").write_text(
        '{"demo_good": {"kind": "directory", "source": "/src/demo_good", "version": "1.2.3"}}\n'
    )
    outcome = bootstrap.register_instance_packs(settings, refs=["demo_good"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    registry = bootstrap.content_registry(settings)
    assert registry.set_enabled(Kind.RULE, "demo_good.on_line", False)

    datastore = bootstrap.datastore_service(settings)
    datastore.set_value("region", "eu-west-1")
    datastore.set_value("db_password", SECRETS["db_password"], secret=True)
    datastore.set_value("theme", "dark", scope=Scope.USER, user="alice")
    datastore.set_value(
        "token", SECRETS["alice_token"], scope=Scope.USER, user="alice", secret=True
    )
    datastore.set_value("temporary", "soon gone", ttl=3600)

    bootstrap.user_store(settings).add_user(
        "alice", hash_password("alice-password"), "operator", now=iso(utc_now())
    )
    api_key = bootstrap.auth_service(settings).create_api_key("alice", metadata={"by": "test"})

    events = SqlEventStore(bootstrap.database_engine(settings))
    now = utc_now()
    recent = TriggerInstance(
        id="ti-recent",
        trigger="core.st2.webhook",
        trigger_type="core.st2.webhook",
        payload={"body": {"n": 1}},
        occurrence_time=iso(now),
        status=TriggerInstanceStatus.PROCESSED,
        source="webhook",
        created_at=iso(now - dt.timedelta(hours=1)),
    )
    old = TriggerInstance(
        id="ti-old",
        trigger="core.st2.webhook",
        trigger_type="core.st2.webhook",
        payload={"body": {"n": 0}},
        occurrence_time=iso(now - dt.timedelta(days=30)),
        status=TriggerInstanceStatus.PROCESSED,
        source="webhook",
        created_at=iso(now - dt.timedelta(days=30)),
    )
    events.record(recent)
    events.record(old)
    for instance in (recent, old):
        events.record_enforcement(
            Enforcement(
                id=f"enf-{instance.id}",
                rule="demo_good.on_webhook",
                trigger_instance_id=instance.id,
                execution_id=None,
                failure_reason="test",
                enforced_at=instance.created_at,
            )
        )
    bootstrap.database_engine(settings).dispose()
    return Populated(settings, api_key.key, recent.id, old.id)


@pytest.fixture
def populated(instance_home: Path) -> Populated:
    return populate(instance_home)
