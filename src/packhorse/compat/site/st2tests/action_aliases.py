"""``BaseActionAliasTestCase``: an alias's format strings matched against commands.

The matching is Packhorse's one implementation, ``packhorse/aliases/formats.py`` (StackStorm's
grammar: ``{{ name }}``, ``{{ name = default }}``, regex syntax, trailing ``key=value``
pairs). Pack processes cannot import ``packhorse``, so that file (standard library only) is
loaded by its path, two folders above this site folder. The pack's alias files are read with
PyYAML when the pack's virtualenv has it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseActionAliasTestCase"]

_FORMATS_MODULE = "_packhorse_alias_formats"
_FORMATS_FILE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "aliases", "formats.py"
)


def _formats() -> Any:
    module = sys.modules.get(_FORMATS_MODULE)
    if module is None:
        spec = importlib.util.spec_from_file_location(_FORMATS_MODULE, _FORMATS_FILE)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load the alias format parser from {_FORMATS_FILE}")
        module = importlib.util.module_from_spec(spec)
        # Registered before it runs: dataclasses look their module up while it is created.
        sys.modules[_FORMATS_MODULE] = module
        spec.loader.exec_module(module)
    return module


ParseError: type[ValueError] = _formats().ParseError


def extract_parameters(format_str: str, param_stream: str) -> dict[str, Any]:
    """Parameters of ``param_stream`` read through ``format_str`` (``ParseError`` if it does
    not match)."""
    return dict(_formats().extract_parameters(format_str, param_stream))


def _format_strings(alias: dict[str, Any]) -> list[str]:
    return [r.text for r in _formats().representations(alias.get("formats"))]


class AliasDocument(dict):  # type: ignore[type-arg]
    """An alias file's content that also reads as attributes (``alias.formats``), as pack
    tests read StackStorm's ``ActionAliasDB``; fields the file leaves out read as None."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(name)

    def get_format_strings(self) -> list[str]:
        """Every format string: plain entries and each ``representation`` of the others."""
        return _format_strings(self)


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
        if format_string not in _format_strings(self.action_alias_db):
            raise ValueError(
                f'Format string "{format_string}" is not available on the alias '
                f'"{self.action_alias_db.get("name")}"'
            )
        extracted = extract_parameters(format_string, command)
        if extracted != parameters:
            raise AssertionError(
                f'Extracted parameters from command string "{command}" against format string '
                f'"{format_string}" didn\'t match the provided parameters: '
                f"{extracted!r} != {parameters!r}"
            )

    def _get_action_alias_db_by_name(self, name: str) -> AliasDocument:
        import yaml  # type: ignore[import-untyped,unused-ignore]

        folder = os.path.join(self._get_base_pack_path(), "aliases")
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if entry.endswith((".yaml", ".yml")):
                with open(os.path.join(folder, entry), encoding="utf-8") as handle:
                    alias = yaml.safe_load(handle) or {}
                if alias.get("name") == name:
                    return AliasDocument(alias)
        raise ValueError(f'Alias with name "{name}" not found')
