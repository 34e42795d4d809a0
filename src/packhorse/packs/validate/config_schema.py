"""``config.schema.yaml``: a map of top-level config keys to parameter schemas."""

from __future__ import annotations

from typing import Any

from packhorse.model.content import Kind, Resource
from packhorse.packs.validate.report import FileReport, describe
from packhorse.packs.validate.schema import check_parameters
from packhorse.packs.validate.scope import PackScope

FILE = "config.schema.yaml"


def validate_config_schema(scope: PackScope, report: FileReport, data: Any) -> list[Resource]:
    """Check the config schema; one CONFIG_SCHEMA resource whose ref is the pack ref."""
    if data is None or data == {}:
        whole_file = FileReport(report.path, None, report.sink)
        whole_file.add(
            "PH601",
            "config.schema.yaml is empty; describe at least one config key, or delete the file",
        )
        return []
    if not isinstance(data, dict):
        report.add(
            "PH004",
            f"config.schema.yaml must be a mapping of config key to schema, not {describe(data)}",
        )
        return []
    check_parameters(report, data, (), name_code="PH602", owner="config schema")
    body = {"pack": scope.ref, "attributes": data, "metadata_file": FILE}
    return [Resource(Kind.CONFIG_SCHEMA, scope.ref, scope.ref, scope.ref, FILE, body)]
