"""StackStorm's action policies as decisions on plain data (no I/O, no clock).

* ``action.concurrency`` / ``action.concurrency.attr``: whether a waiting execution may be
  scheduled now, given the executions of its action that hold a slot;
* ``action.retry``: the new execution that retries a failed (or timed-out) one.

The storage transaction that applies the scheduling decision and the worker that records
retries are the imperative shell around these functions (``engine/scheduling.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from packhorse.model.content import Resource
from packhorse.model.execution import Execution, Status

ACTIVE: frozenset[Status] = frozenset(
    {Status.SCHEDULED, Status.RUNNING, Status.CANCELING, Status.PENDING}
)
"""Statuses that hold a concurrency slot."""


class OverLimit(StrEnum):
    """What a concurrency policy does with an execution over the threshold."""

    DELAY = "delay"
    CANCEL = "cancel"


class RetryOn(StrEnum):
    FAILURE = "failure"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class ConcurrencyPolicy:
    ref: str
    threshold: int
    over_limit: OverLimit = OverLimit.DELAY
    attributes: tuple[str, ...] | None = None
    """``action.concurrency.attr``: slots are counted per combination of these parameters."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    ref: str
    retry_on: RetryOn
    max_retry_count: int = 2
    delay: float = 0.0
    """Seconds between the end of the failed execution and its retry."""


@dataclass(frozen=True, slots=True)
class ActionPolicies:
    """The enabled policies of one action (StackStorm applies at most one of each kind that
    matters here; with several, the first by policy ref wins)."""

    concurrency: ConcurrencyPolicy | None = None
    retry: RetryPolicy | None = None


NO_POLICIES = ActionPolicies()


def policies_by_action(resources: Iterable[Resource]) -> dict[str, ActionPolicies]:
    """Registered ``Kind.POLICY`` resources -> enabled policies per action ref."""
    found: dict[str, ActionPolicies] = {}
    for resource in sorted(resources, key=lambda r: r.ref):
        body = resource.body
        if not resource.enabled or body.get("enabled") is False:
            continue
        target = str(body.get("resource_ref") or "")
        parameters: Mapping[str, Any] = body.get("parameters") or {}
        current = found.get(target, NO_POLICIES)
        match body.get("policy_type"):
            case "action.concurrency" | "action.concurrency.attr" as kind:
                if current.concurrency is not None:
                    continue
                attributes = None
                if kind == "action.concurrency.attr":
                    attributes = tuple(str(a) for a in parameters.get("attributes") or ())
                policy = ConcurrencyPolicy(
                    ref=resource.ref,
                    threshold=int(parameters.get("threshold", 0)),
                    over_limit=OverLimit(parameters.get("action") or "delay"),
                    attributes=attributes,
                )
                found[target] = replace(current, concurrency=policy)
            case "action.retry":
                if current.retry is not None:
                    continue
                retry = RetryPolicy(
                    ref=resource.ref,
                    retry_on=RetryOn(parameters["retry_on"]),
                    max_retry_count=int(parameters.get("max_retry_count", 2)),
                    delay=float(parameters.get("delay") or 0),
                )
                found[target] = replace(current, retry=retry)
            case _:
                continue
    return found


# -- concurrency ------------------------------------------------------------------------------


def _slot_key(policy: ConcurrencyPolicy | None, parameters: Mapping[str, Any]) -> str:
    if policy is None or policy.attributes is None:
        return ""
    return json.dumps(
        [parameters.get(name) for name in policy.attributes], sort_keys=True, default=str
    )


def plan_schedule(
    policy: ConcurrencyPolicy | None,
    waiting: Sequence[Execution],
    active: Sequence[Mapping[str, Any]],
) -> list[tuple[str, Status, Any]]:
    """Decide, oldest first, what happens to each waiting execution: ``(id, status, result)``.

    ``active`` are the parameters of the action's executions that hold a slot. An execution is
    scheduled while its slot count (per attribute values for ``.attr``) is under the threshold;
    otherwise it is delayed (nothing is returned for one already delayed) or canceled. Counts
    only grow during one pass, so FIFO order holds per slot key. Without a policy, everything
    waiting is scheduled.
    """
    counts: dict[str, int] = {}
    for parameters in active:
        key = _slot_key(policy, parameters)
        counts[key] = counts.get(key, 0) + 1
    decisions: list[tuple[str, Status, Any]] = []
    for execution in waiting:
        key = _slot_key(policy, execution.parameters)
        if policy is None or counts.get(key, 0) < policy.threshold:
            counts[key] = counts.get(key, 0) + 1
            decisions.append((execution.id, Status.SCHEDULED, None))
        elif policy.over_limit is OverLimit.CANCEL:
            decisions.append((execution.id, Status.CANCELED, canceled_result(policy)))
        elif execution.status is not Status.DELAYED:
            decisions.append((execution.id, Status.DELAYED, None))
    return decisions


def canceled_result(policy: ConcurrencyPolicy) -> dict[str, Any]:
    """What a policy-canceled execution records (StackStorm records no result; we say why)."""
    return {
        "message": (
            f"Canceled by policy {policy.ref}: the concurrency threshold of "
            f"{policy.threshold} is reached."
        )
    }


# -- retry ------------------------------------------------------------------------------------

RETRYABLE: Mapping[RetryOn, frozenset[Status]] = {
    # StackStorm retries failed executions only; Packhorse also retries abandoned ones (the
    # worker died under them), which StackStorm has no status for.
    RetryOn.FAILURE: frozenset({Status.FAILED, Status.ABANDONED}),
    RetryOn.TIMEOUT: frozenset({Status.TIMEOUT}),
}


def retry_count(context: Mapping[str, Any]) -> int:
    """``context.policies.retry.retry_count``, where StackStorm records it."""
    policies = context.get("policies") or {}
    retry = policies.get("retry") if isinstance(policies, Mapping) else None
    count = retry.get("retry_count", 0) if isinstance(retry, Mapping) else 0
    return count if isinstance(count, int) else 0


def retry_id(original_id: str) -> str:
    """The retry's id, derived from the original's: recording it twice inserts nothing twice."""
    return hashlib.sha256(f"retry:{original_id}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Retry:
    execution: Execution
    """The new execution (``requested``), to be stored with the original's result."""
    delay: float


def plan_retry(policy: RetryPolicy | None, execution: Execution, status: Status) -> Retry | None:
    """The retry of ``execution`` ending with ``status``, or None.

    Like StackStorm: same action, parameters and context, plus ``context.policies.retry``
    (``applied_policy``, ``retry_count``, ``retried_liveaction_id``); never inside a workflow.
    ``created_at`` and ``run_after`` are left for the caller, who owns the clock.
    """
    if policy is None or status not in RETRYABLE[policy.retry_on]:
        return None
    if execution.context.get("parent") or execution.parent_id:
        return None
    count = retry_count(execution.context)
    if count + 1 > policy.max_retry_count:
        return None
    context = dict(execution.context)
    context["policies"] = {
        "retry": {
            "applied_policy": policy.ref,
            "retry_count": count + 1,
            "retried_liveaction_id": execution.id,
        }
    }
    new = Execution(
        id=retry_id(execution.id),
        action_ref=execution.action_ref,
        runner_type=execution.runner_type,
        status=Status.REQUESTED,
        parameters=execution.parameters,
        context=context,
        created_at=execution.created_at,
    )
    return Retry(new, policy.delay)
