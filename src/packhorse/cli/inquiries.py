"""``packhorse inquiry list|get|respond``: the questions ``core.ask`` asks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, echo_table

if TYPE_CHECKING:
    from packhorse.cli.sources import Inquiries

pass_cli = click.make_pass_decorator(CliContext)


def _service(cli: CliContext) -> Inquiries:
    from packhorse.cli import sources

    return sources.inquiries(cli)


@click.group()
def inquiry() -> None:
    """Inquiries: questions workflows wait on (core.ask) until someone answers them."""


@inquiry.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_inquiries(cli: CliContext, as_json: bool) -> None:
    """Inquiries waiting for an answer, newest first."""
    found = _service(cli).list()
    if as_json:
        echo_json([i.as_dict() for i in found])
        return
    echo_table(
        ["id", "parent", "route", "ttl", "users", "created_at"],
        [(i.id, i.parent, i.route, i.ttl, ",".join(i.users), i.created_at) for i in found],
    )


@inquiry.command("get")
@click.argument("inquiry_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def get_inquiry(cli: CliContext, inquiry_id: str, as_json: bool) -> None:
    """Show an inquiry and the schema its answer must satisfy."""
    found = _service(cli).get(inquiry_id)
    if as_json:
        echo_json(found.as_dict())
        return
    import yaml

    click.echo(yaml.safe_dump(found.as_dict(), default_flow_style=False, sort_keys=False))


@inquiry.command("respond")
@click.argument("inquiry_id")
@click.option(
    "-r",
    "--response",
    metavar="JSON",
    help="The answer as a JSON object; without it, each schema property is asked for.",
)
@click.option("--user", help="Who answers (default: admin; with --url, the signed-in user).")
@click.option("--json", "as_json", is_flag=True, help="Print the answered inquiry as JSON.")
@pass_cli
def respond_inquiry(
    cli: CliContext, inquiry_id: str, response: str | None, user: str | None, as_json: bool
) -> None:
    """Answer an inquiry: packhorse inquiry respond ID -r '{"continue": true}'

    The answer is checked against the inquiry's schema; the workflow waiting on it resumes.
    """
    service = _service(cli)
    if response is None:
        answer = _prompt(service.get(inquiry_id).schema)
    else:
        try:
            answer = json.loads(response)
        except ValueError as error:
            raise click.BadParameter(f"not JSON: {error}", param_hint="--response") from None
    answered = service.respond(inquiry_id, answer, user=user)
    if as_json:
        echo_json(answered.as_dict())
    else:
        click.echo(f"Response accepted for inquiry {inquiry_id}.")


def _prompt(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Ask for each top-level property, typed as the schema says."""
    kinds = {"boolean": bool, "integer": int, "number": float}
    answer: dict[str, Any] = {}
    for name, raw in (schema.get("properties") or {}).items():
        item = raw if isinstance(raw, dict) else {}
        kind = item.get("type")
        text = item.get("description") or name
        if kind == "boolean":
            answer[name] = click.confirm(text)
        elif kind in kinds:
            answer[name] = click.prompt(text, type=kinds[kind])
        elif kind in ("object", "array"):
            answer[name] = json.loads(click.prompt(f"{text} (JSON)"))
        else:
            answer[name] = click.prompt(text)
    return answer
