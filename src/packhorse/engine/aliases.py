"""Action aliases as a use case: list and find them, match a command, run what it asks for.

The REST API (``/api/v1/actionalias`` and ``/api/v1/aliasexecution``) and ``packhorse
alias`` both use :class:`AliasService`; the matching itself is pure
(:mod:`packhorse.aliases`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from packhorse.aliases.matching import (
    AliasMatch,
    AliasRefused,
    alias_context,
    cast_parameters,
    execution_parameters,
    match_command,
)
from packhorse.engine.executions import ExecutionService
from packhorse.engine.shapes import object_id, plain
from packhorse.errors import ExpressionError, NotFound
from packhorse.expr import Datastore, render_param_template, render_template
from packhorse.model.content import Kind, Resource
from packhorse.model.execution import Execution
from packhorse.params import schema_for_action
from packhorse.storage.ports import RegistryReader

__all__ = [
    "AliasNotFound",
    "AliasRun",
    "AliasService",
    "ack_message",
    "alias_document",
    "alias_id",
    "find_alias",
    "result_message",
]

Lookup = Callable[[str, str], str | None]
Decrypt = Callable[[str], str]


class AliasNotFound(NotFound):
    """No alias has this name, ref or id (StackStorm's 404 for an alias execution)."""

    def __init__(self, name: str) -> None:
        super().__init__("action alias", name)
        self.message = f'Unable to identify action alias with name "{name}".'
        self.hint = "see 'packhorse alias list'"


def alias_id(ref: str) -> str:
    """The stable id of an alias (24 hex digits, as StackStorm's object ids)."""
    return object_id(Kind.ALIAS.value, ref)


def alias_document(alias: Resource) -> dict[str, Any]:
    """A registered alias as StackStorm's ``ActionAliasAPI``."""
    body = alias.body
    document: dict[str, Any] = {
        "id": alias_id(alias.ref),
        "ref": alias.ref,
        "uid": f"action_alias:{alias.pack}:{alias.name}",
        "name": alias.name,
        "pack": alias.pack,
        "description": body.get("description") or "",
        "enabled": alias.enabled,
        "action_ref": body.get("action_ref", ""),
        "formats": body.get("formats") or [],
        "metadata_file": alias.metadata_file,
    }
    for name in ("ack", "result", "extra", "immutable_parameters"):
        if body.get(name) is not None:
            document[name] = body[name]
    return dict(plain(document))


def ack_message(alias: Resource, result: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` and ``extra`` of the alias's ``ack``, rendered over ``result`` (the
    response's ``execution`` and ``actionalias``) as StackStorm adds them to the answer; a
    template that fails gives StackStorm's "Cannot render" text instead."""
    ack = alias.body.get("ack")
    if not isinstance(ack, Mapping) or not ack:
        return {}
    added: dict[str, Any] = {}
    if "format" in ack:
        try:
            added["message"] = render_template(str(ack["format"]), result)
        except ExpressionError as error:
            added["message"] = f'Cannot render "format" in field "ack" for alias. {error.message}'
    if "extra" in ack:
        try:
            added["extra"] = render_param_template(ack["extra"], result)
        except ExpressionError as error:
            added["extra"] = f'Cannot render "extra" in field "ack" for alias. {error.message}'
    return added


def result_message(alias: Resource, execution: Mapping[str, Any]) -> str | None:
    """The alias's ``result.format`` rendered over a finished execution (its API document)
    and the alias, as StackStorm's chatops pack renders the message it posts back to chat
    (undefined names render empty). None when the alias has no ``result.format`` or its
    ``result`` is disabled."""
    section = alias.body.get("result")
    if not isinstance(section, Mapping) or section.get("enabled") is False:
        return None
    template = section.get("format")
    if not isinstance(template, str):
        return None
    names = {"execution": execution, "alias": alias_document(alias)}
    try:
        return render_template(template, names, strict=False)
    except ExpressionError as error:
        return f'Cannot render "format" in field "result" for alias. {error.message}'


def find_alias(registry: RegistryReader, key: str) -> Resource | None:
    """The alias with this ref or id, else the one alias with this name (StackStorm's alias
    execution names aliases by name)."""
    found = registry.get_resource(Kind.ALIAS, key)
    if found is not None:
        return found
    aliases = registry.list_resources(Kind.ALIAS)
    by_id = [alias for alias in aliases if alias_id(alias.ref) == key]
    by_name = [alias for alias in aliases if alias.name == key]
    if by_id:
        return by_id[0]
    return by_name[0] if len(by_name) == 1 else None


@dataclass(frozen=True, slots=True)
class AliasRun:
    """One execution an alias started."""

    alias: Resource
    execution: Execution


class AliasService:
    """Aliases of the registry, matched and executed through the execution service."""

    def __init__(
        self,
        registry: RegistryReader,
        executions: ExecutionService,
        *,
        lookup: Lookup | None = None,
        decrypt: Decrypt | None = None,
    ) -> None:
        self._registry = registry
        self._executions = executions
        self._lookup = lookup
        self._decrypt = decrypt

    def aliases(self, pack: str | None = None) -> list[Resource]:
        """Registered aliases (enabled or not), sorted by ref."""
        return self._registry.list_resources(Kind.ALIAS, pack or None)

    def find(self, key: str) -> Resource | None:
        """The alias with this ref or id, else the one alias with this name."""
        return find_alias(self._registry, key)

    def context(
        self, alias: Resource, *, user: str, api_user: str | None, source_channel: str | None
    ) -> dict[str, Any]:
        """The context of the alias's executions (StackStorm's)."""
        return alias_context(
            alias,
            alias_id=alias_id(alias.ref),
            user=user,
            api_user=api_user,
            source_channel=source_channel,
        )

    def match(self, command: str) -> AliasMatch:
        """The one enabled alias format matching ``command``
        (:class:`~packhorse.aliases.matching.CommandNotMatched` otherwise)."""
        return match_command(self.aliases(), command)

    def plan(
        self,
        alias: Resource,
        format_text: str,
        command: str,
        context: Mapping[str, Any],
        *,
        multiple: bool = False,
    ) -> list[dict[str, Any]]:
        """The parameters of each execution: immutable parameters rendered, all of them cast
        (one execution, or with ``multiple`` one per match)."""
        immutable = alias.body.get("immutable_parameters") or {}
        rendered = self._render_immutable(immutable, context) if immutable else {}
        runs = execution_parameters(
            alias, format_text, command, immutable=rendered, multiple=multiple
        )
        action_ref = str(alias.body.get("action_ref", ""))
        schema, _ = schema_for_action(self._executions.action(action_ref).body)
        return [cast_parameters(parameters, schema) for parameters in runs]

    def execute(
        self,
        name: str,
        format_text: str,
        command: str,
        *,
        user: str,
        api_user: str | None = None,
        source_channel: str | None = None,
        source_context: Mapping[str, Any] | None = None,
        notification_route: str | None = None,
        multiple: bool = False,
    ) -> list[AliasRun]:
        """Run the alias ``name`` (its name, ref or id) for ``command`` read through
        ``format_text``: one execution, or with ``multiple`` one per match (StackStorm's
        ``match_and_execute`` for a ``match_multiple`` format; its ``aliasexecution`` always
        runs one).

        ``user`` is who asks (the API caller), ``api_user`` the chat user. Raises
        :class:`AliasNotFound`, :class:`~packhorse.aliases.matching.AliasRefused` or what
        the execution service raises (unknown action, bad parameters)."""
        alias = self.find(name)
        if alias is None:
            raise AliasNotFound(name)
        if not alias.enabled:
            raise AliasRefused(f'Action alias with name "{alias.name}" is disabled.')
        # source_context and notification_route only address StackStorm's chat notification
        # (notify.on_complete), which Packhorse does not send (docs/compatibility.md).
        del source_context, notification_route
        context = self.context(alias, user=user, api_user=api_user, source_channel=source_channel)
        action_ref = str(alias.body.get("action_ref", ""))
        runs = self.plan(alias, format_text, command, context, multiple=multiple)
        return [
            AliasRun(
                alias,
                self._executions.request(action_ref, parameters, user=user, context=context),
            )
            for parameters in runs
        ]

    def match_and_execute(
        self,
        command: str,
        *,
        user: str,
        api_user: str | None = None,
        source_channel: str | None = None,
        notification_route: str | None = None,
    ) -> tuple[AliasMatch, list[AliasRun]]:
        """:meth:`match`, then :meth:`execute` with the format that matched."""
        matched = self.match(command)
        runs = self.execute(
            matched.alias.ref,
            matched.format,
            command,
            user=user,
            api_user=api_user,
            source_channel=source_channel,
            notification_route=notification_route,
            multiple=matched.representation.match_multiple,
        )
        return matched, runs

    def _render_immutable(
        self, immutable: Mapping[str, Any], context: Mapping[str, Any]
    ) -> dict[str, Any]:
        names: dict[str, Any] = dict(context)
        if self._lookup is not None:
            user = context.get("api_user") or context.get("user")
            names["st2kv"] = Datastore(
                self._lookup, user=str(user) if user else None, decrypt=self._decrypt
            )
        return {key: render_param_template(value, names) for key, value in immutable.items()}
