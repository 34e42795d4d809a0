"""Policy decisions as tables: concurrency (plain and by attribute) and retry."""

from __future__ import annotations

from typing import Any

import pytest

from packhorse.engine.policies import (
    ActionPolicies,
    ConcurrencyPolicy,
    OverLimit,
    RetryOn,
    RetryPolicy,
    plan_retry,
    plan_schedule,
    policies_by_action,
    retry_id,
)
from packhorse.model.content import Kind, Resource
from packhorse.model.execution import Execution, Status

S = Status


def execution(
    execution_id: str,
    status: Status = S.REQUESTED,
    parameters: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
) -> Execution:
    return Execution(
        id=execution_id,
        action_ref="p.a",
        runner_type="local-shell-cmd",
        status=status,
        parameters=parameters or {},
        context=context or {"user": "u"},
        created_at="2026-01-01T00:00:00.000000Z",
    )


DELAY_1 = ConcurrencyPolicy("p.c", threshold=1)
DELAY_2 = ConcurrencyPolicy("p.c", threshold=2)
CANCEL_1 = ConcurrencyPolicy("p.c", threshold=1, over_limit=OverLimit.CANCEL)
ATTR_1 = ConcurrencyPolicy("p.c", threshold=1, attributes=("host",))
ZERO = ConcurrencyPolicy("p.c", threshold=0)

SCHEDULE_CASES: list[
    tuple[
        str,
        ConcurrencyPolicy | None,
        list[Execution],
        list[dict[str, Any]],
        list[tuple[str, Status]],
    ]
] = [
    (
        "no policy schedules all",
        None,
        [execution("a"), execution("b")],
        [{}],
        [("a", S.SCHEDULED), ("b", S.SCHEDULED)],
    ),
    ("free slot", DELAY_1, [execution("a")], [], [("a", S.SCHEDULED)]),
    (
        "second waits",
        DELAY_1,
        [execution("a"), execution("b")],
        [],
        [("a", S.SCHEDULED), ("b", S.DELAYED)],
    ),
    ("full: delayed", DELAY_1, [execution("a")], [{}], [("a", S.DELAYED)]),
    ("already delayed stays, no move", DELAY_1, [execution("a", S.DELAYED)], [{}], []),
    (
        "delayed first in line gets the slot",
        DELAY_1,
        [execution("a", S.DELAYED), execution("b")],
        [],
        [("a", S.SCHEDULED), ("b", S.DELAYED)],
    ),
    (
        "threshold 2",
        DELAY_2,
        [execution("a"), execution("b"), execution("c")],
        [{}],
        [("a", S.SCHEDULED), ("b", S.DELAYED), ("c", S.DELAYED)],
    ),
    (
        "cancel mode",
        CANCEL_1,
        [execution("a"), execution("b")],
        [],
        [("a", S.SCHEDULED), ("b", S.CANCELED)],
    ),
    ("threshold 0 never schedules", ZERO, [execution("a")], [], [("a", S.DELAYED)]),
    (
        "attr: other host free",
        ATTR_1,
        [execution("a", parameters={"host": "x"}), execution("b", parameters={"host": "y"})],
        [{"host": "x"}],
        [("a", S.DELAYED), ("b", S.SCHEDULED)],
    ),
    (
        "attr: same host waits",
        ATTR_1,
        [
            execution("a", parameters={"host": "y", "n": 1}),
            execution("b", parameters={"host": "y", "n": 2}),
        ],
        [],
        [("a", S.SCHEDULED), ("b", S.DELAYED)],
    ),
    (
        "attr: a missing attribute counts as null",
        ATTR_1,
        [execution("a"), execution("b", parameters={"host": None})],
        [{}],
        [("a", S.DELAYED), ("b", S.DELAYED)],
    ),
]


@pytest.mark.parametrize(
    ("policy", "waiting", "active", "expected"),
    [case[1:] for case in SCHEDULE_CASES],
    ids=[case[0] for case in SCHEDULE_CASES],
)
def test_plan_schedule(
    policy: ConcurrencyPolicy | None,
    waiting: list[Execution],
    active: list[dict[str, Any]],
    expected: list[tuple[str, Status]],
) -> None:
    decisions = plan_schedule(policy, waiting, active)
    assert [(i, s) for i, s, _ in decisions] == expected
    for _, status, result in decisions:
        assert (result is not None) == (status is S.CANCELED)


def test_canceled_result_says_which_policy() -> None:
    [_, (_, _, result)] = plan_schedule(CANCEL_1, [execution("a"), execution("b")], [])
    assert result == {
        "message": "Canceled by policy p.c: the concurrency threshold of 1 is reached."
    }


ON_FAILURE = RetryPolicy("p.r", RetryOn.FAILURE, max_retry_count=2, delay=3)
ON_TIMEOUT = RetryPolicy("p.r", RetryOn.TIMEOUT, max_retry_count=1)


def retried(count: int) -> dict[str, Any]:
    return {"user": "u", "policies": {"retry": {"retry_count": count}}}


RETRY_CASES: list[tuple[str, RetryPolicy | None, Execution, Status, int | None]] = [
    ("no policy", None, execution("a"), S.FAILED, None),
    ("failure retried", ON_FAILURE, execution("a"), S.FAILED, 1),
    ("abandoned counts as failure", ON_FAILURE, execution("a"), S.ABANDONED, 1),
    ("timeout not covered by failure", ON_FAILURE, execution("a"), S.TIMEOUT, None),
    ("succeeded never", ON_FAILURE, execution("a"), S.SUCCEEDED, None),
    ("canceled never", ON_FAILURE, execution("a"), S.CANCELED, None),
    ("second retry", ON_FAILURE, execution("a", context=retried(1)), S.FAILED, 2),
    ("max reached", ON_FAILURE, execution("a", context=retried(2)), S.FAILED, None),
    ("timeout retried", ON_TIMEOUT, execution("a"), S.TIMEOUT, 1),
    ("timeout policy, failure", ON_TIMEOUT, execution("a"), S.FAILED, None),
    ("timeout max 1", ON_TIMEOUT, execution("a", context=retried(1)), S.TIMEOUT, None),
    (
        "inside a workflow",
        ON_FAILURE,
        execution("a", context={"parent": {"execution_id": "w"}}),
        S.FAILED,
        None,
    ),
]


@pytest.mark.parametrize(
    ("policy", "original", "status", "count"),
    [case[1:] for case in RETRY_CASES],
    ids=[case[0] for case in RETRY_CASES],
)
def test_plan_retry(
    policy: RetryPolicy | None, original: Execution, status: Status, count: int | None
) -> None:
    retry = plan_retry(policy, original, status)
    if count is None:
        assert retry is None
        return
    assert retry is not None and policy is not None
    new = retry.execution
    assert new.id == retry_id(original.id) != original.id
    assert new.status is S.REQUESTED and new.parameters == original.parameters
    assert new.context["user"] == "u"
    assert new.context["policies"] == {
        "retry": {"applied_policy": "p.r", "retry_count": count, "retried_liveaction_id": "a"}
    }
    assert retry.delay == policy.delay


def policy_resource(name: str, body: dict[str, Any], *, enabled: bool = True) -> Resource:
    return Resource(
        kind=Kind.POLICY,
        ref=f"p.{name}",
        pack="p",
        name=name,
        metadata_file=f"policies/{name}.yaml",
        body={"enabled": enabled, **body},
        enabled=enabled,
    )


def test_policies_by_action_reads_enabled_policies() -> None:
    found = policies_by_action(
        [
            policy_resource(
                "c",
                {
                    "resource_ref": "p.a",
                    "policy_type": "action.concurrency.attr",
                    "parameters": {"threshold": 2, "action": "cancel", "attributes": ["host"]},
                },
            ),
            policy_resource(
                "r",
                {
                    "resource_ref": "p.a",
                    "policy_type": "action.retry",
                    "parameters": {"retry_on": "timeout"},
                },
            ),
            policy_resource(
                "off",
                {
                    "resource_ref": "p.b",
                    "policy_type": "action.concurrency",
                    "parameters": {"threshold": 1},
                },
                enabled=False,
            ),
        ]
    )
    assert found == {
        "p.a": ActionPolicies(
            concurrency=ConcurrencyPolicy("p.c", 2, OverLimit.CANCEL, ("host",)),
            retry=RetryPolicy("p.r", RetryOn.TIMEOUT, 2, 0.0),
        )
    }


class CountingRegistry:
    def __init__(self, resources: list[Resource]) -> None:
        self.resources = resources
        self.reads = 0

    def list_resources(self, kind: Kind, pack: str | None = None) -> list[Resource]:
        assert kind is Kind.POLICY
        self.reads += 1
        return self.resources


def test_policy_book_rereads_the_registry_after_its_ttl() -> None:
    from packhorse.engine.scheduling import PolicyBook

    retry = policy_resource(
        "r",
        {
            "resource_ref": "p.a",
            "policy_type": "action.retry",
            "parameters": {"retry_on": "failure"},
        },
    )
    registry = CountingRegistry([retry])
    now = [0.0]
    book = PolicyBook(registry, ttl=1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert book.for_action("p.a").retry is not None
    assert book.for_action("p.b") == ActionPolicies()
    assert registry.reads == 1
    registry.resources = []  # the policy is unregistered
    now[0] = 0.5
    assert book.for_action("p.a").retry is not None
    now[0] = 1.0
    assert book.for_action("p.a").retry is None
    assert registry.reads == 2
