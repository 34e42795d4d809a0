"""``packhorse pack ...``: validate, register, list and show packs (and ``config``)."""

from __future__ import annotations

import click

from packhorse.cli.main import CliContext, LazyGroup
from packhorse.cli.output import echo_json, echo_record, echo_table

pass_cli = click.make_pass_decorator(CliContext)


@click.group(
    cls=LazyGroup,
    lazy={
        "config": (
            "packhorse.cli.pack_config:config",
            "Write a pack's config and register it, or --show it.",
        ),
        "validate": (
            "packhorse.cli.pack_validate:validate",
            "Check pack folders and print every problem found (no instance needed).",
        ),
    },
)
@click.pass_context
def pack(ctx: click.Context) -> None:
    """Validate, register and inspect packs."""
    cli = ctx.find_object(CliContext)
    if cli is not None and ctx.invoked_subcommand in ("register", "validate", "config"):
        cli.local_only()  # they read or write folders of this machine


@pack.command()
@click.argument("refs", nargs=-1)
@click.option("--all", "all_packs", is_flag=True, help="Register every pack found.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan and diagnostics as JSON.")
@pass_cli
def register(
    cli: CliContext, refs: tuple[str, ...], all_packs: bool, dry_run: bool, as_json: bool
) -> None:
    """Register packs from the instance's packs/ folder (and extra pack paths).

    All or nothing: if any selected pack has an error, nothing is registered. Content
    removed from a pack is removed from the registry. With --all, registered packs that
    are no longer on disk are removed too.
    """
    from packhorse.bootstrap import register_instance_packs

    if not refs and not all_packs:
        raise click.UsageError("name the packs to register, or pass --all")
    outcome = register_instance_packs(cli.settings, refs=refs, all_packs=all_packs, dry_run=dry_run)
    if as_json:
        echo_json(
            {
                "ok": outcome.ok,
                "applied": outcome.applied,
                "dry_run": dry_run,
                "plan": outcome.plan.to_dict() if outcome.plan else None,
                "diagnostics": [d.to_dict() for d in outcome.diagnostics],
            }
        )
    else:
        for diagnostic in sorted(outcome.diagnostics, key=lambda d: (d.path, d.line, d.col)):
            click.echo(diagnostic.format(), err=True)
        if outcome.plan is None:
            click.echo("Nothing registered: fix the errors above and run again.", err=True)
        else:
            _print_plan(outcome.plan, dry_run=dry_run)
    if not outcome.ok:
        raise SystemExit(1)


def _print_plan(plan: object, *, dry_run: bool) -> None:
    from packhorse.packs.plan import Plan

    assert isinstance(plan, Plan)
    if plan.is_empty:
        click.echo("Nothing to change: the registry matches the packs on disk.")
        return
    for change in plan.packs:
        click.echo(f"{change.operation.value:<7} pack      {change.ref}")
    for resource in plan.resources:
        click.echo(f"{resource.operation.value:<7} {resource.kind.value:<9} {resource.ref}")
    counts = plan.counts()
    summary = ", ".join(f"{n} to {op}" for op, n in counts.items() if n)
    verb = "Would apply" if dry_run else "Applied"
    click.echo(f"{verb}: {summary or 'pack metadata only'}.")


@pack.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_packs(cli: CliContext, as_json: bool) -> None:
    """List registered packs."""
    from packhorse.cli import sources

    packs = sources.content(cli).list_packs()
    if as_json:
        echo_json([dict(p.metadata) | {"path": p.path} for p in packs])
        return
    echo_table(
        ["ref", "version", "name", "description"],
        [
            (p.ref, p.version, p.metadata.get("name", ""), p.metadata.get("description", ""))
            for p in packs
        ],
    )


@pack.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def show_pack(cli: CliContext, ref: str, as_json: bool) -> None:
    """Show one registered pack and what it contains."""
    from packhorse.cli import sources
    from packhorse.errors import NotFound
    from packhorse.model.content import Kind

    reader = sources.content(cli)
    found = reader.get_pack(ref)
    if found is None:
        raise NotFound("pack", ref)
    kinds = getattr(reader, "kinds", tuple(Kind))  # the API serves some kinds only
    contents = {k.value: [r.ref for r in reader.list_resources(k, pack=ref)] for k in kinds}
    record = dict(found.metadata) | {
        "path": found.path,
        "registered_at": found.registered_at,
        "contents": {k: v for k, v in contents.items() if v},
    }
    if as_json:
        echo_json(record)
    else:
        echo_record(record)
