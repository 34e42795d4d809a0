"""The events pipeline on a real instance: trigger instances stored first, rules matched and
enforced with their executions in one transaction, backstops, failures recorded, crash-safe
re-processing, action and notify triggers read from the execution log."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.engine.events import InvalidPayload
from packhorse.engine.runtime import Runtime, build_runtime
from packhorse.errors import NotFound
from packhorse.model.content import Kind
from packhorse.model.datastore import Scope
from packhorse.model.events import Enforcement, TriggerInstance, TriggerInstanceStatus
from packhorse.model.execution import Status
from packhorse.model.rules import Rule
from packhorse.settings import load_settings
from packhorse.storage.events import EnforcementFilter, InstanceFilter
from packhorse.storage.executions import ExecutionFilter

SIGNALS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "signals"


def signals_runtime(home: Path) -> Runtime:
    shutil.copytree(SIGNALS, home / "packs" / "signals")
    settings = load_settings(home)
    outcome = bootstrap.register_instance_packs(settings, refs=["signals"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    runtime = build_runtime(settings, slots=4)
    runtime.rules._ttl = 0  # see registry changes at once
    runtime.events._ttl = 0
    return runtime


@pytest.fixture
def runtime(instance_home: Path) -> Runtime:
    return signals_runtime(instance_home)


async def drive(
    runtime: Runtime, until: Callable[[], bool], *, limit: float = 20, events: bool = True
) -> None:
    """Run the worker (and the rules engine and the execution triggers) until ``until()``."""
    stop = asyncio.Event()
    loops = [asyncio.create_task(runtime.worker.run(stop))]
    if events:
        loops.append(asyncio.create_task(runtime.rules.run(stop)))
        loops.append(asyncio.create_task(runtime.execution_triggers.run(stop)))
    try:
        deadline = asyncio.get_running_loop().time() + limit
        while not until():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.gather(*loops)


def enforcements(runtime: Runtime, instance_id: str) -> dict[str, Enforcement]:
    found = runtime.events.store.enforcements(EnforcementFilter(trigger_instance_id=instance_id))
    return {e.rule: e for e in found}


def stored(runtime: Runtime, instance_id: str) -> TriggerInstance:
    found = runtime.events.store.get(instance_id)
    assert found is not None
    return found


def alert(runtime: Runtime, **payload: str) -> str:
    return runtime.events.emit("signals.alert", payload, source="test").id


def test_a_matching_rule_runs_its_action_with_parameters_from_the_payload(
    runtime: Runtime,
) -> None:
    runtime.datastore.set_value("oncall", "ada", scope=Scope.SYSTEM)
    instance_id = alert(runtime, service="web", severity="CRITICAL")
    assert stored(runtime, instance_id).status is TriggerInstanceStatus.PENDING
    written = runtime.rules.process_pending()
    assert written == 1
    done = enforcements(runtime, instance_id)
    assert set(done) == {"signals.page_critical"}  # the backstop stays quiet
    execution_id = done["signals.page_critical"].execution_id
    assert execution_id is not None
    assert stored(runtime, instance_id).status is TriggerInstanceStatus.PROCESSED
    execution = runtime.executions.get(execution_id)
    assert execution.context["rule"]["ref"] == "signals.page_critical"
    assert execution.context["trigger_instance"]["id"] == instance_id
    assert execution.context["user"] == runtime.settings.system_user
    asyncio.run(drive(runtime, lambda: runtime.executions.get(execution_id).completed))
    finished = runtime.executions.get(execution_id)
    assert finished.status is Status.SUCCEEDED
    assert finished.result["stdout"] == "PAGE web ada"


def test_the_backstop_fires_only_when_no_standard_rule_matched(runtime: Runtime) -> None:
    instance_id = alert(runtime, service="web", severity="low")
    runtime.rules.process_pending()
    assert set(enforcements(runtime, instance_id)) == {"signals.everything_else"}


def test_a_payload_that_breaks_the_schema_is_refused_and_nothing_is_stored(
    runtime: Runtime,
) -> None:
    with pytest.raises(InvalidPayload, match="severity"):
        runtime.events.emit("signals.alert", {"service": "web"}, source="test")
    with pytest.raises(NotFound):
        runtime.events.emit("signals.nope", {}, source="test")
    assert runtime.events.store.find(InstanceFilter()) == []


def test_parameters_that_do_not_render_record_a_failed_enforcement(runtime: Runtime) -> None:
    instance_id = alert(runtime, service="web", severity="odd")
    runtime.rules.process_pending()
    failed = enforcements(runtime, instance_id)["signals.broken_parameters"]
    assert failed.execution_id is None
    assert failed.failure_reason is not None and "missing" in failed.failure_reason
    assert stored(runtime, instance_id).status is TriggerInstanceStatus.PROCESSED
    assert runtime.executions.list(_all()) == []


def _all() -> ExecutionFilter:
    return ExecutionFilter(limit=1000)


def test_processing_again_after_a_crash_enforces_nothing_twice(runtime: Runtime) -> None:
    instance_id = alert(runtime, service="web", severity="critical")
    instance = runtime.events.store.get(instance_id)
    assert instance is not None
    # A crash after the rule's transaction, before the instance was marked processed:
    first = runtime.rules.process(instance)
    runtime.events.store.set_status(instance_id, TriggerInstanceStatus.PENDING)
    assert [e.rule for e in first] == ["signals.page_critical"]
    # ... start-up processes it again.
    assert runtime.rules.process_pending() == 1
    assert runtime.rules.process(instance) == []
    assert len(runtime.executions.list(_all())) == 1
    # Even a second enforcement of the same rule, racing, writes nothing.
    assert runtime.rules.enforce(_rule(runtime, "signals.page_critical"), instance) is None
    assert len(runtime.executions.list(_all())) == 1


def _rule(runtime: Runtime, ref: str) -> Rule:
    return next(rule for rule in runtime.rules.matcher().rules if rule.ref == ref)


def test_a_rules_engine_killed_holding_claims_leaves_them_to_the_next_start(
    runtime: Runtime,
) -> None:
    """Its claims are given back at once when its process is gone (same host); another
    engine's, alive, are left to their lease."""
    import os
    import socket

    store = runtime.events.store
    dead = f"{socket.gethostname()}:{2**22 + 7}:rules-x"  # a pid that cannot exist
    alive = f"{socket.gethostname()}:{os.getpid()}:rules-y"
    first = alert(runtime, service="a", severity="LOW")
    second = alert(runtime, service="b", severity="LOW")
    now = "2026-01-01T00:00:00.000000Z"
    later = "2099-01-01T00:00:00.000000Z"
    assert [i.id for i in store.claim_pending(dead, now=now, lease_until=later, limit=1)] == [first]
    assert [i.id for i in store.claim_pending(alive, now=now, lease_until=later)] == [second]
    assert runtime.rules.process_pending() == 0  # both held, leases far off
    assert runtime.rules.release_dead_claims() == 1
    assert runtime.rules.process_pending() == 1
    assert stored(runtime, first).status is TriggerInstanceStatus.PROCESSED
    assert stored(runtime, second).status is TriggerInstanceStatus.PENDING


def test_enabling_a_rule_takes_effect_for_the_next_instance(runtime: Runtime) -> None:
    registry = bootstrap.content_registry(runtime.settings)
    before = alert(runtime, service="db-main", severity="low")
    runtime.rules.process_pending()
    assert set(enforcements(runtime, before)) == {"signals.everything_else"}
    assert registry.set_enabled(Kind.RULE, "signals.quiet", True)
    bootstrap.cached_registry(runtime.settings)._entries.clear()
    after = alert(runtime, service="db-main", severity="low")
    runtime.rules.process_pending()
    assert set(enforcements(runtime, after)) == {"signals.quiet"}
    reason = runtime.rules.match(stored(runtime, before)).reason("signals.quiet")
    assert reason is None  # it matches the old payload too, now


def test_a_finished_execution_fires_the_action_trigger(runtime: Runtime) -> None:
    runtime.execution_triggers.pass_once()  # first start: history is not news
    probe = runtime.executions.request("signals.probe", {"token": "s3cret"}, user="ops")
    asyncio.run(
        drive(
            runtime,
            lambda: any(
                e.rule == "signals.probe_finished"
                for e in runtime.events.store.enforcements(EnforcementFilter())
            ),
        )
    )
    [fired] = runtime.events.store.find(InstanceFilter(trigger="core.st2.generic.actiontrigger"))
    payload = fired.payload
    assert payload["execution_id"] == probe.id
    assert payload["status"] == "succeeded"
    assert payload["action_ref"] == payload["action_name"] == "signals.probe"
    assert payload["runner_ref"] == "noop"
    assert payload["parameters"] == {"token": "********"}
    assert payload["start_timestamp"].endswith("+00:00")  # str() of the time, as StackStorm


def test_notify_routes_fire_notify_triggers(runtime: Runtime) -> None:
    runtime.execution_triggers.pass_once()
    announced = runtime.executions.request("signals.announced", {"who": "ada"}, user="ops")
    asyncio.run(
        drive(
            runtime,
            lambda: bool(
                runtime.events.store.find(InstanceFilter(trigger="core.st2.generic.notifytrigger"))
            ),
        )
    )
    [notified] = runtime.events.store.find(InstanceFilter(trigger="core.st2.generic.notifytrigger"))
    payload = notified.payload
    assert payload["execution_id"] == announced.id
    assert payload["route"] == payload["channel"] == "chat"  # on-failure's pager: not this time
    assert payload["message"] == "ada finished"
    # The result goes as JSON text, as StackStorm sends it.
    assert json.loads(payload["data"]["result"]) == runtime.executions.get(announced.id).result


def test_the_log_cursor_starts_at_the_end_and_never_emits_twice(runtime: Runtime) -> None:
    before = runtime.executions.request("signals.probe", {}, user="ops")
    asyncio.run(drive(runtime, lambda: runtime.executions.get(before.id).completed, events=False))
    triggers = runtime.execution_triggers
    triggers.pass_once()  # the first pass starts at the end of the log
    triggers.pass_once()
    assert runtime.events.store.find(InstanceFilter(trigger="core.st2.generic.actiontrigger")) == []


def test_core_inject_trigger_fires_a_trigger_from_an_action(runtime: Runtime) -> None:
    payload = {"service": "web", "severity": "critical"}
    injected = runtime.executions.request(
        "core.inject_trigger",
        {"trigger_name": "signals.alert", "payload": payload, "trace_tag": "t-9"},
        user="ops",
    )
    asyncio.run(
        drive(
            runtime,
            lambda: (
                runtime.executions.get(injected.id).completed
                and bool(
                    runtime.events.store.enforcements(
                        EnforcementFilter(rule="signals.page_critical")
                    )
                )
            ),
        )
    )
    done = runtime.executions.get(injected.id)
    assert done.status is Status.SUCCEEDED, done.result
    assert done.result["result"] == {
        "trigger": "signals.alert",
        "payload": payload,
        "trace_tag": "t-9",
    }
    [instance] = runtime.events.store.find(InstanceFilter(trigger="signals.alert"))
    assert instance.payload == payload and instance.trace_tag == "t-9"
    assert instance.source == f"execution:{injected.id}"
    # A payload that breaks the trigger type's schema fails the action, saying why.
    refused = runtime.executions.request(
        "core.inject_trigger", {"trigger_name": "signals.alert", "payload": {}}, user="ops"
    )
    asyncio.run(drive(runtime, lambda: runtime.executions.get(refused.id).completed))
    failed = runtime.executions.get(refused.id)
    assert failed.status is Status.FAILED
    assert "payload_schema" in json.dumps(failed.result)


def test_an_inquiry_that_starts_waiting_fires_the_inquiry_trigger(runtime: Runtime) -> None:
    runtime.execution_triggers.pass_once()
    asked = runtime.executions.request("core.ask", {"route": "ops"}, user="ops")
    asyncio.run(
        drive(
            runtime,
            lambda: bool(
                runtime.events.store.enforcements(EnforcementFilter(rule="signals.asked"))
            ),
        )
    )
    assert runtime.executions.get(asked.id).status is Status.PENDING
    [instance] = runtime.events.store.find(InstanceFilter(trigger="core.st2.generic.inquiry"))
    assert instance.payload == {"id": asked.id, "route": "ops"}
    # Answering it is a completion, not a second inquiry trigger.
    runtime.inquiries.respond(asked.id, {"continue": True}, user="ops", role="operator")
    runtime.execution_triggers.pass_once()
    assert len(runtime.events.store.find(InstanceFilter(trigger="core.st2.generic.inquiry"))) == 1
