"""Action metadata (``actions/*.yaml``): fields, runner, entry point, parameters."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from packhorse.model.content import Kind, Resource
from packhorse.model.diagnostics import Diagnostic, Severity
from packhorse.model.runner_types import REMOVED_RUNNER_TYPES, RunnerType
from packhorse.packs.validate.report import FileReport, check_fields, describe, typed_fields
from packhorse.packs.validate.schema import check_parameters, json_schema_problem
from packhorse.packs.validate.scope import PackScope
from packhorse.packs.validate.yamldoc import parse_yaml

FIELDS = frozenset(
    {
        "description",
        "enabled",
        "entry_point",
        "id",
        "metadata_file",
        "name",
        "notify",
        "output_schema",
        "pack",
        "parameters",
        "ref",
        "runner_type",
        "tags",
        "uid",
    }
)
_TYPES = {
    "name": "string",
    "runner_type": "string",
    "description": "string",
    "enabled": "boolean",
    "entry_point": "string",
    "notify": "object",
    "tags": "array",
    "output_schema": "object",
}
_NOTIFY_KEYS = frozenset({"on-complete", "on-success", "on-failure"})


def validate_action(
    scope: PackScope, relative: str, report: FileReport, data: dict[str, Any]
) -> list[Resource]:
    check_fields(report, data, kind="action", required=("name", "runner_type"), allowed=FIELDS)
    typed_fields(report, data, _TYPES)
    runner = _runner(scope, report, data.get("runner_type"))
    entry_point = data.get("entry_point") or ""
    if isinstance(entry_point, str) and runner is not None:
        _check_entry_point(scope, report, runner, entry_point)
    parameters = data.get("parameters")
    if parameters is not None:
        check_parameters(
            report,
            parameters,
            ("parameters",),
            runner_parameters=runner.parameters if runner is not None else None,
        )
    notify = data.get("notify")
    if isinstance(notify, dict):
        check_fields(report, notify, kind="notify", allowed=_NOTIFY_KEYS, at=("notify",))
    output_schema = data.get("output_schema")
    if isinstance(output_schema, dict) and output_schema:
        problem = json_schema_problem(output_schema)
        if problem is not None:
            report.add(
                "PH221",
                f"output_schema is not a valid JSON schema ({problem[0]}); it will be ignored",
                ("output_schema", *problem[1]),
            )
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return []
    body = {key: value for key, value in data.items() if key not in ("id", "uid")}
    body.update(
        name=name,
        pack=scope.ref,
        ref=f"{scope.ref}.{name}",
        metadata_file=relative,
        enabled=data.get("enabled", True) is not False,
        entry_point=entry_point if isinstance(entry_point, str) else "",
        parameters=parameters if isinstance(parameters, dict) else {},
        description=data.get("description") or "",
    )
    return [
        Resource(
            kind=Kind.ACTION,
            ref=body["ref"],
            pack=scope.ref,
            name=name,
            metadata_file=relative,
            body=body,
            enabled=body["enabled"],
        )
    ]


def _runner(scope: PackScope, report: FileReport, name: Any) -> RunnerType | None:
    if not isinstance(name, str):
        return None
    runner = scope.runner_types.get(name)
    if runner is None:
        replacement = REMOVED_RUNNER_TYPES.get(name)
        if replacement:
            hint = f"runner type {name!r} was removed from StackStorm; use {replacement}"
        elif name in REMOVED_RUNNER_TYPES:
            hint = f"runner type {name!r} was removed from StackStorm and has no replacement"
        else:
            known = ", ".join(sorted(scope.runner_types))
            hint = f"unknown runner type {name!r}; use one of {known}"
        report.add("PH201", hint, ("runner_type",))
        return None
    if not runner.implemented:
        report.add(
            "PH202",
            f"runner type {name!r} is not implemented in Packhorse yet: the action registers "
            "but its executions will fail",
            ("runner_type",),
        )
    return runner


def _check_entry_point(
    scope: PackScope, report: FileReport, runner: RunnerType, entry_point: str
) -> None:
    if not entry_point:
        if runner.entry_point_required:
            report.add(
                "PH203",
                f"runner type {runner.name!r} needs an entry_point: the path of the "
                "file to run, relative to actions/",
                ("runner_type",),
            )
        return
    if runner.entry_point_forbidden:
        report.add(
            "PH204",
            f"runner type {runner.name!r} runs the 'cmd' parameter and ignores entry_point "
            f"{entry_point!r}; remove entry_point, or use the matching *-script runner",
            ("entry_point",),
        )
        return
    relative, why = scope.resolve("actions", entry_point)
    if relative is None:
        report.add(
            "PH206", f"entry_point {why}; keep entry points inside the pack", ("entry_point",)
        )
        return
    if relative not in scope.files:
        report.add(
            "PH205",
            f"entry_point {entry_point!r} not found: expected the file {relative} in the pack",
            ("entry_point",),
        )
        return
    if runner.workflow and relative in scope.source.texts:
        doc, problems = parse_yaml(scope.source.texts[relative], scope.source.shown(relative))
        errors = [problem for problem in problems if problem.is_error]
        if doc is None or errors:
            first = errors[0] if errors else None
            where = f" (line {first.line})" if first and first.line else ""
            detail = first.message if first else "unreadable"
            report.add(
                "PH207",
                f"workflow {relative} cannot be read{where}: {detail}",
                ("entry_point",),
            )
        elif not isinstance(doc.data, dict):
            report.add(
                "PH207",
                f"workflow {relative} must be a YAML mapping, not {describe(doc.data)}",
                ("entry_point",),
            )
        elif runner.name == "orquesta":
            # Imported here: packhorse.workflow.spec reads YAML through this package, so a
            # module-level import would be circular.
            from packhorse.workflow.spec import parse_workflow

            shown = scope.source.shown(relative)
            _, found = parse_workflow(scope.source.texts[relative], shown)
            report.sink.extend(_fails_when_run(found))
        elif runner.name == "action-chain":
            from packhorse.workflow.actionchain import parse_chain

            shown = scope.source.shown(relative)
            _, found = parse_chain(scope.source.texts[relative], shown)
            report.sink.extend(_fails_when_run(found))


def _fails_when_run(found: list[Diagnostic]) -> list[Diagnostic]:
    """A workflow's problems as pack diagnostics. StackStorm registers a pack whose workflow
    does not inspect clean; the workflow fails when it runs. So do we: its errors are warnings
    here (and errors for `packhorse workflow validate`), and a pack like st2's examples still
    registers."""
    return [
        replace(
            diagnostic,
            severity=Severity.WARNING,
            message=f"{diagnostic.message} (this workflow will fail when run)",
        )
        if diagnostic.is_error
        else diagnostic
        for diagnostic in found
    ]
