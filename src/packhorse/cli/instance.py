"""``packhorse init``, ``packhorse up`` and ``packhorse db``."""

from __future__ import annotations

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json

pass_cli = click.make_pass_decorator(CliContext)


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="Address 'up' will serve on (saved).")
@click.option(
    "--standby",
    is_flag=True,
    help="The new instance of an upgrade: its sensors, timers and webhooks wait (intake "
    "closed) until 'packhorse cutover --to' it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def init(cli: CliContext, listen: str | None, standby: bool, as_json: bool) -> None:
    """Create a new instance folder (default ~/.packhorse, or --home).

    Creates packhorse.toml, the SQLite database (migrated to the current schema), a random
    datastore key (mode 0600), registers the bundled packs, and creates an 'admin' user
    whose password is printed once and stored only hashed.
    """
    from packhorse.engine.instance import init_instance

    result = init_instance(cli.home, listen=listen, standby=standby)
    counts = result.registration.plan.counts() if result.registration.plan else {}
    packs = [p.ref for p in result.registration.packs]
    if as_json:
        echo_json(
            {
                "home": str(result.settings.home),
                "instance_id": result.settings.instance_id,
                "listen": result.settings.listen,
                "packs": packs,
                "resources": counts.get("create", 0),
                "admin_user": result.admin_user,
                "admin_password": result.admin_password,
                "standby": standby,
            }
        )
        return
    click.echo(f"Initialised Packhorse instance {result.settings.instance_id} in {cli.home}")
    click.echo(f"  packs registered: {', '.join(packs)} ({counts.get('create', 0)} resources)")
    click.echo(f"  user: {result.admin_user}")
    click.echo(f"  password: {result.admin_password}   (shown once; stored only hashed)")
    if standby:
        click.echo("  standby: sensors, timers and webhooks wait for 'packhorse cutover --to' it")
    click.echo("Next: packhorse " + _home_flag(cli) + "up")


def _home_flag(cli: CliContext) -> str:
    return "" if "PACKHORSE_HOME" in cli.environ else f"--home {cli.home} "


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="Serve on this address (default: settings).")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Executions run at once (default: [execution] workers in packhorse.toml, else 4).",
)
@click.option(
    "--tls-cert",
    metavar="FILE",
    help="Serve HTTPS with this PEM certificate (chain) (default: [server] tls_cert).",
)
@click.option(
    "--tls-key", metavar="FILE", help="The PEM private key of --tls-cert ([server] tls_key)."
)
@click.option(
    "--role",
    "roles",
    type=click.Choice(["all", "api", "worker", "sensors", "timers"]),
    multiple=True,
    help="What this process runs (repeatable; default: all). See docs/scaling.md.",
)
@click.option(
    "--database",
    metavar="URL",
    help="Database URL, e.g. postgresql://user@host/db (default: [database] url).",
)
@pass_cli
def up(
    cli: CliContext,
    listen: str | None,
    log_level: str,
    workers: int | None,
    tls_cert: str | None,
    tls_key: str | None,
    roles: tuple[str, ...],
    database: str | None,
) -> None:
    """Start Packhorse in this process: the HTTP API and the execution engine.

    On start it settles what a previous run left (work claimed but not started runs again;
    work that had started is marked abandoned). Stops cleanly on Ctrl-C or SIGTERM,
    finishing the executions in flight. With --tls-cert and --tls-key (or [server] tls_cert
    and tls_key) it serves HTTPS only; both files are checked before it starts.

    Several processes, on several machines, can share one PostgreSQL database (--database);
    --role splits the work among them: api (the HTTP API and event stream only), worker
    (scheduler, workers, workflows, rules engine, recovery, retention), sensors, timers.
    Every role serves the HTTP API.
    """
    from pathlib import Path

    from packhorse.engine.server import serve

    overrides: dict[str, str] = {
        name: str(Path(value).resolve())
        for name, value in (("tls_cert", tls_cert), ("tls_key", tls_key))
        if value
    }
    if database:
        overrides["database_url"] = database
    settings = cli.settings.with_overrides(**overrides) if overrides else cli.settings
    serve(
        settings,
        listen=listen or cli.settings.listen,
        log_level=log_level,
        workers=workers or cli.settings.workers,
        roles=frozenset(roles or ("all",)),
    )


@click.group()
def db() -> None:
    """Database maintenance: schema migrations."""


@db.command("upgrade")
@pass_cli
def db_upgrade(cli: CliContext) -> None:
    """Apply pending schema migrations to this instance's database."""
    from packhorse.engine.instance import upgrade_database
    from packhorse.storage import migrate

    before = upgrade_database(cli.settings)
    if before.at_head:
        click.echo(f"Database already at the current schema ({before.head}).")
    else:
        click.echo(
            f"Database upgraded from {before.current or 'empty'} to {migrate.head_revision()}."
        )


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_cli
def db_status(cli: CliContext, as_json: bool) -> None:
    """Show the database's schema revision and whether migrations are pending."""
    from packhorse.bootstrap import database_engine
    from packhorse.storage import migrate

    status = migrate.status(database_engine(cli.settings))
    if as_json:
        echo_json({"current": status.current, "head": status.head, "at_head": status.at_head})
    elif status.at_head:
        click.echo(f"At the current schema ({status.head}).")
    else:
        click.echo(f"At {status.current or 'empty'}; {status.head} is current.")
        click.echo("Run 'packhorse db upgrade' to apply the pending migrations.")


@db.command("migrate-to")
@click.argument("url")
@click.option(
    "--copy-only",
    is_flag=True,
    help="Copy, but leave this instance on its current database.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the copy's report as JSON.")
@pass_cli
def db_migrate_to(cli: CliContext, url: str, copy_only: bool, as_json: bool) -> None:
    """Copy this instance's whole state to another database (SQLite to PostgreSQL:
    postgresql://user@host/db), check it by row counts and checksums of every table, then
    switch the instance to it ([database] url in packhorse.toml).

    Stop 'packhorse up' first: what it writes after the copy starts stays behind. The target
    must be an empty database. The SQLite file is kept as it was (a backup to go back to).
    """
    from packhorse.cli.output import echo_json, echo_table, steps
    from packhorse.settings import write_settings
    from packhorse.storage.copy import copy_database, sqlite_snapshot
    from packhorse.storage.database import create_engine

    settings = cli.settings
    if url == settings.database:
        raise click.UsageError("that is the database this instance uses already")
    target = create_engine(url)
    try:
        with steps("db migrate-to", quiet=as_json) as say:
            if settings.database_url:
                source = create_engine(settings.database)
                try:
                    report = copy_database(source, target, progress=say)
                finally:
                    source.dispose()
            else:
                with sqlite_snapshot(settings.state_db) as source:
                    report = copy_database(source, target, progress=say)
    finally:
        target.dispose()
    if not copy_only:
        write_settings(settings.with_overrides(database_url=url))
    if as_json:
        echo_json(report.to_dict() | {"switched": not copy_only})
        return
    echo_table(
        ["table", "rows", "checksum"], [(t.table, t.rows, t.checksum[:16]) for t in report.tables]
    )
    click.echo(f"Copied {report.rows} rows; counts and checksums match.")
    if copy_only:
        click.echo("The instance still uses its current database (--copy-only).")
    else:
        click.echo(f"The instance now uses {_shown_url(url)}; {settings.state_db.name} is kept.")


def _shown_url(url: str) -> str:
    """A URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
