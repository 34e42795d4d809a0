"""``packhorse gc``: delete old completed executions."""

from __future__ import annotations

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json

pass_cli = click.make_pass_decorator(CliContext)


@click.command()
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_cli
def gc(cli: CliContext, dry_run: bool, as_json: bool) -> None:
    """Delete completed executions older than [retention] executions_days (default 30)
    and processed trigger instances older than [retention] trigger_instances_days (7).

    Running and waiting executions are never deleted. 'packhorse up' does the same every
    ten minutes.
    """
    from packhorse import bootstrap
    from packhorse.engine.clock import utc_now
    from packhorse.engine.retention import collect
    from packhorse.storage.events import SqlEventStore
    from packhorse.storage.executions import SqlExecutionStore

    settings = cli.settings
    store = SqlExecutionStore(bootstrap.database_engine(settings))
    report = collect(
        store,
        now=utc_now(),
        executions_days=settings.retention_executions_days,
        events=SqlEventStore(store.engine),
        trigger_instances_days=settings.retention_trigger_instances_days,
        dry_run=dry_run,
    )
    if as_json:
        echo_json(
            {
                "dry_run": report.dry_run,
                "cutoff": report.cutoff,
                "executions": report.executions,
                "inquiries_expired": report.inquiries_expired,
                "trigger_instances": report.trigger_instances,
            }
        )
        return
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(f"{verb} {report.executions} executions completed before {report.cutoff}.")
    if report.inquiries_expired:
        click.echo(f"{report.inquiries_expired} unanswered inquiries timed out.")
    if report.trigger_instances:
        click.echo(f"Deleted {report.trigger_instances} processed trigger instances.")
