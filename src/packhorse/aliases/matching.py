"""Which alias a chat command means, and the parameters its execution gets (pure).

StackStorm's rules, from ``st2common`` (``actionalias_matching`` and the alias-execution
controller):

* only enabled aliases take part; every format string of each (a string entry, or each
  ``representation`` of a ``{display, representation}`` entry) is tried;
* exactly one format string may match: none is an error, several is an error (even when they
  belong to one alias); formats with ``match_multiple: true`` are tried only when no other
  matched;
* the execution's parameters are what the format extracted plus the ``key=value`` pairs, then
  the alias's ``immutable_parameters``, which a command may not override; they are cast by
  the action's parameter types (an ``array`` given as text is split on commas);
* the execution's context carries ``action_alias_ref`` (``{id, name}``), ``api_user`` (the
  chat user), ``user`` (the API caller) and ``source_channel``.

Deliberate differences: a group that matched nothing (None) is left out of the parameters
instead of being passed to the action as None; a command longer than :data:`MAX_COMMAND`
characters is refused (some formats take time that grows as a power of the command's length).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packhorse.aliases.formats import (
    FormatError,
    ParseError,
    Representation,
    extract_all,
    extract_parameters,
    matches,
    representations,
)
from packhorse.errors import PackhorseError
from packhorse.model.content import Resource
from packhorse.params.casting import cast_value

__all__ = [
    "MAX_COMMAND",
    "AliasMatch",
    "AliasRefused",
    "CommandNotMatched",
    "alias_context",
    "cast_parameters",
    "execution_parameters",
    "help_strings",
    "match_command",
]


class CommandNotMatched(PackhorseError):
    """No format string, or more than one, matched the command (StackStorm's
    ``ActionAliasAmbiguityException``). ``matches`` holds the ones that did."""

    def __init__(self, message: str, *, command: str, matches: tuple[AliasMatch, ...]) -> None:
        hint = (
            "list the aliases and their formats with 'packhorse alias list'"
            if not matches
            else "make the command more specific, or the formats less overlapping"
        )
        super().__init__(message, hint=hint)
        self.command = command
        self.matches = matches


class AliasRefused(PackhorseError):
    """An alias execution that cannot be made (the format is not the alias's, the command
    does not match it or overrides an immutable parameter), or a command too long to match."""


MAX_COMMAND = 10_000
"""The longest command matched, in characters (StackStorm has no limit)."""


def _check_length(command: str) -> None:
    if len(command) > MAX_COMMAND:
        raise AliasRefused(
            f"the command is {len(command)} characters long; at most {MAX_COMMAND} are matched"
        )


@dataclass(frozen=True, slots=True)
class AliasMatch:
    """One format string of one alias that matched a command."""

    alias: Resource
    representation: Representation

    @property
    def display(self) -> str | None:
        return self.representation.display

    @property
    def format(self) -> str:
        """The format string that matched (StackStorm's ``representation``)."""
        return self.representation.text


def _matches(aliases: Iterable[Resource], command: str, multiple: bool) -> list[AliasMatch]:
    found = []
    for alias in aliases:
        if not alias.enabled:
            continue
        for representation in representations(alias.body.get("formats")):
            if representation.match_multiple is not multiple:
                continue
            try:
                if not matches(representation.text, command):
                    continue
            except FormatError:
                continue
            found.append(AliasMatch(alias, representation))
    return found


def match_command(aliases: Iterable[Resource], command: str) -> AliasMatch:
    """The one format string of the enabled ``aliases`` that matches ``command``. Raises
    :class:`CommandNotMatched` when none or several do, :class:`AliasRefused` when the command
    is longer than :data:`MAX_COMMAND`."""
    _check_length(command)
    candidates = list(aliases)
    found = _matches(candidates, command, multiple=False)
    if len(found) > 1:
        raise CommandNotMatched(
            f"Command '{command}' matched more than 1 pattern",
            command=command,
            matches=tuple(found),
        )
    if not found:
        found = _matches(candidates, command, multiple=True)
        if len(found) > 1:
            raise CommandNotMatched(
                f"Command '{command}' matched more than 1 (multi) pattern",
                command=command,
                matches=tuple(found),
            )
    if not found:
        raise CommandNotMatched(
            f"Command '{command}' matched no patterns", command=command, matches=()
        )
    return found[0]


def execution_parameters(
    alias: Resource,
    format_text: str,
    command: str,
    *,
    immutable: Mapping[str, Any] | None = None,
    multiple: bool = False,
) -> list[dict[str, Any]]:
    """The parameters of each execution ``command`` asks for through ``format_text``: one,
    or with ``multiple`` (a ``match_multiple`` format that :func:`match_command` chose) one
    per match in the command.

    ``immutable`` is the alias's ``immutable_parameters`` once rendered (the caller renders
    their Jinja); None takes them as written. Raises :class:`AliasRefused`.
    """
    _check_length(command)
    if not any(r.text == format_text for r in representations(alias.body.get("formats"))):
        raise AliasRefused(
            f'Format string "{format_text}" is not available on the alias "{alias.name}"'
        )
    try:
        if multiple:
            extracted = extract_all(format_text, command)
        else:
            extracted = [extract_parameters(format_text, command)]
    except (ParseError, FormatError) as error:
        raise AliasRefused(str(error)) from error
    written = alias.body.get("immutable_parameters") or {}
    fixed = dict(written if immutable is None else immutable)
    runs = []
    for values in extracted:
        parameters = {name: value for name, value in values.items() if value is not None}
        overridden = sorted(name for name in written if name in parameters)
        if overridden:
            raise AliasRefused(
                f"Immutable arguments cannot be overriden: {','.join(overridden)}",
                hint="these parameters are fixed by the alias's immutable_parameters",
            )
        runs.append({**parameters, **fixed})
    return runs


def cast_parameters(parameters: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` cast by the types ``schema`` (the action's effective parameter schema)
    declares, as StackStorm casts alias parameters before it requests the execution: the text
    of an ``array`` parameter is split on commas (each item stripped), the other types are cast
    as any parameter is (:func:`packhorse.params.casting.cast_value`); undeclared and untyped
    ones stay as given. Raises :class:`~packhorse.errors.ParameterError`."""
    cast = dict(parameters)
    for name, value in parameters.items():
        spec = schema.get(name)
        if not isinstance(spec, Mapping):
            continue
        if spec.get("type") == "array" and isinstance(value, str):
            cast[name] = [item.strip() for item in value.split(",")]
        else:
            cast[name] = cast_value(name, value, spec)
    return cast


def alias_context(
    alias: Resource,
    *,
    alias_id: str,
    user: str,
    api_user: str | None,
    source_channel: str | None,
) -> dict[str, Any]:
    """The execution context of an alias execution, as StackStorm sets it:
    ``action_alias_ref`` is ``{id, name}`` (what its chatops pack reads the alias back by)."""
    return {
        "action_alias_ref": {"id": alias_id, "name": alias.name},
        "api_user": api_user,
        "user": user,
        "source_channel": source_channel,
    }


def help_strings(
    aliases: Iterable[Resource],
    *,
    search: str = "",
    pack: str | None = None,
    limit: int = 0,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """StackStorm's alias help (what chat's ``!help`` shows): the ``display`` of each format
    entry of the enabled aliases (of ``pack`` only, when given) that ``search`` (a regular
    expression, case-insensitive) finds, each with its pack and the alias's description.
    Returns how many there are and the page ``offset``, ``limit`` (0: all) asks for.
    Raises :class:`AliasRefused` when ``search`` is no regular expression."""
    try:
        wanted = re.compile(search or "", re.IGNORECASE)
    except re.error as error:
        raise AliasRefused(
            f"filter {search!r} is not a valid regular expression: {error}"
        ) from None
    found = []
    for alias in aliases:
        if not alias.enabled or (pack and alias.pack != pack):
            continue
        entries = alias.body.get("formats")
        for entry in entries if isinstance(entries, list) else []:
            display = entry if isinstance(entry, str) else None
            if isinstance(entry, Mapping) and isinstance(entry.get("display"), str):
                display = entry["display"]
            if display and wanted.search(display):
                description = alias.body.get("description") or ""
                found.append({"pack": alias.pack, "display": display, "description": description})
    start = max(offset, 0)
    return len(found), found[start : start + limit] if limit > 0 else found[start:]
