"""``packhorse rule list|show|enable|disable|test|explain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from packhorse.cli.content import rule
from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json

pass_cli = click.make_pass_decorator(CliContext)

__all__ = ["rule"]


def _set_enabled(cli: CliContext, ref: str, enabled: bool) -> None:
    from packhorse.cli import sources
    from packhorse.errors import NotFound
    from packhorse.model.content import Kind

    if not sources.rule_states(cli).set_enabled(Kind.RULE, ref, enabled):
        raise NotFound("rule", ref)
    state = "enabled" if enabled else "disabled"
    when = "at once" if cli.url else "within 2 seconds"
    click.echo(f"Rule {ref} {state} ('packhorse up' sees it {when}).")


@rule.command("enable")
@click.argument("ref")
@pass_cli
def enable(cli: CliContext, ref: str) -> None:
    """Enable a rule. It stays enabled until its file changes and its pack is registered
    again (then the file's 'enabled' counts)."""
    _set_enabled(cli, ref, True)


@rule.command("disable")
@click.argument("ref")
@pass_cli
def disable(cli: CliContext, ref: str) -> None:
    """Disable a rule: trigger instances no longer fire it."""
    _set_enabled(cli, ref, False)


def _load_document(path: Path) -> Any:
    import yaml

    from packhorse.errors import ConfigurationError

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{path}: cannot read: {error}") from error


def _rule_for_test(cli: CliContext, spec: str) -> Any:
    """A registered rule by ref, or a rule file (its pack is the folder above ``rules/``)."""
    from packhorse import bootstrap
    from packhorse.errors import ConfigurationError, NotFound
    from packhorse.model.content import Kind
    from packhorse.model.rules import Rule

    path = Path(spec)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        body = _load_document(path)
        if not isinstance(body, dict):
            raise ConfigurationError(f"{path}: a rule file holds a mapping")
        if not body.get("pack"):
            pack_dir = path.resolve().parent.parent
            body = {**body, "pack": pack_dir.name}
        return Rule.from_body({**body, "enabled": True})
    resource = bootstrap.registry_reader(cli.settings).get_resource(Kind.RULE, spec)
    if resource is None:
        raise NotFound("rule", spec)
    return Rule.from_body({**resource.body, "enabled": True})


@rule.command("test")
@click.argument("rule_spec", metavar="RULE")
@click.option(
    "--payload",
    "payload_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file: the payload, or {trigger, payload} (st2-rule-tester's format).",
)
@click.option("--trigger-instance", "instance_id", metavar="ID", help="Use a stored instance.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@pass_cli
def test_rule(
    cli: CliContext,
    rule_spec: str,
    payload_file: Path | None,
    instance_id: str | None,
    as_json: bool,
) -> None:
    """Dry run: would RULE (a ref, or a rule file) fire for this payload? Shows each
    criterion's verdict and the action parameters it would render. Nothing runs.

    Exits 0 when the rule matches, 1 when it does not (as st2-rule-tester).
    """
    from packhorse import bootstrap
    from packhorse.engine.clock import utc_now
    from packhorse.engine.rule_test import dry_run
    from packhorse.errors import ConfigurationError, NotFound

    the_rule = _rule_for_test(cli, rule_spec)
    if instance_id is not None:
        stored = bootstrap.event_service(cli.settings).store.get(instance_id)
        if stored is None:
            raise NotFound("trigger instance", instance_id)
        payload: Any = dict(stored.payload)
    elif payload_file is not None:
        document = _load_document(payload_file)
        is_instance = (
            isinstance(document, dict) and "payload" in document and ("trigger" in document)
        )
        payload = document["payload"] if is_instance else document
    else:
        raise ConfigurationError("give --payload FILE or --trigger-instance ID")
    outcome = dry_run(
        the_rule,
        payload,
        datastore=bootstrap.datastore_service(cli.settings),
        user=cli.settings.system_user,
        redact=bootstrap.redactor().redact,
        now=utc_now(),
    ).as_dict()
    if as_json:
        echo_json(outcome)
    else:
        _print_outcome(outcome)
    raise SystemExit(0 if outcome["matched"] else 1)


def _print_outcome(outcome: dict[str, Any]) -> None:
    if not outcome["matched"]:
        click.echo(f"Rule {outcome['rule']} does not match: {outcome['reason']}")
        return
    click.echo(f"Rule {outcome['rule']} matches: it would run {outcome['action']} with")
    if "parameters_error" in outcome:
        click.echo(f"  (no parameters: {outcome['parameters_error']})")
        return
    for name, value in outcome["parameters"].items():
        click.echo(f"  {name}: {json.dumps(value)}")


@rule.command("explain")
@click.argument("instance_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def explain(cli: CliContext, instance_id: str, as_json: bool) -> None:
    """What the rules made of a trigger instance: each rule of its trigger, whether it
    matches the stored payload now and why not, and what was enforced (executions, or
    why they could not be requested)."""
    from packhorse.engine.runtime import build_runtime
    from packhorse.errors import NotFound
    from packhorse.storage.events import EnforcementFilter

    engine = build_runtime(cli.settings, slots=1).rules
    store = engine.events.store
    instance = store.get(instance_id)
    if instance is None:
        raise NotFound("trigger instance", instance_id)
    result = engine.match(instance)
    enforced = {
        e.rule: e
        for e in store.enforcements(EnforcementFilter(trigger_instance_id=instance_id, limit=1000))
    }
    rows: list[dict[str, Any]] = []
    for matched in result.matched:
        rows.append({"rule": matched.ref, "matches": True, "reason": None})
    for miss in result.misses:
        rows.append({"rule": miss.ref, "matches": False, "reason": miss.reason.message})
    for row in rows:
        enforcement = enforced.get(str(row["rule"]))
        row["execution_id"] = enforcement.execution_id if enforcement else None
        row["failure_reason"] = enforcement.failure_reason if enforcement else None
    explained = {
        "trigger_instance": instance.id,
        "trigger": instance.trigger,
        "status": instance.status.value,
        "rules": rows,
    }
    if as_json:
        echo_json(explained)
        return
    click.echo(f"Trigger instance {instance.id} of {instance.trigger} ({instance.status.value})")
    if not rows:
        click.echo("  no rule listens to this trigger")
    for row in rows:
        if row["matches"]:
            done = (
                f"execution {row['execution_id']}"
                if row["execution_id"]
                else f"not run: {row['failure_reason']}"
                if row["failure_reason"]
                else "not enforced (yet)"
            )
            click.echo(f"  MATCH    {row['rule']}: {done}")
        else:
            click.echo(f"  no match {row['rule']}: {row['reason']}")
