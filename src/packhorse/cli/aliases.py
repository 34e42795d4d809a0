"""``packhorse alias list|get|match|run``: action aliases (ChatOps commands) from the packs,
matched and run here as the API's ``/actionalias/match`` and ``/aliasexecution`` do."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, echo_record, echo_table

if TYPE_CHECKING:
    from packhorse.engine.aliases import AliasService
    from packhorse.engine.runtime import Runtime

pass_cli = click.make_pass_decorator(CliContext)

__all__ = ["alias"]

_USER_HELP = "Who asks: the execution's user and api_user (st2kv.user, {{ api_user }})."
_CHANNEL_HELP = "The execution's source_channel (StackStorm's st2 CLI sends 'cli')."


@click.group()
def alias() -> None:
    """List action aliases, see which one a chat command matches, and run it.

    \b
    packhorse alias list --pack examples
    packhorse alias match "greet Ada"       which alias, which parameters (nothing runs)
    packhorse alias run "greet Ada"         run it and print the execution
    """


def _service(cli: CliContext, runtime: Runtime | None = None) -> tuple[AliasService, Runtime]:
    from packhorse import bootstrap
    from packhorse.engine.aliases import AliasService
    from packhorse.engine.runtime import build_runtime

    runtime = runtime or build_runtime(cli.settings, slots=1)
    service = AliasService(
        bootstrap.registry_reader(cli.settings),
        runtime.executions,
        lookup=runtime.datastore.lookup,
        decrypt=runtime.datastore.decrypt,
    )
    return service, runtime


def _formats(document: dict[str, Any]) -> str:
    from packhorse.aliases.formats import representations

    shown = [r.display or r.text for r in representations(document.get("formats"))]
    return "; ".join(dict.fromkeys(shown))


@alias.command("list")
@click.option("--pack", "pack_ref", metavar="REF", help="Only this pack's.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (StackStorm's ActionAliasAPI).")
@pass_cli
def list_aliases(cli: CliContext, pack_ref: str | None, as_json: bool) -> None:
    """List registered aliases: ref, action, enabled and the commands they understand."""
    from packhorse import bootstrap
    from packhorse.engine.aliases import alias_document
    from packhorse.model.content import Kind

    aliases = bootstrap.registry_reader(cli.settings).list_resources(Kind.ALIAS, pack_ref)
    documents = [alias_document(a) for a in aliases]
    if as_json:
        echo_json(documents)
        return
    rows = [[d["ref"], d["action_ref"], d["enabled"], _formats(d)] for d in documents]
    echo_table(["ref", "action", "enabled", "formats"], rows)


@alias.command("get")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (StackStorm's ActionAliasAPI).")
@pass_cli
def get_alias(cli: CliContext, ref: str, as_json: bool) -> None:
    """Show one alias (by ref, id or unique name) in full."""
    from packhorse import bootstrap
    from packhorse.engine.aliases import AliasNotFound, alias_document, find_alias

    found = find_alias(bootstrap.registry_reader(cli.settings), ref)
    if found is None:
        raise AliasNotFound(ref)
    document = alias_document(found)
    if as_json:
        echo_json(document)
    else:
        echo_record(document)


@alias.command("match")
@click.argument("text")
@click.option("--user", default="admin", show_default=True, help=_USER_HELP)
@click.option("--source-channel", default="cli", show_default=True, help=_CHANNEL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def match_alias(cli: CliContext, text: str, user: str, source_channel: str, as_json: bool) -> None:
    """Which alias TEXT matches, and the parameters its execution would get. Nothing runs.

    Exits 0 on a match; 1 when no alias format matches TEXT, or more than one does
    (StackStorm refuses both), saying which.
    """
    from packhorse.aliases.matching import CommandNotMatched
    from packhorse.engine.aliases import alias_document

    service, _ = _service(cli)
    try:
        matched = service.match(text)
    except CommandNotMatched as error:
        found = [(m.alias.ref, m.format) for m in error.matches]
        if as_json:
            echo_json(
                {
                    "faultstring": error.message,
                    "matches": [{"ref": r, "representation": f} for r, f in found],
                }
            )
        else:
            click.echo(error.message)
            for ref, format_text in found:
                click.echo(f"  {ref}: {format_text}")
            if error.hint:
                click.echo(f"hint: {error.hint}")
        raise SystemExit(1) from None
    context = service.context(
        matched.alias, user=user, api_user=user, source_channel=source_channel
    )
    multiple = matched.representation.match_multiple
    runs = service.plan(matched.alias, matched.format, text, context, multiple=multiple)
    action_ref = matched.alias.body.get("action_ref")
    if as_json:
        echo_json(
            {
                "actionalias": alias_document(matched.alias),
                "display": matched.display,
                "representation": matched.format,
                "action": action_ref,
                "parameters": runs,
            }
        )
        return
    click.echo(f"alias: {matched.alias.ref}")
    click.echo(f"format: {matched.format}")
    click.echo(f"action: {action_ref}")
    for parameters in runs:
        click.echo("parameters: " + (_yaml(parameters) if parameters else "None"))


@alias.command("run")
@click.argument("text")
@click.option("--user", default="admin", show_default=True, help=_USER_HELP)
@click.option("--source-channel", default="cli", show_default=True, help=_CHANNEL_HELP)
@click.option("--async", "run_async", is_flag=True, help="Queue it and print the id; do not wait.")
@click.option("--json", "as_json", is_flag=True, help="Print the execution(s) as JSON.")
@pass_cli
def run_alias(
    cli: CliContext, text: str, user: str, source_channel: str, run_async: bool, as_json: bool
) -> None:
    """Run the action of the alias TEXT matches, with the parameters TEXT gives, and print
    the execution as 'packhorse run' does (one per match for a match_multiple format), then
    the alias's result format rendered, as chat would show it ('chat result: ...').

    Exit status: 0 when every execution succeeded (or was queued with --async), 1 otherwise;
    2 when TEXT matches no alias, or several.
    """
    from packhorse.cli.executions import print_execution
    from packhorse.engine.aliases import result_message
    from packhorse.engine.shapes import execution_document

    service, runtime = _service(cli)
    matched, runs = service.match_and_execute(
        text, user=user, api_user=user, source_channel=source_channel
    )
    executions = [run.execution for run in runs]
    if not as_json:
        click.echo(f"Matching action-alias: '{matched.alias.ref}'")
    if not run_async:
        executions = asyncio.run(_run_all(runtime, [e.id for e in executions]))
    if as_json:
        documents = [execution_document(e) for e in executions]
        echo_json(documents[0] if len(documents) == 1 else documents)
    elif run_async:
        for execution in executions:
            click.echo(f"Queued execution {execution.id}.")
            click.echo(f"To get the results, execute:\n packhorse execution get {execution.id}")
    else:
        for execution in executions:
            print_execution(execution)
            message = result_message(matched.alias, execution_document(execution))
            if message is not None:
                click.echo(f"chat result: {message}")
    if not run_async and any(e.status.value != "succeeded" for e in executions):
        raise SystemExit(1)


async def _run_all(runtime: Runtime, ids: list[str]) -> list[Any]:
    try:
        return [await runtime.run_one(execution_id) for execution_id in ids]
    finally:
        await runtime.aclose()


def _yaml(value: Any) -> str:
    import yaml

    dumped = yaml.safe_dump(value, default_flow_style=False, sort_keys=True).rstrip("\n")
    return "\n" + "\n".join(f"  {line}" for line in dumped.splitlines())
