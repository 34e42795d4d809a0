"""The import plan, pure: a diff of a bundle's contents against a target's state."""

from __future__ import annotations

from typing import Any

from packhorse.migrate.import_plan import (
    Action,
    BundleContents,
    BundlePack,
    KeyState,
    Kind,
    TargetState,
    plan_import,
)


def contents(**fields: Any) -> BundleContents:
    empty: dict[str, Any] = {
        "packs": {},
        "configs": {},
        "keys": {},
        "rules": {},
        "users": {},
        "api_keys": {},
        "trigger_instances": {},
        "rule_enforcements": {},
        "executions": {},
        "pack_sources": {},
    }
    return BundleContents(**(empty | fields))


def target(**fields: Any) -> TargetState:
    empty: dict[str, Any] = {
        "packs": {},
        "configs": {},
        "keys": {},
        "rules": {},
        "users": {},
        "api_keys": {},
        "trigger_instances": frozenset(),
        "rule_enforcements": frozenset(),
        "executions": frozenset(),
    }
    return TargetState(**(empty | fields))


def actions(plan: Any) -> dict[tuple[str, str], str]:
    return {(c.kind.value, c.name): c.action.value for c in plan.changes}


def test_packs_are_compared_by_their_files() -> None:
    bundle = contents(
        packs={
            "same": BundlePack("1.0.0", "d1", {}),
            "newer": BundlePack("2.0.0", "d2", {}),
            "new": BundlePack("0.1.0", "d3", {}),
        }
    )
    here = target(packs={"same": ("1.0.0", "d1"), "newer": ("1.0.0", "dx"), "mine": ("3", "d4")})
    plan = plan_import(bundle, here)
    assert actions(plan) == {
        ("pack", "same"): "unchanged",
        ("pack", "newer"): "update",
        ("pack", "new"): "add",
        ("pack", "mine"): "keep",
    }
    assert plan.writes
    assert actions(plan_import(bundle, here, prune=True))[("pack", "mine")] == "remove"
    update = next(c for c in plan.changes if c.name == "newer")
    assert update.detail == "1.0.0 -> 2.0.0"


def test_keys_compare_clear_values_and_skip_secrets_left_out() -> None:
    secret = KeyState(True, "clear", "", None)
    bundle = contents(
        keys={
            ("system", "", "a"): (secret, {}),
            ("system", "", "b"): (KeyState(False, "2", "", None), {}),
            ("system", "", "c"): (None, {}),
        }
    )
    here = target(
        keys={("system", "", "a"): secret, ("system", "", "b"): KeyState(False, "1", "", None)}
    )
    assert actions(plan_import(bundle, here)) == {
        ("key", "system:a"): "unchanged",
        ("key", "system:b"): "update",
        ("key", "system:c"): "skip",
    }


def test_users_differing_are_conflicts_unless_replaced() -> None:
    bundle = contents(
        users={"admin": {"name": "admin", "password_hash": "h1", "role": "admin"}},
        api_keys={"k1": {"id": "k1", "user": "admin", "key_hash": "x", "enabled": True}},
    )
    here = target(users={"admin": {"name": "admin", "password_hash": "h2", "role": "admin"}})
    plan = plan_import(bundle, here)
    assert actions(plan) == {("user", "admin"): "conflict", ("api_key", "k1"): "add"}
    assert actions(plan_import(bundle, here, replace_users=True))[("user", "admin")] == "update"


def test_unfinished_work_is_not_imported() -> None:
    bundle = contents(
        trigger_instances={
            "done": {"id": "done", "status": "processed"},
            "waiting": {"id": "waiting", "status": "pending"},
        },
        executions={
            "ok": {"id": "ok", "status": "succeeded"},
            "busy": {"id": "busy", "status": "running"},
        },
    )
    plan = plan_import(bundle, target(executions=frozenset({"ok"})))
    assert actions(plan) == {
        ("trigger_instance", "done"): "add",
        ("trigger_instance", "waiting"): "skip",
        ("execution", "ok"): "unchanged",
        ("execution", "busy"): "skip",
    }
    assert plan.names(Kind.EXECUTION, Action.SKIP) == ["busy"]


def test_nothing_to_write_when_everything_is_there() -> None:
    bundle = contents(packs={"p": BundlePack("1", "d", {})}, rules={"p.r": False})
    plan = plan_import(bundle, target(packs={"p": ("1", "d")}, rules={"p.r": False}))
    assert not plan.writes and plan.to_dict()["counts"] == {
        "pack": {"unchanged": 1},
        "rule": {"unchanged": 1},
    }
