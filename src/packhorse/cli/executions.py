"""``packhorse run`` and ``packhorse execution ...``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, echo_table

if TYPE_CHECKING:
    from packhorse.cli.sources import Executions
    from packhorse.model.execution import Execution

pass_cli = click.make_pass_decorator(CliContext)


def parse_assignments(pairs: tuple[str, ...], schema: dict[str, Any]) -> dict[str, Any]:
    """``k=v`` words as ``st2 run`` reads them: arrays split on commas unless given as JSON,
    objects as JSON; everything else stays text and is cast by the parameter pipeline."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator or not name:
            raise click.UsageError(f"parameters are name=value; got {pair!r}")
        kind = (schema.get(name) or {}).get("type")
        value: Any = text
        if kind in {"array", "object"}:
            try:
                value = json.loads(text)
            except ValueError:
                if kind == "array":
                    value = [item.strip() for item in text.split(",")] if text else []
        values[name] = value
    return values


def execution_document(execution: Execution) -> dict[str, Any]:
    """An execution in the shape of StackStorm's API and ``st2 execution get -j`` (imported
    when used: the CLI starts without the engine)."""
    from packhorse.engine.shapes import execution_document as shape

    return shape(execution)


def print_execution(execution: Execution) -> None:
    """Human output as ``st2 run`` prints it: a header, then the result as YAML."""
    import yaml

    from packhorse.engine.executions import display_parameters

    click.echo(f"id: {execution.id}")
    click.echo(f"action.ref: {execution.action_ref}")
    parameters = display_parameters(execution)
    if parameters:
        click.echo("parameters: ")
        click.echo(_indent(yaml.safe_dump(parameters, default_flow_style=False, sort_keys=True)))
    else:
        click.echo("parameters: None")
    click.echo(f"status: {execution.status.value}")
    click.echo(f"start_timestamp: {execution.start_timestamp or execution.created_at}")
    click.echo(f"end_timestamp: {execution.end_timestamp or ''}")
    if execution.result is not None:
        click.echo("result: ")
        dumped = yaml.safe_dump(execution.result, default_flow_style=False, sort_keys=True)
        click.echo(_indent(dumped))


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.rstrip("\n").splitlines())


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("action_ref")
@click.argument("parameters", nargs=-1, type=click.UNPROCESSED)
@click.option("--async", "run_async", is_flag=True, help="Queue it and print the id; do not wait.")
@click.option("--json", "as_json", is_flag=True, help="Print the execution as JSON.")
@click.option(
    "--user",
    help="Who the run is recorded for (default: admin; with --url, the signed-in user).",
)
@pass_cli
def run(
    cli: CliContext,
    action_ref: str,
    parameters: tuple[str, ...],
    run_async: bool,
    as_json: bool,
    user: str | None,
) -> None:
    """Run an action: packhorse run core.local cmd=date

    The execution goes through the durable queue. Without --async it runs here (or on a
    running 'packhorse up', whichever takes it first; with --url, on that server) and the
    result is printed as 'st2 run' prints it. Exit status: 0 when it succeeded, 1 otherwise.
    """
    from packhorse.cli import sources

    service = sources.executions(cli)
    action = service.action(action_ref)
    live = parse_assignments(parameters, dict(action.body.get("parameters") or {}))
    execution = service.request(action_ref, live, user=user)
    if run_async:
        if as_json:
            echo_json(execution_document(execution))
        else:
            click.echo(f"Queued execution {execution.id}.")
            click.echo(f"To get the results, execute:\n packhorse execution get {execution.id}")
        return
    finished = service.wait(execution.id)
    if as_json:
        echo_json(execution_document(finished))
    else:
        print_execution(finished)
    if finished.status.value != "succeeded":
        raise SystemExit(1)


@click.group()
def execution() -> None:
    """Inspect, follow, cancel and re-run executions."""


def _service(cli: CliContext) -> Executions:
    from packhorse.cli import sources

    return sources.executions(cli)


@execution.command("list")
@click.option("--action", "action_ref", metavar="REF", help="Only this action's.")
@click.option("--status", "statuses", multiple=True, help="Only these statuses (repeatable).")
@click.option("-n", "--last", "limit", default=50, show_default=True, help="How many.")
@click.option("--offset", default=0, help="Skip this many (newest first).")
@click.option(
    "--all", "show_all", is_flag=True, help="Include the executions of workflow tasks too."
)
@click.option("--parent", "parent_id", metavar="ID", help="Only the tasks of this workflow.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_executions(
    cli: CliContext,
    action_ref: str | None,
    statuses: tuple[str, ...],
    limit: int,
    offset: int,
    show_all: bool,
    parent_id: str | None,
    as_json: bool,
) -> None:
    """List executions, newest first; workflow tasks' own executions only with --all or
    --parent (they show in 'execution get' of their workflow)."""
    from packhorse.model.execution import Status
    from packhorse.storage.executions import ExecutionFilter

    try:
        wanted = tuple(Status(s) for s in statuses)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--status") from None
    found = _service(cli).list(
        ExecutionFilter(
            action_ref=action_ref,
            statuses=wanted,
            parent_id=parent_id,
            top_level=not show_all,
            limit=limit,
            offset=offset,
        )
    )
    if as_json:
        echo_json([execution_document(e) for e in found])
        return
    echo_table(
        ["id", "action.ref", "context.user", "status", "start_timestamp", "end_timestamp"],
        [
            (
                e.id,
                e.action_ref,
                e.context.get("user"),
                e.status.value,
                e.start_timestamp or e.created_at,
                e.end_timestamp,
            )
            for e in found
        ],
    )


@execution.command("get")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def get_execution(cli: CliContext, execution_id: str, as_json: bool) -> None:
    """Show one execution with its result; for a workflow, its task tree too (each task with
    the executions it ran, subworkflows nested)."""
    service = _service(cli)
    found = service.get(execution_id)
    tree = service.tree(found)
    if as_json:
        document = execution_document(found)
        if tree is not None:
            document["tasks"] = tree
        echo_json(document)
        return
    print_execution(found)
    if tree:
        click.echo("tasks:")
        for line in tree_lines(tree):
            click.echo(line)


def tree_lines(tree: list[dict[str, Any]], depth: int = 0) -> list[str]:
    """A task tree as indented lines: ``task[route] status  action  execution-id``."""
    lines = []
    pad = "  " * (depth + 1)
    for task in tree:
        route = task.get("route") or 0
        label = str(task.get("task_id") or task.get("node"))
        if route:
            label += f" (route {route})"
        runs = task.get("executions") or []
        if not runs:
            lines.append(f"{pad}{label}: {task.get('status')}")
        for run in runs:
            item = f" item {run['item']}" if "item" in run else ""
            lines.append(f"{pad}{label}{item}: {run['status']}  {run['action']}  {run['id']}")
            if run.get("tasks"):
                lines.extend(tree_lines(run["tasks"], depth + 1))
    return lines


@execution.command("pause")
@click.argument("execution_ids", nargs=-1, required=True)
@pass_cli
def pause_execution(cli: CliContext, execution_ids: tuple[str, ...]) -> None:
    """Pause running workflows: no new task starts; running tasks finish, then 'paused'."""
    service = _service(cli)
    for execution_id in execution_ids:
        service.pause(execution_id)
        click.echo(f"workflow execution {execution_id} is being paused.")


@execution.command("resume")
@click.argument("execution_ids", nargs=-1, required=True)
@pass_cli
def resume_execution(cli: CliContext, execution_ids: tuple[str, ...]) -> None:
    """Resume paused workflows where they stopped."""
    service = _service(cli)
    for execution_id in execution_ids:
        service.resume(execution_id)
        click.echo(f"workflow execution {execution_id} is being resumed.")


@execution.command("cancel")
@click.argument("execution_ids", nargs=-1, required=True)
@pass_cli
def cancel_execution(cli: CliContext, execution_ids: tuple[str, ...]) -> None:
    """Cancel executions: at once when not started, else their worker kills them."""
    service = _service(cli)
    for execution_id in execution_ids:
        result = service.cancel(execution_id)
        state = "canceled" if result.status.value == "canceled" else "is being canceled"
        click.echo(f"action execution with id {execution_id} {state}.")


@execution.command("re-run", context_settings={"ignore_unknown_options": True})
@click.argument("execution_id")
@click.argument("parameters", nargs=-1, type=click.UNPROCESSED)
@click.option("--async", "run_async", is_flag=True, help="Queue it; do not wait.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--user", help="Who the run is recorded for (default: admin; with --url, you).")
@click.option(
    "--tasks",
    "tasks",
    multiple=True,
    metavar="TASK[@ROUTE]",
    help="Workflow: rerun from these tasks, keeping what succeeded (repeatable, or comma list).",
)
@click.option(
    "--no-reset",
    "no_reset",
    multiple=True,
    metavar="TASK",
    help="With-items task of --tasks whose succeeded items are kept (only failed ones rerun).",
)
@pass_cli
def re_run_execution(
    cli: CliContext,
    execution_id: str,
    parameters: tuple[str, ...],
    run_async: bool,
    as_json: bool,
    user: str | None,
    tasks: tuple[str, ...],
    no_reset: tuple[str, ...],
) -> None:
    """Run an execution's action again with the same parameters (k=v overrides them).

    For a workflow that failed, --tasks reruns it from the named tasks: what succeeded before
    is kept, and the workflow carries on from there as a new execution.
    """
    service = _service(cli)
    original = service.get(execution_id)
    schema = dict(service.action(original.action_ref).body.get("parameters") or {})
    fresh = service.re_run(
        execution_id,
        user=user,
        overrides=parse_assignments(parameters, schema),
        tasks=_names(tasks),
        no_reset=_names(no_reset),
    )
    finished = fresh if run_async else service.wait(fresh.id)
    if as_json:
        echo_json(execution_document(finished))
    else:
        print_execution(finished)


def _names(values: tuple[str, ...]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@execution.command("tail")
@click.argument("execution_id")
@click.option("--timeout", default=0.0, help="Give up after this many seconds (0: never).")
@pass_cli
def tail_execution(cli: CliContext, execution_id: str, timeout: float) -> None:
    """Print an execution's output as it arrives, until it ends (as 'st2 execution tail')."""
    import time

    service = _service(cli)
    last = 0
    deadline = time.monotonic() + timeout if timeout > 0 else None
    while True:
        execution = service.get(execution_id)  # before reading: no chunk is missed
        for position, text in service.output_since(execution_id, last):
            click.echo(text, nl=False)
            last = position
        if execution.completed:
            click.echo(
                f"\nExecution {execution_id} has completed (status={execution.status.value})."
            )
            return
        if deadline is not None and time.monotonic() > deadline:
            raise click.ClickException(f"execution {execution_id} is still {execution.status}")
        time.sleep(0.1)
