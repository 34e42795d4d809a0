"""``packhorse upgrade run PLAN.yaml``: the whole upgrade as one resumable command
(docs/upgrading.md, "The whole upgrade in one command")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, steps
from packhorse.cli.upgrade import upgrade

if TYPE_CHECKING:
    from packhorse.client.http import ApiClient
    from packhorse.migrate.upgrade_plan import UpgradePlan
    from packhorse.migrate.upgrade_run import RunReport

pass_cli = click.make_pass_decorator(CliContext)


@click.command("run")
@click.argument("plan_file", metavar="PLAN.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print what each step would do; write nothing.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run the journal records (running the same command again does too; "
    "--resume refuses when there is no journal).",
)
@click.option(
    "--journal",
    "journal_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The journal file (default: PLAN.journal.jsonl beside the plan).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_cli
def run(
    cli: CliContext,
    plan_file: Path,
    dry_run: bool,
    resume: bool,
    journal_file: Path | None,
    as_json: bool,
) -> None:
    """Upgrade as PLAN.yaml says: export the old instance, init and import the new one,
    check (and fix) its packs, verify, cut over, archive the old one. Each step is journaled;
    a run stopped anywhere continues where it stopped when run again."""
    import platform
    import secrets

    from packhorse import bootstrap
    from packhorse.engine.clock import utc_now
    from packhorse.errors import ConfigurationError, ValidationFailed
    from packhorse.migrate.upgrade_plan import load_plan
    from packhorse.migrate.upgrade_run import KILL_ENV, default_journal, run_upgrade
    from packhorse.migrate.upgrade_services import InstanceServices
    from packhorse.migrate.upgrade_steps import default_steps

    plan, diagnostics = load_plan(plan_file)
    for diagnostic in diagnostics:
        click.echo(diagnostic.format(), err=True)
    if plan is None:
        raise ValidationFailed(f"{plan_file}: the plan is not valid", diagnostics)
    journal = (journal_file or default_journal(plan.file)).absolute()
    if resume and not journal.exists():
        raise ConfigurationError(f"--resume: no journal at {journal}", hint="run without --resume")
    # A dry run reads and writes no secret: it needs no passphrase.
    passphrase = "" if dry_run else _passphrase(cli, plan)
    redactor = bootstrap.redactor()
    if passphrase:
        redactor.add(passphrase)
    opened: dict[str, ApiClient] = {}

    def connect(url: str) -> ApiClient:
        """The old instance's API (``from`` a URL), signed in as other URL commands are."""
        from packhorse.cli.remote import connect_to

        if url not in opened:
            opened[url] = connect_to(cli, url)
        return opened[url]

    def close_all() -> None:
        for api in opened.values():
            api.close()

    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(close_all)
    with steps("upgrade run", quiet=as_json) as say:
        report = run_upgrade(
            plan,
            default_steps(),
            journal,
            passphrase=passphrase,
            services=InstanceServices(
                now=utc_now,
                random_bytes=secrets.token_bytes,
                python_version=platform.python_version(),
                on_secret=redactor.add,
                connect=connect,
            ),
            now=utc_now,
            say=say,
            dry_run=dry_run,
            kill_at=cli.environ.get(KILL_ENV, ""),
        )
    if as_json:
        echo_json(report.to_dict())
    else:
        _print(report)
    if not report.ok:
        raise click.exceptions.Exit(1)


def _passphrase(cli: CliContext, plan: UpgradePlan) -> str:
    from packhorse.crypto.transport import MIN_PASSPHRASE_LENGTH
    from packhorse.errors import ConfigurationError

    if plan.passphrase_file is not None:
        try:
            text = plan.passphrase_file.read_text(encoding="utf-8").removesuffix("\n")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(
                f"passphrase_file {plan.passphrase_file}: cannot read: {error}"
            ) from error
    else:
        assert plan.passphrase_env is not None
        text = cli.environ.get(plan.passphrase_env, "")
        if not text:
            raise ConfigurationError(
                f"passphrase_env: ${plan.passphrase_env} is not set",
                hint="export it before running the plan",
            )
    if len(text) < MIN_PASSPHRASE_LENGTH:
        raise ConfigurationError(
            f"the passphrase is shorter than {MIN_PASSPHRASE_LENGTH} characters",
            hint="it seals the bundle's secrets and the archive: use a long one",
        )
    return text


def _print(report: RunReport) -> None:
    title = "Dry run of" if report.dry_run else "Upgrade"
    click.echo(f"{title} {report.plan.file} (journal {report.journal}):")
    for step in report.steps:
        seconds = f"{step.seconds:.1f} s" if step.seconds else ""
        click.echo(f"  {step.name:<8} {step.status.value:<13} {seconds:>8}  {step.description}")
    for step in report.steps:
        if step.error:
            click.echo(f"{step.name} failed: {step.error}")
            if step.hint:
                click.echo(f"hint: {step.hint}")
    if report.dry_run:
        click.echo("Nothing was written.")
        return
    if report.ok:
        click.echo(f"Done in {report.seconds:.1f} s.")
    else:
        click.echo("Stopped. Run the same command again to continue from the failed step.")
    rollback = report.rollback()
    if rollback:
        click.echo("To roll back:")
        for command in rollback:
            click.echo(f"  {command}")


upgrade.add_command(run)
