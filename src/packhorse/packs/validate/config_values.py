"""Pack config values (``configs/<ref>.yaml``) checked against the pack's config schema (pure).

    validate_config(doc, schema, path=...)       -> (values with defaults, diagnostics)
    validate_config_text(text, schema, path=...) -> the same from the file's bytes (None: no file)
    config_resource(ref, values, file)           -> the CONFIG resource registration stores

What registration checks, as StackStorm's ``validate_config_against_schema`` does: the static
values, after the schema's defaults are filled in, against the schema, with null allowed for
every key that is optional or whose default is null (``allow_default_none``) and with keys the
schema does not name allowed at the top (``additionalProperties: false`` further down is
enforced). Values that are Jinja templates (``"{{ st2kv.system.token }}"``) are resolved at
run time (:mod:`packhorse.params.config`), so they are not type-checked here; their syntax is.

Beyond StackStorm: a ``secret: true`` value written in clear text is a warning, and a pack
whose schema requires keys that have no default, but that has no config file, gets a warning
saying so. Every problem is a diagnostic with the file, line, column and dotted key.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import PurePath
from typing import Any

from jsonschema import Draft4Validator, ValidationError

from packhorse.expr import is_jinja, syntax_errors
from packhorse.model.content import Kind, Resource, canonical_json
from packhorse.model.diagnostics import Diagnostic
from packhorse.packs.validate.report import FileReport, describe, dotted
from packhorse.packs.validate.schema import validator_for
from packhorse.packs.validate.yamldoc import Path, YamlDocument, parse_yaml
from packhorse.params.config import is_dynamic, item_schemas, object_schemas

__all__ = ["apply_defaults", "config_resource", "validate_config", "validate_config_text"]

_EMPTY: Mapping[str, Any] = {}

_TYPE_NAMES = {
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def config_resource(ref: str, values: Mapping[str, Any], file: str | None) -> Resource:
    """The registered config of pack ``ref``: ``file`` is ``configs/<ref>.yaml`` or None."""
    body = {"pack": ref, "values": dict(values), "file": file}
    return Resource(Kind.CONFIG, ref, ref, ref, file or "config.schema.yaml", body)


def validate_config_text(
    text: bytes | None, schema: Mapping[str, Any] | None, *, path: str
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """:func:`validate_config` of a config file's bytes; ``text`` None means there is no file.

    A file that is not UTF-8 or not valid YAML is a diagnostic (PH001, PH002).
    """
    if text is None:
        return validate_config(None, schema or _EMPTY, path=path)
    doc, problems = parse_yaml(text, path)
    if doc is None:
        return apply_defaults({}, schema or _EMPTY), problems
    values, diagnostics = validate_config(doc, schema or _EMPTY, path=path)
    return values, [*problems, *diagnostics]


def validate_config(
    doc: YamlDocument | None, schema: Mapping[str, Any], *, path: str
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Check a pack's config values; return them with the schema's defaults, and every problem.

    ``doc`` is the parsed config file (None when the pack has none: the values are then the
    defaults); ``schema`` is the config schema's attributes (empty: nothing is checked and the
    values are kept as they are); ``path`` is the config file as diagnostics show it, whose
    name is the pack ref. Never raises.
    """
    diagnostics: list[Diagnostic] = []
    ref = PurePath(path).stem
    if doc is None:
        _check_unconfigured(FileReport(path, None, diagnostics), schema, ref)
        return apply_defaults({}, schema), diagnostics
    report = FileReport(path, doc, diagnostics)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        report.add(
            "PH610",
            f"the config file must be a mapping of config key to value, not {describe(data)}",
        )
        return apply_defaults({}, schema), diagnostics
    if not schema:
        return copy.deepcopy(data), diagnostics
    _check_templates(report, data, ())
    values = apply_defaults(data, schema)
    _check_against_schema(report, values, schema)
    top = {key: _schema(schema.get(key)) for key in data}
    _check_secrets(report, data, top, (), ref)
    diagnostics.sort(key=lambda d: (d.line, d.col, d.code, d.message))
    return values, diagnostics


# -- defaults --------------------------------------------------------------------------------


def apply_defaults(values: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``values`` with the schema's defaults filled in, as registration stores them.

    A key of ``properties`` that is absent or null takes its default; objects and lists that
    are present get the defaults of their own ``properties`` and ``items``. (Resolution at
    run time fills in more: :func:`packhorse.params.config.resolve_config`.)
    """
    result = copy.deepcopy(dict(values))
    _object_defaults(result, schema)
    return result


def _schema(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _has_type(item: Mapping[str, Any], name: str) -> bool:
    kind = item.get("type")
    return kind == name or (isinstance(kind, list) and name in kind)


def _object_defaults(instance: dict[str, Any], properties: Mapping[str, Any]) -> None:
    for name, raw in properties.items():
        item = _schema(raw)
        if "default" in item and instance.get(name) is None:
            instance[name] = copy.deepcopy(item["default"])
        _nested_defaults(instance.get(name), item)


def _nested_defaults(value: Any, item: Mapping[str, Any]) -> None:
    if isinstance(value, dict) and _has_type(item, "object"):
        _object_defaults(value, _schema(item.get("properties")))
    elif isinstance(value, list) and _has_type(item, "array"):
        items = item.get("items")
        schemas: Sequence[Any]
        if isinstance(items, Mapping):
            schemas = [items] * len(value)
        else:
            schemas = items if isinstance(items, list) else []
        for index, raw in enumerate(schemas[: len(value)]):
            element = _schema(raw)
            if "default" in element and value[index] is None:
                value[index] = copy.deepcopy(element["default"])
            _nested_defaults(value[index], element)


# -- the schema ------------------------------------------------------------------------------


def _document_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON schema of a whole config: keys the schema does not name are allowed."""
    return {"type": "object", "properties": _allow_null(schema), "additionalProperties": True}


def _allow_null(properties: Mapping[str, Any]) -> dict[str, Any]:
    """``allow_default_none``: null is valid for a key that is optional or defaults to null."""
    result: dict[str, Any] = {}
    for name, raw in properties.items():
        if not isinstance(raw, Mapping):
            result[name] = raw
            continue
        item = dict(raw)
        optional = item.get("required") is not True
        if (optional or "default" in item) and item.get("default") is None:
            _add_null(item)
        items = item.get("items")
        if (
            _has_type(item, "array")
            and isinstance(items, Mapping)
            and isinstance(items.get("properties"), Mapping)
        ):
            item["items"] = {**items, "properties": _allow_null(items["properties"])}
        if _has_type(item, "object") and isinstance(item.get("properties"), Mapping):
            item["properties"] = _allow_null(item["properties"])
        result[name] = item
    return result


def _add_null(item: dict[str, Any]) -> None:
    enum = item.get("enum")
    if isinstance(enum, list) and None not in enum:
        item["enum"] = [*enum, None]  # StackStorm forgets this one: null fails its enum check
    null = {"type": "null"}
    for keyword in ("anyOf", "oneOf"):
        choices = item.get(keyword)
        if isinstance(choices, list):
            if null not in choices:
                item[keyword] = [*choices, null]
            return
    kind = item.get("type")
    if isinstance(kind, list) and "null" not in kind:
        item["type"] = [*kind, "null"]
    elif isinstance(kind, str) and kind != "null":
        item["type"] = [kind, "null"]


@lru_cache(maxsize=1024)
def _validator(schema_text: str) -> Draft4Validator | None:
    return validator_for(_document_schema(json.loads(schema_text)))


def _check_against_schema(
    report: FileReport, values: dict[str, Any], schema: Mapping[str, Any]
) -> None:
    try:
        validator = _validator(canonical_json(schema))
    except (TypeError, ValueError):
        validator = None
    if validator is None:
        return  # the schema itself is invalid: reported against config.schema.yaml
    reported: set[Path] = set()
    try:
        for error in validator.iter_errors(values):
            if is_dynamic(error.instance):
                continue  # a template: its value is known only at run time
            _report(report, error, reported)
    except (re.error, RecursionError) as error:
        # A pattern Python cannot compile, or a schema nested beyond reason.
        report.add("PH615", f"the values cannot be checked: the schema is unusable ({error})")


def _report(report: FileReport, error: ValidationError, reported: set[Path]) -> None:
    at: Path = tuple(error.absolute_path)
    schema = _schema(error.schema)
    expected: Any = error.validator_value
    match error.validator:
        case "required":
            required = expected if isinstance(expected, list) else []
            instance = error.instance if isinstance(error.instance, dict) else {}
            for name in required:
                key = (*at, name)
                if name in instance or key in reported:
                    continue
                reported.add(key)
                report.add(
                    "PH613",
                    f"config key {dotted(key)} is required and has no default: set it",
                    key,  # located at the object that lacks it
                )
        case "additionalProperties":
            for name in _unexpected(schema, error.instance):
                key = (*at, name)
                if key in reported:
                    continue
                reported.add(key)
                known = ", ".join(sorted(_schema(schema.get("properties")))) or "none"
                report.add(
                    "PH614",
                    f"unknown config key {dotted(key)}: {dotted(at)} takes no other keys "
                    f"(known: {known}); remove it or fix its spelling",
                    key,
                )
        case "type":
            report.add(
                "PH611",
                f"config key {dotted(at)} must be {_expected(expected)}, "
                f"not {describe(error.instance)}{_from_default(report, at)}",
                at,
            )
        case "enum":
            choices = ", ".join(repr(c) for c in expected if c is not None)
            report.add(
                "PH612",
                f"config key {dotted(at)} is {error.instance!r}{_from_default(report, at)}; "
                f"use one of {choices}",
                at,
            )
        case _:
            report.add(
                "PH615",
                f"config key {dotted(at) or '(top)'}: {error.message}{_from_default(report, at)}",
                at,
            )


def _expected(kind: Any) -> str:
    names = kind if isinstance(kind, list) else [kind]
    return " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in names)


def _from_default(report: FileReport, at: Path) -> str:
    """Said of a problem with a value the file does not hold: it came from a default."""
    if report.doc is None or not at or at in report.doc.positions:
        return ""
    return " (the value comes from the schema's default)"


def _unexpected(schema: Mapping[str, Any], instance: Any) -> list[str]:
    if not isinstance(instance, dict):
        return []
    properties = _schema(schema.get("properties"))
    patterns = list(_schema(schema.get("patternProperties")))
    found = []
    for name in instance:
        if name in properties:
            continue
        if any(_search(pattern, name) for pattern in patterns):
            continue
        found.append(name)
    return found


def _search(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


# -- templates and secrets -------------------------------------------------------------------


def _entries(node: dict[str, Any] | list[Any]) -> Iterable[tuple[Any, Any]]:
    return node.items() if isinstance(node, dict) else enumerate(node)


def _check_templates(report: FileReport, node: dict[str, Any] | list[Any], at: Path) -> None:
    """PH618 for every template that does not parse (it would fail at every resolution)."""
    for key, value in _entries(node):
        here = (*at, key)
        if isinstance(value, dict | list):
            _check_templates(report, value, here)
        elif is_dynamic(value):
            errors = syntax_errors(value)
            if errors:
                reason = errors[0].reason
            elif not is_jinja(value):
                reason = "'{{' or '{%' without its closing '}}' or '%}'"
            else:
                continue
            report.add(
                "PH618",
                f"config key {dotted(here)} is not a valid template: {reason}; fix it, or "
                "wrap literal braces in {% raw %}...{% endraw %}",
                here,
            )


def _check_secrets(
    report: FileReport,
    node: dict[str, Any] | list[Any],
    schemas: Mapping[Any, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
    at: Path,
    ref: str,
) -> None:
    """PH616 for secrets in clear text, PH617 for ``decrypt_kv`` on a secret."""
    for key, value in _entries(node):
        if isinstance(schemas, Mapping):
            item = schemas.get(key, _EMPTY)
        else:
            item = schemas[key] if key < len(schemas) else _EMPTY
        here = (*at, key)
        if item.get("secret") is True:
            if is_dynamic(value) and "decrypt_kv" in value:
                report.add(
                    "PH617",
                    f"config key {dotted(here)} is secret, so it is decrypted already; "
                    "remove '| decrypt_kv' from its template",
                    here,
                )
            elif _holds_clear_text(value):
                name = "_".join(str(part) for part in (ref, *here))
                report.add(
                    "PH616",
                    f"config key {dotted(here)} is secret but written in clear text; keep "
                    "it encrypted in the datastore and write "
                    f'"{{{{ st2kv.system.{name} }}}}" here instead',
                    here,
                )
        elif isinstance(value, dict):
            _check_secrets(report, value, object_schemas(item, value.keys()), here, ref)
        elif isinstance(value, list):
            _check_secrets(report, value, item_schemas(item, len(value)), here, ref)


def _holds_clear_text(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, str):
        return not is_dynamic(value)
    if isinstance(value, dict):
        return any(_holds_clear_text(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_clear_text(item) for item in value)
    return True


def _check_unconfigured(report: FileReport, schema: Mapping[str, Any], ref: str) -> None:
    """PH619: the schema requires keys that have no default, and there is no config file."""
    missing = [
        key
        for key, item in schema.items()
        if isinstance(item, Mapping) and item.get("required") is True and "default" not in item
    ]
    if missing:
        keys = ", ".join(missing)
        report.add(
            "PH619",
            f"pack {ref!r} has no config file, and its schema requires {keys} (no default); "
            f"write one with 'packhorse pack config {ref}'",
        )
