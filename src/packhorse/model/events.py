"""Events: trigger instances, rule enforcements and sensor status, as stored and shown.

Field names follow StackStorm's API (``trigger``, ``payload``, ``occurrence_time``,
``status``) so that what the API and CLI show reads the same.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from packhorse.model.content import canonical_json


class TriggerInstanceStatus(StrEnum):
    PENDING = "pending"
    """Stored; the rules have not seen it yet (or a crash interrupted them)."""
    PROCESSED = "processed"
    PROCESSING_FAILED = "processing_failed"
    HELD = "held"
    """Stored while the instance's intake was not open (a cutover drains it): the rules do not
    see it; a handover gives it to the successor (model/intake.py)."""
    HANDED_OVER = "handed_over"
    """Held, then given to the successor instance, which processes it under the same id."""


@dataclass(frozen=True)
class TriggerInstance:
    id: str
    trigger: str
    """The trigger ref: the type's ref, or ``<pack>.<uuid>`` for a parameterised trigger."""
    trigger_type: str
    payload: Mapping[str, Any]
    occurrence_time: str
    status: TriggerInstanceStatus = TriggerInstanceStatus.PENDING
    source: str = ""
    """Who emitted it: ``webhook``, ``timer``, ``sensor:<ref>``, ``api``, ``re-emit:<id>``..."""
    trace_tag: str | None = None
    created_at: str = ""


@dataclass(frozen=True)
class Enforcement:
    id: str
    rule: str
    trigger_instance_id: str
    execution_id: str | None
    failure_reason: str | None
    enforced_at: str

    @property
    def succeeded(self) -> bool:
        return self.failure_reason is None


@dataclass(frozen=True)
class SensorStatus:
    ref: str
    state: str
    """``starting``, ``running``, ``backoff`` (waiting to restart), ``failed`` (gave up),
    ``stopped``."""
    pid: int | None = None
    restarts: int = 0
    last_error: str | None = None
    started_at: str | None = None
    updated_at: str = ""

    def fields(self) -> dict[str, Any]:
        """Everything but the ref, by name (as stored and as ``sensor list --json`` shows)."""
        return {
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Trigger:
    """A trigger type bound to parameters (what a rule listens to). A type without
    parameters has one trigger whose ref is the type's ref."""

    type: str
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return trigger_ref(self.type, self.parameters)


_NAMESPACE = uuid.UUID("5d6b8f3e-2f0c-4f0e-9c1a-7a4f1b2c3d4e")


def trigger_ref(trigger_type: str, parameters: Mapping[str, Any] | None) -> str:
    """The ref of ``trigger_type`` bound to ``parameters``: the type's ref when there are
    none, else ``<pack>.<uuid>`` as StackStorm names it, the uuid derived from the type and
    the parameters so that every process (and every restart) names it the same."""
    if not parameters:
        return trigger_type
    pack = trigger_type.split(".", 1)[0]
    digest = hashlib.sha256(f"{trigger_type}\n{canonical_json(parameters)}".encode()).hexdigest()
    return f"{pack}.{uuid.uuid5(_NAMESPACE, digest)}"


def instance_record(instance: TriggerInstance) -> dict[str, Any]:
    """A trigger instance as StackStorm's API shows it (plus where it came from)."""
    return {
        "id": instance.id,
        "trigger": instance.trigger,
        "trigger_type": instance.trigger_type,
        "occurrence_time": instance.occurrence_time,
        "status": instance.status.value,
        "payload": dict(instance.payload),
        "source": instance.source,
        "trace_tag": instance.trace_tag,
    }


def enforcement_record(enforcement: Enforcement) -> dict[str, Any]:
    return {
        "id": enforcement.id,
        "rule": {"ref": enforcement.rule},
        "trigger_instance_id": enforcement.trigger_instance_id,
        "execution_id": enforcement.execution_id,
        "failure_reason": enforcement.failure_reason,
        "status": "succeeded" if enforcement.succeeded else "failed",
        "enforced_at": enforcement.enforced_at,
    }
