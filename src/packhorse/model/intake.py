"""An instance's intake: whether it takes in new work (cutover drains it; model only).

``open``: webhooks, sensors and timers make trigger instances that the rules process, and
queued executions start. ``draining`` and ``closed``: sensors and timers stop, webhooks are
still answered ``202`` but stored ``held`` (the rules do not see them), executions already
running go on (the tasks of running workflows too) but queued top-level executions do not
start: a handover gives both to the successor. ``draining`` says the cutover is under way,
``closed`` that it is done. Every process of the instance acknowledges each change (its
``generation``) once it applies it, which is what a cutover waits for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from packhorse.model.events import TriggerInstance, TriggerInstanceStatus
from packhorse.model.execution import Execution, Status


class IntakeStatus(StrEnum):
    OPEN = "open"
    DRAINING = "draining"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class IntakeState:
    """The one intake row of an instance."""

    status: IntakeStatus
    generation: int
    """Bumped by every change: processes acknowledge the generation they applied."""
    successor: str | None = None
    """Where the instance's work goes (the new instance's URL), while not open."""
    reason: str | None = None
    changed_at: str | None = None

    @property
    def open(self) -> bool:
        return self.status is IntakeStatus.OPEN

    def fields(self) -> dict[str, Any]:
        return {
            "state": self.status.value,
            "generation": self.generation,
            "successor": self.successor,
            "reason": self.reason,
            "changed_at": self.changed_at,
        }

    @classmethod
    def from_fields(cls, document: Mapping[str, Any]) -> IntakeState:
        return cls(
            status=IntakeStatus(document["state"]),
            generation=int(document["generation"]),
            successor=document.get("successor"),
            reason=document.get("reason"),
            changed_at=document.get("changed_at"),
        )


@dataclass(frozen=True, slots=True)
class IntakeView:
    """An instance's intake as a cutover sees it."""

    state: IntakeState
    waiting_for: tuple[str, ...] = ()
    """Live processes that have not applied ``state.generation`` yet."""
    running: tuple[str, ...] = ()
    """Executions in flight (started, or workflow tasks)."""
    parked: tuple[str, ...] = ()
    """Paused workflows and pending inquiries: not waited for."""
    pending: int = 0
    """Trigger instances stored before the drain that the rules have not processed yet: the
    executions they request are queued work to hand over, so a cutover waits for them."""


INITIAL = IntakeState(IntakeStatus.OPEN, 0)
"""An instance whose intake was never changed."""


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What one process of the instance last applied."""

    node: str
    generation: int
    seen_at: str
    """When it last looked (its heartbeat): a process silent for long is taken as gone."""

    def fields(self) -> dict[str, Any]:
        return {"node": self.node, "generation": self.generation, "seen_at": self.seen_at}


def handed_over_result(successor: str) -> dict[str, Any]:
    """The result of a queued execution handed over to ``successor``: it ends ``canceled``
    here (a StackStorm status, final) and runs there under the same id."""
    return {"handed_over_to": successor, "message": f"handed over to {successor}"}


def is_handed_over(result: Any) -> bool:
    return isinstance(result, Mapping) and "handed_over_to" in result


@dataclass(frozen=True, slots=True)
class Parcel:
    """What one instance hands to another: held trigger instances and queued top-level
    executions, each under its own id."""

    instances: tuple[TriggerInstance, ...] = ()
    executions: tuple[Execution, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.instances and not self.executions

    def fields(self) -> dict[str, Any]:
        return {
            "trigger_instances": [_instance_fields(i) for i in self.instances],
            "executions": [_execution_fields(e) for e in self.executions],
        }

    @classmethod
    def from_fields(cls, document: Mapping[str, Any]) -> Parcel:
        return cls(
            tuple(_instance(d) for d in document.get("trigger_instances") or ()),
            tuple(_execution(d) for d in document.get("executions") or ()),
        )


@dataclass(frozen=True, slots=True)
class Moved:
    """How many trigger instances and executions a receive stored (or a handover marked)."""

    instances: int = 0
    executions: int = 0

    def __add__(self, other: Moved) -> Moved:
        return Moved(self.instances + other.instances, self.executions + other.executions)

    def fields(self) -> dict[str, int]:
        return {"trigger_instances": self.instances, "executions": self.executions}

    @classmethod
    def from_fields(cls, document: Mapping[str, Any]) -> Moved:
        return cls(int(document["trigger_instances"]), int(document["executions"]))


def _instance_fields(instance: TriggerInstance) -> dict[str, Any]:
    return {
        "id": instance.id,
        "trigger": instance.trigger,
        "trigger_type": instance.trigger_type,
        "payload": dict(instance.payload),
        "occurrence_time": instance.occurrence_time,
        "source": instance.source,
        "trace_tag": instance.trace_tag,
        "created_at": instance.created_at,
    }


def _instance(document: Mapping[str, Any]) -> TriggerInstance:
    return TriggerInstance(
        id=str(document["id"]),
        trigger=str(document["trigger"]),
        trigger_type=str(document["trigger_type"]),
        payload=dict(document.get("payload") or {}),
        occurrence_time=str(document["occurrence_time"]),
        status=TriggerInstanceStatus.HELD,
        source=str(document.get("source") or ""),
        trace_tag=document.get("trace_tag"),
        created_at=str(document.get("created_at") or document["occurrence_time"]),
    )


def _execution_fields(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "action_ref": execution.action_ref,
        "runner_type": execution.runner_type,
        "status": execution.status.value,
        "parameters": dict(execution.parameters),
        "context": dict(execution.context),
        "created_at": execution.created_at,
        "attempt": execution.attempt,
        "run_after": execution.run_after,
    }


def _execution(document: Mapping[str, Any]) -> Execution:
    return Execution(
        id=str(document["id"]),
        action_ref=str(document["action_ref"]),
        runner_type=str(document["runner_type"]),
        status=Status(document.get("status") or Status.REQUESTED.value),
        parameters=dict(document.get("parameters") or {}),
        context=dict(document.get("context") or {}),
        created_at=str(document["created_at"]),
        attempt=int(document.get("attempt") or 1),
        run_after=document.get("run_after"),
    )
