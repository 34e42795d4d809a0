"""The registration planner: a pure diff, checked on hand-made packs."""

from __future__ import annotations

from packhorse.model.content import Kind, Pack, RegistryState, Resource
from packhorse.packs.plan import Operation, plan_registration


def resource(kind: Kind, ref: str, body: dict[str, object] | None = None) -> Resource:
    pack, _, name = ref.partition(".")
    return Resource(kind, ref, pack, name, f"{kind.value}s/{name}.yaml", body or {"name": name})


def pack(ref: str, *resources: Resource, version: str = "1.0.0") -> Pack:
    return Pack(ref, f"/packs/{ref}", {"ref": ref, "version": version}, ("pack.yaml",), resources)


def state_of(*packs: Pack) -> RegistryState:
    return RegistryState(
        {p.ref: p.digest for p in packs},
        {(r.kind, r.ref): (p.ref, r.digest) for p in packs for r in p.resources},
    )


def test_new_pack_creates_pack_and_every_resource_triggers_before_rules() -> None:
    new = pack(
        "demo",
        resource(Kind.RULE, "demo.on_hook"),
        resource(Kind.ACTION, "demo.hello"),
        resource(Kind.TRIGGER_TYPE, "demo.event"),
    )
    plan = plan_registration([new], RegistryState({}, {}))
    assert [(c.operation, c.ref) for c in plan.packs] == [(Operation.CREATE, "demo")]
    assert [c.kind for c in plan.resources] == [Kind.TRIGGER_TYPE, Kind.ACTION, Kind.RULE]
    assert plan.counts() == {"create": 3, "update": 0, "delete": 0}


def test_unchanged_pack_plans_nothing() -> None:
    current = pack("demo", resource(Kind.ACTION, "demo.hello"))
    plan = plan_registration([current], state_of(current))
    assert plan.is_empty
    assert plan.unchanged == ("demo",)


def test_changed_body_updates_and_removed_resource_is_deleted() -> None:
    old = pack("demo", resource(Kind.ACTION, "demo.a"), resource(Kind.RULE, "demo.r"))
    new = pack("demo", resource(Kind.ACTION, "demo.a", {"name": "a", "description": "changed"}))
    plan = plan_registration([new], state_of(old))
    operations = {(c.operation, c.kind, c.ref) for c in plan.resources}
    assert operations == {
        (Operation.UPDATE, Kind.ACTION, "demo.a"),
        (Operation.DELETE, Kind.RULE, "demo.r"),
    }
    assert [c.operation for c in plan.packs] == [Operation.UPDATE]
    # deletes come first so that a delete and a create of the same ref cannot collide
    assert plan.resources[0].operation is Operation.DELETE


def test_pack_metadata_change_alone_updates_the_pack() -> None:
    old = pack("demo", resource(Kind.ACTION, "demo.a"))
    new = pack("demo", resource(Kind.ACTION, "demo.a"), version="1.1.0")
    plan = plan_registration([new], state_of(old))
    assert [c.operation for c in plan.packs] == [Operation.UPDATE]
    assert plan.resources == ()


def test_removed_pack_deletes_pack_and_its_resources_only_when_asked() -> None:
    gone = pack("gone", resource(Kind.ACTION, "gone.a"), resource(Kind.RULE, "gone.r"))
    kept = pack("kept", resource(Kind.ACTION, "kept.a"))
    state = state_of(gone, kept)
    assert plan_registration([kept], state).is_empty
    plan = plan_registration([kept], state, remove={"gone"})
    assert [(c.operation, c.ref) for c in plan.packs] == [(Operation.DELETE, "gone")]
    assert {c.ref for c in plan.resources} == {"gone.a", "gone.r"}
    assert all(c.operation is Operation.DELETE for c in plan.resources)


def test_plan_serialises_for_dry_run_json() -> None:
    plan = plan_registration([pack("demo", resource(Kind.ACTION, "demo.a"))], RegistryState({}, {}))
    document = plan.to_dict()
    assert document["packs"] == [{"operation": "create", "ref": "demo"}]
    assert document["resources"] == [
        {"operation": "create", "kind": "action", "ref": "demo.a", "pack": "demo"}
    ]
