"""``packhorse action|rule|trigger|sensor list|show``: registered content (``sensor list``
also shows how each sensor runs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, echo_record, echo_table
from packhorse.model.content import Kind, Resource
from packhorse.model.events import SensorStatus

pass_cli = click.make_pass_decorator(CliContext)

Columns = Sequence[tuple[str, Callable[[Resource], Any]]]


def _body(key: str) -> Callable[[Resource], Any]:
    return lambda resource: resource.body.get(key)


def _nested(outer: str, inner: str) -> Callable[[Resource], Any]:
    return lambda resource: (resource.body.get(outer) or {}).get(inner)


def _resource_group(name: str, kind: Kind, noun: str, columns: Columns) -> click.Group:
    """A command group with ``list`` and ``show`` for one kind of registered content."""

    @click.group(name=name, help=f"List and show registered {noun}s.")
    def group() -> None:
        pass

    @group.command("list", help=f"List registered {noun}s.")
    @click.option("--pack", "pack_ref", metavar="REF", help="Only this pack's.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @pass_cli
    def list_command(cli: CliContext, pack_ref: str | None, as_json: bool) -> None:
        from packhorse.cli import sources

        resources = sources.content(cli).list_resources(kind, pack=pack_ref)
        if as_json:
            echo_json([_record(r) for r in resources])
            return
        echo_table([c for c, _ in columns], [[get(r) for _, get in columns] for r in resources])

    @group.command("show", help=f"Show one {noun} in full.")
    @click.argument("ref")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @pass_cli
    def show_command(cli: CliContext, ref: str, as_json: bool) -> None:
        from packhorse.cli import sources
        from packhorse.errors import NotFound

        resource = sources.content(cli).get_resource(kind, ref)
        if resource is None:
            raise NotFound(noun, ref)
        if as_json:
            echo_json(_record(resource))
        else:
            echo_record(_record(resource))

    # st2 spells it 'get': accepted, not listed.
    alias = click.Command("get", callback=show_command.callback, params=show_command.params)
    alias.hidden, alias.help = True, show_command.help
    group.add_command(alias)
    return group


def _record(resource: Resource) -> dict[str, Any]:
    return {"ref": resource.ref, "pack": resource.pack, **dict(resource.body)} | {
        "enabled": resource.enabled,
        "metadata_file": resource.metadata_file,
    }


_ref: Callable[[Resource], Any] = lambda r: r.ref  # noqa: E731
_enabled: Callable[[Resource], Any] = lambda r: r.enabled  # noqa: E731

action = _resource_group(
    "action",
    Kind.ACTION,
    "action",
    [("ref", _ref), ("runner", _body("runner_type")), ("description", _body("description"))],
)
rule = _resource_group(
    "rule",
    Kind.RULE,
    "rule",
    [
        ("ref", _ref),
        ("enabled", _enabled),
        ("trigger", _nested("trigger", "type")),
        ("action", _nested("action", "ref")),
    ],
)
trigger = _resource_group(
    "trigger",
    Kind.TRIGGER_TYPE,
    "trigger type",
    [("ref", _ref), ("description", _body("description"))],
)
sensor = _resource_group(
    "sensor",
    Kind.SENSOR,
    "sensor",
    [("ref", _ref), ("enabled", _enabled), ("description", _body("description"))],
)


@click.command("list", help="List registered sensors and how they run (state, pid, restarts).")
@click.option("--pack", "pack_ref", metavar="REF", help="Only this pack's.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def sensor_list(cli: CliContext, pack_ref: str | None, as_json: bool) -> None:
    """Registered sensors joined with what the sensor container last stored about them (no
    status: no container has run the sensor yet)."""
    from packhorse.cli import sources

    resources = sources.content(cli).list_resources(Kind.SENSOR, pack=pack_ref)
    statuses = {status.ref: status for status in sources.sensor_statuses(cli)}
    if as_json:
        echo_json([_record(r) | {"status": _status_record(statuses.get(r.ref))} for r in resources])
        return
    rows = []
    for resource in resources:
        status = statuses.get(resource.ref)
        error = (status.last_error or "").strip().splitlines() if status else []
        rows.append(
            [
                resource.ref,
                resource.enabled,
                status.state if status else "",
                status.pid if status else None,
                status.restarts if status else None,
                status.updated_at if status else "",
                error[0] if error else "",
            ]
        )
    echo_table(["ref", "enabled", "state", "pid", "restarts", "updated", "last error"], rows)


def _status_record(status: SensorStatus | None) -> dict[str, Any] | None:
    return None if status is None else status.fields()


sensor.add_command(sensor_list)
