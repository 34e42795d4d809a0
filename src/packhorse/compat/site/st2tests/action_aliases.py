"""``BaseActionAliasTestCase``, minimal: format strings matched against commands.

Supports ``{{ name }}`` and ``{{ name = default }}`` placeholders and trailing ``key=value``
pairs; the pack's alias files are read with PyYAML when the pack's virtualenv has it.
"""

from __future__ import annotations

import os
import re
from typing import Any

from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseActionAliasTestCase"]

PLACEHOLDER = re.compile(r"{{\s*(\w+)\s*(?:=\s*(.*?)\s*)?}}")
KEY_VALUE = re.compile(r"""(\w+)=("[^"]*"|'[^']*'|\S+)""")


class ParseError(ValueError):
    """The command does not match the format string."""


def extract_parameters(format_str: str, param_stream: str) -> dict[str, Any]:
    """Parameters of ``param_stream`` read through ``format_str``."""
    pattern, defaults, position = "", {}, 0
    for match in PLACEHOLDER.finditer(format_str):
        pattern += re.escape(format_str[position : match.start()])
        name, default = match.group(1), match.group(2)
        if default is None:
            pattern += rf"(?P<{name}>.+?)"
        else:
            defaults[name] = default.strip("\"'")
            pattern = pattern.removesuffix(r"\ ") + rf"(?:\s+(?P<{name}>.+?))?"
        position = match.end()
    pattern += re.escape(format_str[position:])
    pattern = pattern.replace(r"\ ", r"\s+")
    found = re.fullmatch(rf"\s*{pattern}(?P<__extra>(?:\s+\w+=\S+)*)\s*", param_stream, re.S)
    if found is None:
        raise ParseError(f'Command "{param_stream}" doesn\'t match format string "{format_str}"')
    result: dict[str, Any] = dict(defaults)
    for name, value in found.groupdict().items():
        if name != "__extra" and value is not None:
            result[name] = value
    for key, value in KEY_VALUE.findall(found.group("__extra") or ""):
        result[key] = value.strip("\"'")
    return result


class BaseActionAliasTestCase(BasePackResourceTestCase):
    """Set ``action_alias_name``; the alias is read from the pack's ``aliases/`` folder."""

    action_alias_name: str | None = None
    action_alias_db: Any = None

    def setUp(self) -> None:
        super().setUp()
        if not self.action_alias_name:
            raise ValueError('"action_alias_name" class attribute needs to be provided')
        self.action_alias_db = self._get_action_alias_db_by_name(self.action_alias_name)

    def assertCommandMatchesExactlyOneFormatString(
        self, format_strings: list[str], command: str
    ) -> None:
        matched = []
        for format_string in format_strings:
            try:
                extract_parameters(format_string, command)
            except ParseError:
                continue
            matched.append(format_string)
        if not matched:
            raise AssertionError(
                f'Command "{command}" didn\'t match any of the provided format strings'
            )
        if len(matched) > 1:
            raise AssertionError(
                f'Command "{command}" matched multiple format strings: {", ".join(matched)}'
            )

    def assertExtractedParametersMatch(
        self, format_string: str, command: str, parameters: dict[str, Any]
    ) -> None:
        extracted = extract_parameters(format_string, command)
        if extracted != parameters:
            raise AssertionError(
                f'Extracted parameters from command string "{command}" against format string '
                f'"{format_string}" didn\'t match the provided parameters: '
                f"{extracted!r} != {parameters!r}"
            )

    def _get_action_alias_db_by_name(self, name: str) -> dict[str, Any]:
        import yaml  # type: ignore[import-untyped,unused-ignore]

        folder = os.path.join(self._get_base_pack_path(), "aliases")
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if entry.endswith((".yaml", ".yml")):
                with open(os.path.join(folder, entry), encoding="utf-8") as handle:
                    alias = yaml.safe_load(handle) or {}
                if alias.get("name") == name:
                    return dict(alias)
        raise ValueError(f'Alias with name "{name}" not found')
