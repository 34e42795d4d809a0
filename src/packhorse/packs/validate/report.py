"""Collecting diagnostics for one file, and the structural checks every kind shares."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from packhorse.model.diagnostics import Diagnostic, Severity
from packhorse.packs.validate.codes import severity_of
from packhorse.packs.validate.yamldoc import Path, YamlDocument


def dotted(at: Path) -> str:
    return ".".join(str(part) for part in at)


class FileReport:
    """Diagnostics of one file, located through the file's YAML positions."""

    __slots__ = ("doc", "path", "sink")

    def __init__(self, path: str, doc: YamlDocument | None, sink: list[Diagnostic]) -> None:
        self.path = path
        self.doc = doc
        self.sink = sink

    def add(
        self, code: str, message: str, at: Path = (), *, severity: Severity | None = None
    ) -> None:
        line, col = self.doc.where(at) if self.doc is not None else (0, 0)
        level = severity or severity_of(code)
        self.sink.append(Diagnostic(code, level, message, self.path, line, col, dotted(at)))


_TYPE_NAMES = {
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def is_type(value: Any, name: str) -> bool:
    """JSON-schema type test on YAML data (booleans are not numbers)."""
    match name:
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "null":
            return value is None
    return False


def describe(value: Any) -> str:
    """A short name of a value's YAML type, for messages."""
    for name in ("boolean", "integer", "number", "string", "object", "array", "null"):
        if is_type(value, name):
            return _TYPE_NAMES[name]
    return type(value).__name__


def check_type(
    report: FileReport, value: Any, type_name: str, at: Path, what: str | None = None
) -> bool:
    """PH012 unless ``value`` has the JSON type ``type_name``; ``what`` defaults to the field."""
    if is_type(value, type_name):
        return True
    shown = what if what is not None else dotted(at)
    report.add("PH012", f"{shown} must be {_TYPE_NAMES[type_name]}, not {describe(value)}", at)
    return False


def check_fields(
    report: FileReport,
    data: Mapping[str, Any],
    *,
    kind: str,
    required: Iterable[str] = (),
    allowed: Collection[str] | None = None,
    at: Path = (),
) -> None:
    """PH011 for keys outside ``allowed`` (when given), PH010 for missing required keys."""
    if allowed is not None:
        for key in data:
            if key not in allowed:
                known = ", ".join(sorted(k for k in allowed if k not in _COMPUTED))
                report.add(
                    "PH011",
                    f"unknown field {key!r} in {kind}: remove it or fix its spelling "
                    f"(known fields: {known})",
                    (*at, key),
                )
    for key in required:
        if data.get(key) is None:
            where = f"{dotted(at)}." if at else ""
            report.add("PH010", f"{kind} needs the field {where}{key}; add it", at)


#: Fields StackStorm computes; accepted in files but not suggested in messages.
_COMPUTED = frozenset({"id", "uid", "ref", "metadata_file"})


def typed_fields(
    report: FileReport, data: Mapping[str, Any], types: Mapping[str, str], at: Path = ()
) -> None:
    """PH012 for each present field of ``data`` whose value is not of its declared type."""
    for key, type_name in types.items():
        if key in data and data[key] is not None:
            check_type(report, data[key], type_name, (*at, key))
