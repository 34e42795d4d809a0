"""``packhorse trigger-instance list|get|re-emit`` and ``packhorse rule-enforcement list|get``:
what happened, and what the rules did about it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, echo_record, echo_table
from packhorse.model.events import enforcement_record, instance_record

if TYPE_CHECKING:
    from packhorse.cli.sources import Events

pass_cli = click.make_pass_decorator(CliContext)


def _events(cli: CliContext) -> Events:
    from packhorse.cli import sources

    return sources.events(cli)


@click.group("trigger-instance")
def trigger_instance() -> None:
    """Trigger instances: each time a webhook, timer, sensor or finished execution fired a
    trigger. Kept [retention] trigger_instances_days (7)."""


@trigger_instance.command("list")
@click.option("--trigger", metavar="REF", help="Only instances of this trigger.")
@click.option("--trigger-type", metavar="REF", help="Only instances of this trigger type.")
@click.option(
    "--status",
    type=click.Choice(["pending", "processed", "processing_failed"]),
    multiple=True,
    help="Only these statuses (repeatable).",
)
@click.option("-n", "--limit", default=50, show_default=True, help="How many, newest first.")
@click.option("--offset", default=0, help="Skip this many first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_instances(
    cli: CliContext,
    trigger: str | None,
    trigger_type: str | None,
    status: tuple[str, ...],
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List trigger instances, newest first."""
    from packhorse.model.events import TriggerInstanceStatus
    from packhorse.storage.events import InstanceFilter

    query = InstanceFilter(
        trigger=trigger,
        trigger_type=trigger_type,
        statuses=tuple(TriggerInstanceStatus(s) for s in status),
        limit=limit,
        offset=offset,
    )
    found = _events(cli).find(query)
    if as_json:
        echo_json([instance_record(i) for i in found])
        return
    echo_table(
        ["id", "trigger", "occurrence_time", "status", "source"],
        [(i.id, i.trigger, i.occurrence_time, i.status.value, i.source) for i in found],
    )


@trigger_instance.command("get")
@click.argument("instance_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def get_instance(cli: CliContext, instance_id: str, as_json: bool) -> None:
    """Show one trigger instance and its payload. 'packhorse rule explain ID' shows what
    the rules made of it."""
    from packhorse.errors import NotFound

    found = _events(cli).get(instance_id)
    if found is None:
        raise NotFound("trigger instance", instance_id)
    if as_json:
        echo_json(instance_record(found))
    else:
        echo_record(instance_record(found))


@trigger_instance.command("re-emit")
@click.argument("instance_id")
@click.option("--json", "as_json", is_flag=True, help="Print the new instance as JSON.")
@pass_cli
def re_emit(cli: CliContext, instance_id: str, as_json: bool) -> None:
    """Fire the same trigger again with the same payload: a new instance that the rules
    match as they are now ('packhorse up' picks it up within a second)."""
    from packhorse.errors import NotFound

    events = _events(cli)
    found = events.get(instance_id)
    if found is None:
        raise NotFound("trigger instance", instance_id)
    new = events.re_emit(found)
    if as_json:
        echo_json(instance_record(new))
        return
    click.echo(f"Trigger instance {new.id} emitted (a copy of {found.id}).")


@click.group("rule-enforcement")
def rule_enforcement() -> None:
    """Rule enforcements: each rule a trigger instance matched, and the execution it
    requested or why it could not."""


@rule_enforcement.command("list")
@click.option("--rule", metavar="REF", help="Only this rule's.")
@click.option("--trigger-instance", "instance_id", metavar="ID", help="Only this instance's.")
@click.option("--execution", "execution_id", metavar="ID", help="Only the one of this execution.")
@click.option("-n", "--limit", default=50, show_default=True, help="How many, newest first.")
@click.option("--offset", default=0, help="Skip this many first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_enforcements(
    cli: CliContext,
    rule: str | None,
    instance_id: str | None,
    execution_id: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List rule enforcements, newest first."""
    from packhorse.storage.events import EnforcementFilter

    query = EnforcementFilter(
        rule=rule,
        trigger_instance_id=instance_id,
        execution_id=execution_id,
        limit=limit,
        offset=offset,
    )
    found = _events(cli).enforcements(query)
    if as_json:
        echo_json([enforcement_record(e) for e in found])
        return
    echo_table(
        ["id", "rule", "trigger_instance", "execution", "failure", "enforced_at"],
        [
            (e.id, e.rule, e.trigger_instance_id, e.execution_id, e.failure_reason, e.enforced_at)
            for e in found
        ],
    )


@rule_enforcement.command("get")
@click.argument("enforcement_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def get_enforcement(cli: CliContext, enforcement_id: str, as_json: bool) -> None:
    """Show one rule enforcement."""
    from packhorse.errors import NotFound

    found = _events(cli).get_enforcement(enforcement_id)
    if found is None:
        raise NotFound("rule enforcement", enforcement_id)
    if as_json:
        echo_json(enforcement_record(found))
    else:
        echo_record(enforcement_record(found))
