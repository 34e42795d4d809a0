"""Validate a batch of packs: every file of every pack, then the references between them.

Two passes. The first checks each pack on its own and records every reference a rule, alias
or policy makes. The second resolves those references against what is installed plus
everything in the batch, so a rule in one pack may use a trigger type of another pack
validated together with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from packhorse.model.content import Kind, Pack, Resource, split_ref
from packhorse.model.diagnostics import Diagnostic, has_errors
from packhorse.packs.source import YAML_SUFFIXES, PackSource
from packhorse.packs.validate.actions import validate_action
from packhorse.packs.validate.aliases import validate_alias, validate_policy
from packhorse.packs.validate.config_schema import FILE as CONFIG_SCHEMA_FILE
from packhorse.packs.validate.config_schema import validate_config_schema
from packhorse.packs.validate.context import ValidationContext
from packhorse.packs.validate.manifest import validate_manifest
from packhorse.packs.validate.report import FileReport, describe
from packhorse.packs.validate.rules import validate_rule
from packhorse.packs.validate.schema import validator_for
from packhorse.packs.validate.scope import PackScope, Reference
from packhorse.packs.validate.triggers import validate_sensor, validate_trigger_type_file
from packhorse.packs.validate.yamldoc import parse_yaml

MANIFEST = "pack.yaml"

Validator = Callable[[PackScope, str, FileReport, dict[str, Any]], list[Resource]]

#: Content folders in registration order (trigger types and sensors before rules).
CONTENT: tuple[tuple[str, str, Validator], ...] = (
    ("triggers", "trigger type", validate_trigger_type_file),
    ("sensors", "sensor", validate_sensor),
    ("actions", "action", validate_action),
    ("aliases", "alias", validate_alias),
    ("policies", "policy", validate_policy),
    ("rules", "rule", validate_rule),
)
_KIND_ORDER = {kind: index for index, kind in enumerate(Kind)}


@dataclass(frozen=True, slots=True)
class PackResult:
    """The outcome for one pack: the validated pack (None if any error) and every diagnostic."""

    source: PackSource
    pack: Pack | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return self.pack is not None


@dataclass(slots=True)
class _Work:
    source: PackSource
    scope: PackScope
    ref: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    manifest: FileReport | None = None


def metadata_files(source: PackSource) -> dict[str, list[str]]:
    """Metadata files by content folder: ``<folder>/*.yaml|yml``, top level only, sorted."""
    found: dict[str, list[str]] = {}
    for relative in source.texts:
        folder, slash, name = relative.partition("/")
        if slash and "/" not in name and name.endswith(YAML_SUFFIXES):
            found.setdefault(folder, []).append(relative)
    for names in found.values():
        names.sort()
    return found


def validate_packs(sources: Sequence[PackSource], context: ValidationContext) -> list[PackResult]:
    """Validate packs together; one result per source, in order. Never raises."""
    works = [_validate_pack(source, context) for source in sources]
    _check_duplicate_packs(works)
    trigger_types: dict[str, Mapping[str, Any]] = dict(context.trigger_types)
    actions = set(context.actions)
    packs = set(context.packs)
    for work in works:
        packs.add(work.scope.ref)
        for resource in work.resources:
            if resource.kind is Kind.TRIGGER_TYPE:
                trigger_types[resource.ref] = resource.body
            elif resource.kind is Kind.ACTION:
                actions.add(resource.ref)
    validators: dict[str, Any] = {}
    for work in works:
        for reference in work.scope.references:
            _check_reference(reference, trigger_types, actions, packs, validators)
    return [_result(work) for work in works]


def _result(work: _Work) -> PackResult:
    diagnostics = tuple(
        sorted(work.diagnostics, key=lambda d: (d.path, d.line, d.col, d.code, d.message))
    )
    pack = None
    if work.ref is not None and not has_errors(diagnostics):
        resources = sorted(
            work.resources, key=lambda r: (_KIND_ORDER[r.kind], r.metadata_file, r.ref)
        )
        pack = Pack(
            ref=work.ref,
            path=work.source.path,
            metadata=work.metadata,
            files=work.source.files,
            resources=tuple(resources),
        )
    return PackResult(work.source, pack, diagnostics)


def _validate_pack(source: PackSource, context: ValidationContext) -> _Work:
    scope = PackScope(source, source.dir_name, context.runner_types, frozenset(source.files))
    work = _Work(source, scope)
    shown = source.shown(MANIFEST)
    text = source.texts.get(MANIFEST)
    if text is None:
        FileReport(shown, None, work.diagnostics).add(
            "PH100", "pack.yaml is missing: every pack needs a pack.yaml manifest"
        )
        return work
    doc, problems = parse_yaml(text, shown)
    work.diagnostics.extend(problems)
    if doc is None:
        return work
    report = FileReport(shown, doc, work.diagnostics)
    work.manifest = report
    if not isinstance(doc.data, dict):
        report.add("PH004", f"pack.yaml must be a mapping, not {describe(doc.data)}")
        return work
    ref, work.metadata = validate_manifest(report, doc.data, source)
    work.ref = ref
    if ref is not None:
        scope.ref = ref
    _validate_content(work)
    return work


def _validate_content(work: _Work) -> None:
    source, scope = work.source, work.scope
    folders = metadata_files(source)
    defined: dict[tuple[Kind, str], Resource] = {}
    for folder, noun, validator in CONTENT:
        for relative in folders.get(folder, ()):
            report, data = _open(work, relative, noun)
            if report is None:
                continue
            for resource in validator(scope, relative, report, data):
                key = (resource.kind, resource.ref)
                first = defined.get(key)
                if first is not None and _same_trigger_type(first, resource):
                    continue  # sensors may share one trigger type, defined alike in each
                if first is not None:
                    report.add(
                        "PH005",
                        f"{resource.kind.value.replace('_', ' ')} {resource.ref!r} is already "
                        f"defined in {first.metadata_file}; rename or remove one of them",
                        _name_path(data, resource),
                    )
                else:
                    defined[key] = resource
                    work.resources.append(resource)
    if CONFIG_SCHEMA_FILE in source.texts:
        shown = source.shown(CONFIG_SCHEMA_FILE)
        doc, problems = parse_yaml(source.texts[CONFIG_SCHEMA_FILE], shown)
        work.diagnostics.extend(problems)
        if doc is not None:
            report = FileReport(shown, doc, work.diagnostics)
            work.resources.extend(validate_config_schema(scope, report, doc.data))


def _open(work: _Work, relative: str, noun: str) -> tuple[FileReport | None, dict[str, Any]]:
    shown = work.source.shown(relative)
    doc, problems = parse_yaml(work.source.texts[relative], shown)
    work.diagnostics.extend(problems)
    if doc is None:
        return None, {}
    report = FileReport(shown, doc, work.diagnostics)
    data = doc.data
    if not isinstance(data, dict):
        what = "empty" if data is None else f"{describe(data)}, not a mapping"
        report.add("PH004", f"{noun} file is {what}: it must be a YAML mapping of fields")
        return None, {}
    pack = data.get("pack")
    if pack is not None and pack != work.scope.ref:
        report.add(
            "PH013",
            f"{noun} says pack {pack!r} but is in pack {work.scope.ref!r}; remove the pack "
            f"field or set it to {work.scope.ref!r}",
            ("pack",),
        )
    return report, data


def _same_trigger_type(first: Resource, second: Resource) -> bool:
    if first.kind is not Kind.TRIGGER_TYPE:
        return False
    ignored = ("metadata_file",)
    return {k: v for k, v in first.body.items() if k not in ignored} == {
        k: v for k, v in second.body.items() if k not in ignored
    }


def _name_path(data: dict[str, Any], resource: Resource) -> tuple[str | int, ...]:
    if resource.kind is Kind.SENSOR:
        return ("class_name",)
    definitions = data.get("trigger_types")
    if resource.kind is Kind.TRIGGER_TYPE and isinstance(definitions, list):
        for index, item in enumerate(definitions):
            if isinstance(item, dict) and item.get("name") == resource.name:
                return ("trigger_types", index, "name")
    return ("name",)


def _check_duplicate_packs(works: list[_Work]) -> None:
    owners: dict[str, _Work] = {}
    for work in works:
        if work.ref is None or work.manifest is None:
            continue
        first = owners.setdefault(work.ref, work)
        if first is not work:
            work.manifest.add(
                "PH006",
                f"pack ref {work.ref!r} is also used by {first.source.display_path}; "
                "validate or install only one of them, or give one another ref",
                ("ref",) if "ref" in work.metadata else ("name",),
            )


def _check_reference(
    reference: Reference,
    trigger_types: Mapping[str, Mapping[str, Any]],
    actions: set[str],
    packs: set[str],
    validators: dict[str, Any],
) -> None:
    report, ref, noun = reference.report, reference.ref, reference.kind
    pack, name = split_ref(ref)
    if not pack or not name:
        report.add(
            "PH311",
            f"{reference.owner} refers to {noun} {ref!r}, which is not a '<pack>.<name>' ref",
            reference.at,
        )
        return
    if noun == "trigger":
        body = trigger_types.get(ref)
        if body is None:
            if pack in packs:
                report.add(
                    "PH307",
                    f"trigger type {ref!r} does not exist in pack {pack!r}; fix the name or "
                    "define the trigger type (triggers/*.yaml or a sensor's trigger_types)",
                    reference.at,
                )
            else:
                report.add(
                    "PH306",
                    f"trigger type {ref!r} cannot be checked: pack {pack!r} is neither "
                    "installed nor validated with this pack; install it first",
                    reference.at,
                )
            return
        if ref not in validators:
            validators[ref] = _trigger_validator(body)
        _check_trigger_parameters(reference, validators[ref])
        return
    if ref in actions:
        return
    if pack in packs:
        report.add(
            "PH310",
            f"action {ref!r} does not exist in pack {pack!r}; fix the ref or add the action",
            reference.at,
        )
    else:
        report.add(
            "PH309",
            f"action {ref!r} cannot be checked: pack {pack!r} is neither installed nor "
            "validated with this pack; install it first",
            reference.at,
        )


def _trigger_validator(body: Mapping[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    """The validator of a trigger type's parameters and their defaults (None: nothing to check)."""
    schema = body.get("parameters_schema")
    if not isinstance(schema, Mapping) or not schema:
        return None
    validator = validator_for(schema)
    if validator is None:
        return None
    defaults: dict[str, Any] = {}
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, item in properties.items():
            if isinstance(item, Mapping) and "default" in item:
                defaults[name] = item["default"]
    return validator, defaults


def _check_trigger_parameters(
    reference: Reference, checker: tuple[Any, dict[str, Any]] | None
) -> None:
    if checker is None:
        return
    validator, defaults = checker
    parameters = {**defaults, **(reference.parameters or {})}
    errors = sorted(
        validator.iter_errors(parameters), key=lambda error: [str(part) for part in error.path]
    )
    for error in errors:
        reference.report.add(
            "PH308",
            f"trigger parameters do not match {reference.ref!r}: {error.message}",
            (*reference.parameters_at, *error.path),
        )
    if not errors and reference.ref in _TIMER_TYPES:
        _check_timer(reference, parameters)


_TIMER_TYPES = frozenset({"core.st2.IntervalTimer", "core.st2.CronTimer", "core.st2.DateTimer"})


def _check_timer(reference: Reference, parameters: Mapping[str, Any]) -> None:
    """What the schema cannot see (a cron field out of range, a date that does not parse),
    each at its parameter. Imported here: only timer rules pay for it."""
    from packhorse.rules.timers import timer_problems

    given = reference.parameters or {}
    for problem in timer_problems(reference.ref, parameters):
        at = (problem.parameter,) if problem.parameter in given else ()
        reference.report.add(
            "PH314", f"{reference.ref}: {problem.format()}", (*reference.parameters_at, *at)
        )


def with_loose_trigger_types(
    context: ValidationContext, sources: Sequence[PackSource]
) -> ValidationContext:
    """Add the trigger types of pack folders without pack.yaml (a partial bundled pack).

    Only the trigger types become known, not the packs: references to other content of
    those packs stay unchecked (a warning) rather than wrong (an error).
    """
    found = dict(context.trigger_types)
    for source in sources:
        for resource in loose_trigger_types(source, context):
            found.setdefault(resource.ref, resource.body)
    return replace(context, trigger_types=MappingProxyType(found))


def loose_trigger_types(source: PackSource, context: ValidationContext) -> list[Resource]:
    """Trigger types in ``triggers/`` of a folder without pack.yaml (diagnostics dropped)."""
    scope = PackScope(source, source.dir_name, context.runner_types, frozenset(source.files))
    work = _Work(source, scope)
    found: list[Resource] = []
    for relative in metadata_files(source).get("triggers", ()):
        report, data = _open(work, relative, "trigger type")
        if report is not None:
            found.extend(validate_trigger_type_file(scope, relative, report, data))
    return found
