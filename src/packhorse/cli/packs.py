"""``packhorse pack ...``: validate, register, list and show packs (and ``config``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.main import CliContext, LazyGroup
from packhorse.cli.output import echo_json, echo_record, echo_table

if TYPE_CHECKING:
    from packhorse.packs.install import InstallOutcome

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
    """Install, validate, register, test and inspect packs, and build their virtualenvs."""
    cli = ctx.find_object(CliContext)
    if cli is not None and ctx.invoked_subcommand in ("register", "validate", "config"):
        cli.local_only()  # they read or write folders of this machine


@pack.command(short_help="Register packs from packs/ (all or nothing).")
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
            print_plan(outcome.plan, dry_run=dry_run)
    if not outcome.ok:
        raise SystemExit(1)


def print_plan(plan: object, *, dry_run: bool) -> None:
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


@pack.command("show", short_help="Show a registered pack and what it contains.")
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


wheelhouse_option = click.option(
    "--wheelhouse",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Build virtualenvs from the wheels in this folder only, with no package index.",
)


@pack.command("venv", short_help="Build, reuse or remove packs' virtualenvs.")
@click.argument("refs", nargs=-1)
@click.option("--all", "all_packs", is_flag=True, help="Every registered pack (but core).")
@click.option("--rebuild", is_flag=True, help="Build anew even when nothing changed.")
@wheelhouse_option
@click.option("--remove", is_flag=True, help="Delete the packs' virtualenvs instead.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@pass_cli
def venv(
    cli: CliContext,
    refs: tuple[str, ...],
    all_packs: bool,
    rebuild: bool,
    wheelhouse: Path | None,
    remove: bool,
    as_json: bool,
) -> None:
    """Build the virtualenvs of registered packs (requirements.txt and the baseline
    libraries, on [packs] python), or reuse them when nothing they were built from changed.

    A virtualenv is rebuilt when the pack's requirements.txt, the baseline or the interpreter
    changed; a failed build leaves the previous one in use. Python actions and sensors of a
    pack with no virtualenv run on Packhorse's own interpreter.
    """
    from packhorse.bootstrap import registry_reader, venv_builder
    from packhorse.errors import NotFound

    if not refs and not all_packs:
        raise click.UsageError("name the packs, or pass --all")
    registered = {p.ref: p for p in registry_reader(cli.settings).list_packs()}
    from packhorse.packs.install import SYSTEM_PACKS

    chosen = list(refs) if refs else [ref for ref in registered if ref not in SYSTEM_PACKS]
    for ref in chosen:
        if ref not in registered:
            raise NotFound("pack", ref)
        if ref in SYSTEM_PACKS:
            raise click.UsageError(f"{ref} is a system pack: it runs on Packhorse's interpreter")
    builder = venv_builder(cli.settings, wheelhouse=wheelhouse)
    if remove:
        removed = [ref for ref in chosen if builder.remove(ref)]
        if as_json:
            echo_json({"removed": removed})
        else:
            click.echo(f"Removed the virtualenvs of: {', '.join(removed) or 'none'}")
        return
    say = None if as_json else (lambda line: click.echo(line, err=True))
    outcomes = [
        builder.ensure(ref, cli.settings.home / registered[ref].path, rebuild=rebuild, progress=say)
        for ref in chosen
    ]
    if as_json:
        echo_json([outcome.to_dict() for outcome in outcomes])
        return
    echo_table(
        ["pack", "status", "reason", "seconds"],
        [(o.pack, o.status.value, o.reason, f"{o.seconds:.2f}") for o in outcomes],
    )


@pack.command("install", short_help="Install packs and their dependencies, all or nothing.")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--force", is_flag=True, help="Install even if stackstorm_version or python_versions refuse."
)
@click.option("--skip-dependencies", is_flag=True, help="Do not install the packs' dependencies.")
@wheelhouse_option
@click.option(
    "--no-venv",
    is_flag=True,
    help="Build no virtualenvs (python actions then run on Packhorse's interpreter).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was installed as JSON.")
@pass_cli
def install(
    cli: CliContext,
    sources: tuple[str, ...],
    force: bool,
    skip_dependencies: bool,
    wheelhouse: Path | None,
    no_venv: bool,
    as_json: bool,
) -> None:
    """Install packs and their dependencies, all or nothing.

    \b
    SOURCE is one of:
      ./mypack  /srv/packs/mypack     a folder (a git work tree: its committed content)
      https://host/repo.git[=REF]     a git URL, https, ssh or file:// (REF: tag, branch or
                                      commit; 1.2.3 also finds the tag v1.2.3)
      mypack-1.2.3.tar.gz             an archive
      mypack[=1.2.3]                  a name in the pack index ([packs] index)

    Each pack is fetched, checked (stackstorm_version, python_versions), validated with its
    config, given its virtualenv, and only then swapped into packs/ and registered. If
    anything fails, the packs installed before stay registered and runnable, as they were.
    """
    from packhorse.bootstrap import pack_install_environment
    from packhorse.cli.output import steps
    from packhorse.packs.install import install as install_packs

    env = pack_install_environment(cli.settings, wheelhouse=wheelhouse, venvs=not no_venv)
    with steps("pack install", quiet=as_json) as say:
        outcome = install_packs(
            sources, env, force=force, skip_dependencies=skip_dependencies, say=say
        )
    _print_installed(outcome, as_json=as_json)


def _print_installed(outcome: InstallOutcome, *, as_json: bool) -> None:
    if as_json:
        echo_json(outcome.to_dict())
        return
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    echo_table(
        ["pack", "version", "replaced", "source"],
        [(p.ref, p.version, outcome.replaced.get(p.ref, ""), p.source) for p in outcome.installed],
        max_width=80,
    )


@pack.command("remove", short_help="Unregister packs and delete their folders.")
@click.argument("refs", nargs=-1, required=True)
@click.option("--keep-venv", is_flag=True, help="Leave the packs' virtualenvs in place.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@pass_cli
def remove(cli: CliContext, refs: tuple[str, ...], keep_venv: bool, as_json: bool) -> None:
    """Unregister packs (their actions, rules, sensors...) and delete their folders from
    packs/ and their virtualenvs. Packs that other registered packs depend on are refused."""
    from packhorse.bootstrap import remove_instance_packs

    removed = remove_instance_packs(cli.settings, refs, keep_venv=keep_venv)
    if as_json:
        echo_json({"removed": removed})
    else:
        click.echo(f"Removed: {', '.join(removed)}")


@pack.command(
    "test",
    context_settings={"ignore_unknown_options": True},
    short_help="Run a pack's tests with pytest in its test venv.",
)
@click.argument("ref")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@wheelhouse_option
@pass_cli
def test(cli: CliContext, ref: str, pytest_args: tuple[str, ...], wheelhouse: Path | None) -> None:
    """Run a registered pack's tests/ with pytest on the pack's interpreter.

    The tests get StackStorm's test base classes (st2tests: BaseActionTestCase,
    BaseSensorTestCase, BaseActionAliasTestCase) and run in venvs/REF.tests: the pack's
    requirements plus pytest, mock and requirements-tests.txt. Arguments after REF go to
    pytest (packhorse pack test mypack -- -k parse -x). Exit status: pytest's.
    """
    from packhorse.bootstrap import registry_reader, venv_builder
    from packhorse.cli.output import steps
    from packhorse.errors import NotFound
    from packhorse.packs.testing import run_pack_tests, tests_venv

    found = registry_reader(cli.settings).get_pack(ref)
    if found is None:
        raise NotFound("pack", ref)
    pack_dir = cli.settings.home / found.path
    with steps("pack test") as say:
        venv = tests_venv(
            venv_builder(cli.settings, wheelhouse=wheelhouse), ref, pack_dir, progress=say
        )
    done = run_pack_tests(Path(venv.path), pack_dir, pytest_args)
    raise SystemExit(done.returncode)


@pack.command("create", short_help="Scaffold a new pack that validates and passes its test.")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="the current folder",
    help="Where to create the pack's folder.",
)
@click.option("--author", default="", help="pack.yaml author (default: $USER).")
@click.option("--email", default="", help="pack.yaml email (default: USER@example.com).")
@pass_cli
def create(cli: CliContext, name: str, parent: Path, author: str, email: str) -> None:
    """Create a new pack NAME: a python action, an Orquesta workflow, a webhook rule, a
    config schema and a test, which validate and pass as created.

    \b
    Then:
      packhorse pack validate ./NAME
      packhorse pack install ./NAME
      packhorse pack test NAME
    """
    from packhorse.packs.scaffold import create_pack

    user = cli.environ.get("USER") or "packhorse"
    folder = create_pack(parent, name, author=author or user, email=email or f"{user}@example.com")
    click.echo(f"Created {folder}")
    click.echo(f"Next: packhorse pack validate {folder} && packhorse pack install {folder}")


def _available(cli: CliContext) -> list[Any]:
    from packhorse.bootstrap import registry_reader
    from packhorse.packs.upgrades import available

    installed = {p.ref: p.version for p in registry_reader(cli.settings).list_packs()}
    return available(cli.settings.home, installed, index=cli.settings.pack_index)


@pack.command("outdated", short_help="Packs with a newer release where they came from.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def outdated(cli: CliContext, as_json: bool) -> None:
    """List installed packs that have a newer release where they were installed from (git
    release tags vX.Y.Z, the pack index, or the folder's pack.yaml). Exit status 1 when any
    is outdated."""
    found = _available(cli)
    if as_json:
        echo_json([a.to_dict() for a in found])
    else:
        echo_table(
            ["pack", "installed", "latest", "outdated", "note"],
            [(a.ref, a.installed, a.latest or "?", a.outdated, a.reason) for a in found],
        )
    if any(a.outdated for a in found):
        raise SystemExit(1)


@pack.command("upgrade", short_help="Install the newest release of packs.")
@click.argument("refs", nargs=-1)
@click.option("--all", "all_packs", is_flag=True, help="Every outdated pack.")
@click.option("--force", is_flag=True, help="As pack install --force.")
@wheelhouse_option
@click.option("--json", "as_json", is_flag=True, help="Print what was installed as JSON.")
@pass_cli
def upgrade(
    cli: CliContext,
    refs: tuple[str, ...],
    all_packs: bool,
    force: bool,
    wheelhouse: Path | None,
    as_json: bool,
) -> None:
    """Install the newest release of packs (see 'pack outdated'), all or nothing, as
    'pack install' does: a failed upgrade leaves the installed versions as they were."""
    from packhorse.bootstrap import pack_install_environment
    from packhorse.cli.output import steps
    from packhorse.packs.install import install as install_packs

    if not refs and not all_packs:
        raise click.UsageError("name the packs to upgrade, or pass --all")
    found = {a.ref: a for a in _available(cli)}
    for ref in refs:
        if ref not in found:
            raise click.UsageError(
                f"{ref} was not installed with 'pack install' (or is not registered): "
                "install it again from its source"
            )
    chosen = [found[ref] for ref in refs] if refs else list(found.values())
    specs = [a.spec for a in chosen if a.outdated]
    if not specs:
        click.echo("Everything named is up to date.")
        return
    env = pack_install_environment(cli.settings, wheelhouse=wheelhouse)
    with steps("pack upgrade", quiet=as_json) as say:
        outcome = install_packs(specs, env, force=force, say=say)
    _print_installed(outcome, as_json=as_json)
