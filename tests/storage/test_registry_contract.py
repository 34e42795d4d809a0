"""One contract for every content-registry adapter: SQLite (SQLAlchemy), the stdlib sqlite3
fast reader, and PostgreSQL. Migrations run from an empty database on each."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from packhorse.errors import Conflict
from packhorse.model.content import Kind, Pack, RegistryState, Resource
from packhorse.packs.plan import Operation, Plan, ResourceChange, plan_registration
from packhorse.storage import migrate
from packhorse.storage.database import create_engine
from packhorse.storage.fastread import SqliteRegistryReader
from packhorse.storage.registry import SqlContentRegistry

NOW = "2026-01-02T03:04:05.000000Z"


def resource(kind: Kind, ref: str, **body: object) -> Resource:
    pack, _, name = ref.partition(".")
    return Resource(kind, ref, pack, name, f"x/{name}.yaml", {"name": name, **body})


def pack(ref: str, *resources: Resource, version: str = "1.0.0") -> Pack:
    metadata = {"ref": ref, "name": ref, "version": version, "description": "d"}
    return Pack(ref, f"/p/{ref}", metadata, ("pack.yaml",), resources)


def test_migrations_reach_head_from_empty(engine: sa.Engine) -> None:
    status = migrate.status(engine)
    assert status.at_head and status.current == migrate.head_revision()
    assert migrate.upgrade(engine).at_head  # idempotent


def test_apply_then_read_back_everything(engine: sa.Engine) -> None:
    registry = SqlContentRegistry(engine)
    demo = pack(
        "demo",
        resource(Kind.ACTION, "demo.hello", runner_type="noop", unicode="héllo ✓"),
        resource(Kind.RULE, "demo.on.dotted", enabled=False),
        resource(Kind.TRIGGER_TYPE, "demo.event"),
    )
    registry.apply(plan_registration([demo], registry.state()), now=NOW)

    [stored] = registry.list_packs()
    assert (stored.ref, stored.version, stored.registered_at) == ("demo", "1.0.0", NOW)
    assert stored.digest == demo.digest and stored.metadata == demo.metadata
    assert registry.get_resource(Kind.ACTION, "demo.hello") == demo.resources[0]
    assert registry.get_resource(Kind.ACTION, "demo.missing") is None
    assert [r.ref for r in registry.list_resources(Kind.RULE, pack="demo")] == ["demo.on.dotted"]
    assert registry.list_resources(Kind.RULE, pack="other") == []
    assert registry.state() == RegistryState(
        {"demo": demo.digest},
        {(r.kind, r.ref): ("demo", r.digest) for r in demo.resources},
    )


def test_reapplying_unchanged_content_plans_nothing(engine: sa.Engine) -> None:
    registry = SqlContentRegistry(engine)
    demo = pack("demo", resource(Kind.ACTION, "demo.a"))
    registry.apply(plan_registration([demo], registry.state()), now=NOW)
    assert plan_registration([demo], registry.state()).is_empty


def test_update_and_delete_replace_content(engine: sa.Engine) -> None:
    registry = SqlContentRegistry(engine)
    old = pack("demo", resource(Kind.ACTION, "demo.a"), resource(Kind.RULE, "demo.r"))
    other = pack("other", resource(Kind.ACTION, "other.a"))
    registry.apply(plan_registration([old, other], registry.state()), now=NOW)
    new = pack("demo", resource(Kind.ACTION, "demo.a", description="v2"), version="2.0.0")
    registry.apply(plan_registration([new], registry.state()), now="later")

    assert registry.get_resource(Kind.RULE, "demo.r") is None
    action = registry.get_resource(Kind.ACTION, "demo.a")
    assert action is not None and action.body["description"] == "v2"
    pack_row = registry.get_pack("demo")
    assert pack_row is not None and pack_row.version == "2.0.0"
    assert pack_row.registered_at == "later"
    assert registry.get_resource(Kind.ACTION, "other.a") is not None  # untouched

    registry.apply(plan_registration([], registry.state(), remove={"other"}), now=NOW)
    assert registry.get_pack("other") is None
    assert registry.list_resources(Kind.ACTION, pack="other") == []


def test_failed_apply_changes_nothing(engine: sa.Engine) -> None:
    registry = SqlContentRegistry(engine)
    first = pack("demo", resource(Kind.ACTION, "demo.a"))
    registry.apply(plan_registration([first], registry.state()), now=NOW)
    before = registry.state()
    # A plan that creates demo.c and then collides on demo.a half-way through.
    update = pack("demo", resource(Kind.ACTION, "demo.a", v=2), resource(Kind.ACTION, "demo.c"))
    good = plan_registration([update], before)
    collision = ResourceChange(Operation.CREATE, Kind.ACTION, "demo.a", "demo", first.resources[0])
    bad = Plan(good.packs, (*good.resources, collision), ())
    with pytest.raises(Conflict, match=r"(?i)unique|duplicate|integrity|constraint"):
        registry.apply(bad, now=NOW)
    assert registry.state() == before


def test_fast_reader_agrees_with_sqlalchemy_adapter(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    engine = create_engine(f"sqlite:///{database}")
    migrate.upgrade(engine)
    registry = SqlContentRegistry(engine)
    demo = pack(
        "demo",
        resource(Kind.ACTION, "demo.a", parameters={"x": {"type": "string"}}),
        resource(Kind.SENSOR, "demo.Watcher"),
    )
    extra = pack("extra", resource(Kind.ACTION, "extra.b"))
    registry.apply(plan_registration([demo, extra], registry.state()), now=NOW)
    reader = SqliteRegistryReader(database)
    assert reader.list_packs() == registry.list_packs()
    assert reader.get_pack("demo") == registry.get_pack("demo")
    assert reader.get_pack("nope") is None
    for kind in Kind:
        assert reader.list_resources(kind) == registry.list_resources(kind)
        assert reader.list_resources(kind, pack="demo") == registry.list_resources(kind, "demo")
    assert reader.get_resource(Kind.ACTION, "demo.a") == registry.get_resource(
        Kind.ACTION, "demo.a"
    )
    assert reader.state() == registry.state()
    assert reader.state(["extra"]) == registry.state(["extra"])
    engine.dispose()
