"""Inquiries (core.ask) on a real instance: asked, listed, answered against their schema."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from packhorse.engine.inquiries import Inquiry, InvalidResponse, NotPermitted, permission_problem
from packhorse.engine.runtime import Runtime, build_runtime
from packhorse.errors import Conflict, NotFound
from packhorse.model.execution import Status
from packhorse.params.documents import draft4_schema
from packhorse.settings import load_settings


def _ask(home: Path, **parameters: object) -> tuple[Runtime, str]:
    runtime = build_runtime(load_settings(home), slots=1)
    execution = runtime.executions.request("core.ask", parameters, user="admin")

    async def until_pending() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(runtime.worker.run(stop))
        while runtime.executions.get(execution.id).status is not Status.PENDING:
            await asyncio.sleep(0.01)
        stop.set()
        await worker

    asyncio.run(asyncio.wait_for(until_pending(), 20))
    return runtime, execution.id


def test_an_inquiry_waits_pending_with_its_question(instance_home: Path) -> None:
    runtime, inquiry_id = _ask(instance_home, route="ops", ttl=30)
    pending = runtime.executions.get(inquiry_id)
    assert pending.claimed_by is None  # nobody holds it while a person thinks
    assert set(pending.result) == {"schema", "roles", "users", "route", "ttl"}
    listed = runtime.inquiries.list()
    assert [i.id for i in listed] == [inquiry_id]
    assert listed[0].route == "ops" and listed[0].ttl == 30
    assert listed[0].schema["properties"]["continue"]["type"] == "boolean"
    # A restart does not abandon it: it is waiting for an answer, not for a worker.
    assert runtime.recover() == []
    assert runtime.executions.get(inquiry_id).status is Status.PENDING


def test_a_valid_answer_completes_it_with_the_response(instance_home: Path) -> None:
    runtime, inquiry_id = _ask(instance_home)
    answered = runtime.inquiries.respond(
        inquiry_id, {"continue": True}, user="admin", role="operator"
    )
    assert answered.status == "succeeded"
    done = runtime.executions.get(inquiry_id)
    assert done.status is Status.SUCCEEDED
    assert done.result["response"] == {"continue": True}
    assert runtime.inquiries.list() == []
    with pytest.raises(Conflict, match="not pending"):
        runtime.inquiries.respond(inquiry_id, {"continue": True}, user="admin", role="operator")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({}, "'continue' is a required property"),
        ({"continue": "yes"}, "continue: 'yes' is not of type 'boolean'"),
        ([], "is not of type 'object'"),
    ],
)
def test_an_answer_that_breaks_the_schema_is_refused(
    instance_home: Path, answer: object, message: str
) -> None:
    runtime, inquiry_id = _ask(instance_home)
    with pytest.raises(InvalidResponse, match=message):
        runtime.inquiries.respond(inquiry_id, answer, user="admin", role="operator")
    assert runtime.executions.get(inquiry_id).status is Status.PENDING


def test_only_listed_users_may_answer(instance_home: Path) -> None:
    runtime, inquiry_id = _ask(instance_home, users=["alice"])
    with pytest.raises(NotPermitted, match="'bob' may not answer"):
        runtime.inquiries.respond(inquiry_id, {"continue": True}, user="bob", role="operator")
    runtime.inquiries.respond(inquiry_id, {"continue": False}, user="alice", role="operator")


def test_only_holders_of_a_listed_role_may_answer(instance_home: Path) -> None:
    runtime, inquiry_id = _ask(instance_home, roles=["operator"])
    for role in ("viewer", None):
        with pytest.raises(NotPermitted, match="may not answer") as refused:
            runtime.inquiries.respond(inquiry_id, {"continue": True}, user="bob", role=role)
        assert refused.value.hint == "allowed roles: operator"
    runtime.inquiries.respond(inquiry_id, {"continue": True}, user="bob", role="operator")


@pytest.mark.parametrize(
    ("users", "roles", "user", "role", "allowed"),
    [
        ([], [], "anyone", None, True),
        (["alice"], [], "alice", "viewer", True),
        (["alice"], [], "bob", "admin", False),  # users name people: admin is not alice
        ([], ["viewer"], "bob", "operator", True),  # an operator holds the viewer role
        ([], ["operator"], "bob", "viewer", False),
        ([], ["approvers"], "bob", "operator", False),  # a StackStorm RBAC role we lack
        ([], ["approvers"], "root", "admin", True),  # admin holds every role
        (["alice"], ["admin"], "alice", "operator", False),  # both checks must pass
        (["alice"], ["admin"], "alice", "admin", True),
    ],
)
def test_who_may_answer_users_and_roles_both_checked(
    users: list[str], roles: list[str], user: str, role: str | None, allowed: bool
) -> None:
    inquiry = Inquiry(
        id="i1",
        status="pending",
        schema={},
        roles=roles,
        users=users,
        route="",
        ttl=0,
        parent=None,
        created_at="2026-01-01T00:00:00.000000Z",
    )
    assert (permission_problem(inquiry, user=user, role=role) is None) is allowed


def test_an_unanswered_inquiry_times_out_after_its_ttl(instance_home: Path) -> None:
    runtime, inquiry_id = _ask(instance_home, ttl=1)
    assert runtime.inquiries.expire() == 0
    runtime.inquiries._clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    assert runtime.inquiries.expire() == 1
    assert runtime.executions.get(inquiry_id).status is Status.TIMEOUT


def test_get_of_something_that_is_not_an_inquiry(instance_home: Path) -> None:
    runtime = build_runtime(load_settings(instance_home), slots=1)
    noop = runtime.executions.request("core.noop", {}, user="admin")
    with pytest.raises(NotFound):
        runtime.inquiries.get(noop.id)


def test_draft3_required_flags_become_a_required_list() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "required": True},
            "b": {"type": "object", "properties": {"c": {"type": "integer", "required": True}}},
        },
    }
    converted = draft4_schema(schema)
    assert converted["required"] == ["a"]
    assert "required" not in converted["properties"]["a"]
    assert converted["properties"]["b"]["required"] == ["c"]


def test_gc_times_out_expired_inquiries(instance_home: Path) -> None:
    from packhorse.engine.retention import collect

    runtime, inquiry_id = _ask(instance_home, ttl=5)
    soon = collect(runtime.store, now=dt.datetime.now(dt.UTC), executions_days=30)
    assert soon.inquiries_expired == 0
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)
    report = collect(runtime.store, now=later, executions_days=30)
    assert report.inquiries_expired == 1
    assert runtime.executions.get(inquiry_id).status is Status.TIMEOUT


CONSOLE = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "console"


@pytest.mark.parametrize(
    ("approved", "status", "output"),
    [(True, Status.SUCCEEDED, {"note": "ship it"}), (False, Status.FAILED, {"note": None})],
)
def test_an_answer_resumes_the_workflow_before_its_task_completes(
    instance_home: Path, approved: bool, status: Status, output: dict[str, object]
) -> None:
    """As StackStorm: the paused workflow is resumed, then the inquiry's task completes, so its
    transitions apply to a running workflow. A ``do: fail`` taken on the answer fails the
    workflow (it used to be ignored by the paused workflow, which then succeeded)."""
    import shutil

    from tests.engine.workflow_helpers import ended, scenario

    from packhorse import bootstrap

    shutil.copytree(CONSOLE, instance_home / "packs" / "console")
    settings = load_settings(instance_home)
    assert bootstrap.register_instance_packs(settings, refs=["console"]).ok
    runtime = build_runtime(settings, slots=4)
    workflow = runtime.executions.request("console.approve", {"users": []}, user="admin").id
    asked: list[str] = []

    def asking() -> bool:
        asked[:] = [
            c.id for c in runtime.workflows.store.children(workflow) if c.status is Status.PENDING
        ]
        return bool(asked) and runtime.executions.get(workflow).status is Status.PAUSED

    def answer() -> None:
        response = {"approved": approved, "note": "ship it"} if approved else {"approved": False}
        runtime.inquiries.respond(asked[0], response, user="admin", role="admin")

    asyncio.run(scenario(runtime, [(asking, answer), (ended(runtime, workflow), lambda: None)]))
    done = runtime.executions.get(workflow)
    assert done.status is status, done.result
    assert done.result["output"] == output
